//! A rate-limit gate: every send asks its account scope's and the workspace's first (see
//! `scope.rs`). It holds every post of its scope on a 429, probes with one request before
//! letting the others go, paces by the server's `RateLimit-*` headers when it sends them and
//! by an adaptive rate learned from 429s when it does not.

use std::time::Duration;

use super::adaptive::AdaptiveRate;
use super::pacer::{parse_policy, Place, TokenBucket};
use super::Admission;
use crate::event::WaitReason;
use crate::response::Response;
use crate::time::Timestamp;

/// How often a request waiting for the probe's answer re-checks.
const WINDOW_RECHECK: Duration = Duration::from_millis(1);
/// A window that has not moved for this long lets more requests go (a hung probe must not
/// hold the others for its whole timeout).
const PROBE_PATIENCE: Duration = Duration::from_secs(2);
/// A window this wide no longer limits anything: it opens.
const WINDOW_OPEN: u32 = 1024;
/// Pacing by a policy runs this much below the server's advertised rate, for clock drift.
const PACING_MARGIN: f64 = 0.97;
/// Once the client paces itself, a 429 whose Retry-After is at most this slows the pace
/// instead of holding everyone (the publish that got it still waits its Retry-After).
const SHORT_RETRY_AFTER: Duration = Duration::from_secs(1);
/// `RateLimit-Reset` and Retry-After holds are cut here; publishes stop waiting long before
/// (at their `max_retry_after`).
const MAX_HOLD: Duration = Duration::from_secs(3600);

/// How many requests may be in flight while the server's limits are unknown: one (the probe)
/// at first and after every hold, then one more for every answer, until it opens.
#[derive(Clone, Copy, Debug)]
struct SendWindow {
    /// `None` once open.
    limit: Option<u32>,
    /// Answers to requests sent before this were sent before the window began: not probes.
    from: Timestamp,
    /// When the limit last changed or, at first, when the probe went.
    changed: Option<Timestamp>,
    /// Whether a request went in the window's first millisecond: the probe, which has it alone.
    probed: bool,
}

impl SendWindow {
    fn probe_from(from: Timestamp) -> Self {
        SendWindow { limit: Some(1), from, changed: None, probed: false }
    }

    /// Whether `now` is in the window's first millisecond.
    fn in_first_millisecond(&self, now: Timestamp) -> bool {
        now < self.from.saturating_add(Duration::from_millis(1))
    }

    /// Whether one more request may go with `in_flight` already out. In the window's first
    /// millisecond only the probe goes, even when it was answered at once (its own retry too).
    fn admits(&mut self, now: Timestamp, in_flight: u32) -> bool {
        let Some(limit) = self.limit else { return true };
        if self.probed && self.in_first_millisecond(now) {
            return false;
        }
        let changed = *self.changed.get_or_insert(now);
        if in_flight < limit {
            return true;
        }
        if now.saturating_since(changed) >= PROBE_PATIENCE {
            self.limit = Some(limit.saturating_mul(2).max(in_flight + 1));
            self.changed = Some(now);
            return true;
        }
        false
    }

    /// An answer to a request sent at `sent_at` lets one more go, except in the window's first
    /// millisecond: that one belongs to the probe alone.
    fn on_answer(&mut self, now: Timestamp, sent_at: Timestamp) {
        if let Some(limit) = self.limit.filter(|_| sent_at >= self.from && now > self.from) {
            self.limit = (limit < WINDOW_OPEN).then_some(limit + 1);
            self.changed = Some(now);
        }
    }
}

/// What the gate knows, for metrics and tests.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct GateSnapshot {
    /// Every send waits until this time (a 429, `RateLimit-Remaining: 0`); in the past when
    /// nothing holds.
    pub hold_until: Timestamp,
    /// The rate the client paces itself at, requests per second: from `RateLimit-Policy`, or
    /// learned from 429s; `None` when it does not pace.
    pub pacing_rate: Option<f64>,
    /// Requests sent and not yet answered.
    pub in_flight: u32,
}

/// The rate-limit gate of one scope (an account, or the workspace).
///
/// - **Holds.** A 429 holds every publish of the scope until its Retry-After (missing,
///   unreadable or zero: the policy's default, 1 s); so does `RateLimit-Remaining: 0` with
///   `RateLimit-Reset` when no policy is advertised. Once the client paces itself, a 429 with
///   a Retry-After of at most 1 s slows the pace instead of holding the scope.
/// - **Probe.** At first and after every hold, one request goes alone; each answer lets one
///   more go beside it, so the others follow spread, never all at once (a probe that has not
///   answered within 2 s stops holding them).
/// - **Pacing.** `RateLimit-Policy: <quota>;w=<seconds>[;burst=<n>]` with
///   `RateLimit-Remaining` paces at 97 % of the advertised rate, and lets go at once as many
///   requests as the latest answer says are left (policies slower than one request an hour,
///   or unreadable, are ignored). A quota per window (no `burst`) spent to 0 holds until its
///   `RateLimit-Reset`. Without a policy the gate learns a rate from 429s (see
///   `limits/adaptive.rs`). Requests waiting for the pace go in the order they began waiting
///   (with [`SharedLimits::admit_in_turn`](super::SharedLimits::admit_in_turn)).
///
/// The gate bounds nothing by itself: a publish ends `rate_limited` rather than wait on it
/// longer than its policy's `max_retry_after` (see `PublishMachine::poll_with`).
#[derive(Clone, Debug)]
pub struct RateLimitGate {
    hold_until: Timestamp,
    window: SendWindow,
    policy: Option<TokenBucket>,
    adaptive: AdaptiveRate,
    default_retry_after: Duration,
    in_flight: u32,
    /// When the latest request whose answer set the policy's count of what is left was sent.
    counted_up_to: Timestamp,
    /// The window as it was before the last `Go`: [`RateLimitGate::revoke`] puts it back, so
    /// an ask another gate refused starts no patience clock here.
    window_before_admit: SendWindow,
}

impl Default for RateLimitGate {
    fn default() -> Self {
        RateLimitGate::new(crate::defaults::DEFAULT_RETRY_AFTER)
    }
}

impl RateLimitGate {
    /// A gate that holds for `default_retry_after` on a 429 without a readable Retry-After.
    pub fn new(default_retry_after: Duration) -> Self {
        RateLimitGate {
            hold_until: Timestamp::EPOCH,
            window: SendWindow::probe_from(Timestamp::EPOCH),
            policy: None,
            adaptive: AdaptiveRate::default(),
            default_retry_after,
            in_flight: 0,
            counted_up_to: Timestamp::EPOCH,
            window_before_admit: SendWindow::probe_from(Timestamp::EPOCH),
        }
    }

    /// What the gate knows at `now`.
    pub fn snapshot(&self, now: Timestamp) -> GateSnapshot {
        let pacing_rate = match &self.policy {
            Some(bucket) => Some(bucket.rate_per_second()),
            None => self.adaptive.rate(now),
        };
        GateSnapshot { hold_until: self.hold_until, pacing_rate, in_flight: self.in_flight }
    }

    /// May a request go at `now`? A `Go` counts it as in flight until
    /// [`on_response`](Self::on_response), [`on_transport_failure`](Self::on_transport_failure)
    /// or [`on_abandoned`](Self::on_abandoned).
    pub fn admit(&mut self, now: Timestamp) -> Admission {
        self.admit_in_turn(now, None)
    }

    /// As [`admit`](Self::admit), the request keeping `place` in the pacing queue between
    /// asks: waiting for the pace, it is served in the order it began waiting.
    pub(crate) fn admit_in_turn(&mut self, now: Timestamp, place: Option<&mut Place>) -> Admission {
        let wait = |until, reason| Admission::WaitUntil { until, reason };
        if now < self.hold_until {
            return wait(self.hold_until, WaitReason::RateLimitGate);
        }
        self.window_before_admit = self.window;
        if !self.window.admits(now, self.in_flight) {
            return wait(now.saturating_add(WINDOW_RECHECK), WaitReason::Probe);
        }
        let paced = match &mut self.policy {
            Some(bucket) => bucket.take(now, place),
            None => self.adaptive.admit(now, place),
        };
        if let Some(until) = paced {
            return wait(until, WaitReason::Pacing);
        }
        if self.window.in_first_millisecond(now) {
            self.window.probed = true;
        }
        self.in_flight += 1;
        Admission::Go
    }

    /// Learns from the response to a request sent at `sent_at`: 429s hold or slow the pace,
    /// `RateLimit-*` headers pace, answers widen the probe window.
    pub fn on_response(&mut self, now: Timestamp, sent_at: Timestamp, response: &Response) {
        self.in_flight = self.in_flight.saturating_sub(1);
        let number = |name: &str| {
            response.header(name).and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0)
        };
        let remaining = number("ratelimit-remaining");
        let reset = number("ratelimit-reset").map(|reset| Duration::from_secs_f64(reset.min(MAX_HOLD.as_secs_f64())));
        let policy = response.header("ratelimit-policy").and_then(parse_policy);
        if let Some(policy) = &policy {
            let rate = policy.rate_per_second * PACING_MARGIN;
            let bucket = self
                .policy
                .get_or_insert_with(|| TokenBucket::new(rate, policy.burst, remaining.unwrap_or(policy.burst), now));
            bucket.set_rate(now, rate, policy.burst);
            if let Some(remaining) = remaining {
                // A window's quota is renewed all at once: the answer to the request sent last
                // counts every request before it, so what it says is left may go at once, but
                // for the requests still in flight (perhaps not yet counted), when the server
                // says whose quota it is (one it leaves unnamed may be the workspace's, which
                // every account's gate would then spend). A token bucket's count, and an older
                // answer, only ever lower ours (the bucket refills as the server's does).
                let named = response.limit_scope().is_some();
                if policy.windowed && named && sent_at > self.counted_up_to {
                    self.counted_up_to = sent_at;
                    bucket.set_tokens(now, remaining - f64::from(self.in_flight));
                } else {
                    bucket.limit_tokens(now, remaining);
                }
            }
        }
        // A spent quota comes back when its window resets (a token bucket's, a token at a
        // time, is paced above).
        let spent_until_reset = policy.as_ref().is_none_or(|policy| policy.windowed);
        if spent_until_reset && remaining == Some(0.0) && response.status != 429 {
            if let Some(reset) = reset {
                self.hold(now, now.saturating_add(reset));
            }
        }
        // A wait asked on another answer (a 503's Retry-After) is asked of every request in
        // this scope, not only of the one it answered: they hold too, and one held past its
        // bound ends (or is deferred) without a request.
        let asked = (500..600).contains(&response.status).then(|| response.retry_after(now)).flatten();
        if let Some(wait) = asked.filter(|wait| *wait >= Duration::from_millis(1)) {
            self.hold(now, now.saturating_add(wait.min(MAX_HOLD)));
        }
        if response.status == 429 {
            self.on_throttle(now, sent_at, response);
        } else {
            self.window.on_answer(now, sent_at);
            self.adaptive.on_success(now);
        }
    }

    fn on_throttle(&mut self, now: Timestamp, sent_at: Timestamp, response: &Response) {
        let retry_after = response.rate_limit_wait(now, self.default_retry_after).min(MAX_HOLD);
        let resume_at = now.saturating_add(retry_after);
        if let Some(bucket) = &mut self.policy {
            bucket.limit_tokens(now, 0.0);
            self.hold(now, resume_at);
            return;
        }
        if sent_at < self.window.from {
            // Sent before the current hold began: it says nothing the hold does not.
            self.hold(now, resume_at);
            return;
        }
        let paced_before = self.adaptive.is_pacing();
        self.adaptive.on_throttle(now, sent_at, resume_at);
        if !paced_before || retry_after > SHORT_RETRY_AFTER {
            self.hold(now, resume_at);
        }
    }

    /// Takes back a `Go` whose send did not happen (another gate made it wait): it leaves the
    /// flight, and the pacing token it took is returned, so a send waiting on one gate never
    /// spends another's pace.
    pub fn revoke(&mut self) {
        self.window = self.window_before_admit;
        self.in_flight = self.in_flight.saturating_sub(1);
        match &mut self.policy {
            Some(bucket) => bucket.give_back(),
            None => self.adaptive.give_back(),
        }
    }

    /// Settles a request sent at `sent_at` whose answer is charged to another gate (an
    /// account's 429 at the workspace's gate, say): it leaves the flight and widens the probe
    /// window as any answer does (this gate's limit let it through); nothing else is learned.
    pub fn on_answer_charged_elsewhere(&mut self, now: Timestamp, sent_at: Timestamp, status: u16) {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.window.on_answer(now, sent_at);
        if status != 429 {
            self.adaptive.on_success(now);
        }
    }

    /// Whether nothing is held at `now`, nothing is in flight and no advertised quota is spent
    /// (a `RateLimit-Policy` bucket without a token): a gate forgotten then loses only a pace
    /// (a fresh one probes first, and learns it again).
    pub fn is_idle(&self, now: Timestamp) -> bool {
        self.in_flight == 0 && now >= self.hold_until && self.policy.as_ref().is_none_or(|bucket| bucket.has_token(now))
    }

    /// Until when the gate holds, if it holds at `now`: asked before taking anything of
    /// another gate.
    pub fn holding_until(&self, now: Timestamp) -> Option<Timestamp> {
        (now < self.hold_until).then_some(self.hold_until)
    }

    /// Learns that a request sent at `sent_at` failed without a response.
    pub fn on_transport_failure(&mut self, _sent_at: Timestamp) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Learns that a request in flight was abandoned (its publish was cancelled or dropped).
    pub fn on_abandoned(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    /// Holds every request until `until`; afterwards one probes first and the rest follow,
    /// one more beside it for every answer, paced by a slow start unless the gate already
    /// paces (see `limits/adaptive.rs`).
    pub fn hold(&mut self, now: Timestamp, until: Timestamp) {
        if until <= self.hold_until || until <= now {
            return;
        }
        self.hold_until = until;
        self.window = SendWindow::probe_from(until);
        if self.policy.is_none() {
            self.adaptive.on_hold(now, until);
        }
    }
}
