//! Limits shared by every publish of one client: the rate-limit gate (hold everyone on a 429,
//! pace by the server's `RateLimit-*` headers) and the retry budget (stop multiplying load
//! during an outage). Pure logic: the client wraps [`SharedLimits`] and asks it before sends.

use std::sync::Mutex;
use std::time::Duration;

use crate::event::WaitReason;
use crate::machine::NextSend;
use crate::response::Response;
use crate::time::Timestamp;

/// The answer to "may this send go now?".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send now.
    Go,
    /// Ask again at `until`.
    WaitUntil {
        /// When to ask again.
        until: Timestamp,
        /// Why.
        reason: WaitReason,
    },
    /// Do not send: the retry budget is empty and configured to fail.
    Refuse,
}

/// How often a waiter re-checks a budget that successes elsewhere can refill.
const RECHECK: Duration = Duration::from_millis(100);
/// How often a waiter re-checks whether the probe has answered (about one round trip).
const PROBE_RECHECK: Duration = Duration::from_millis(5);
/// A first request that has not answered within this long no longer holds the others.
const PROBE_PATIENCE: Duration = Duration::from_secs(2);
/// Pacing runs this much below the server's advertised rate, to absorb clock drift.
const PACING_MARGIN: f64 = 0.97;

#[derive(Clone, Copy, Debug)]
enum Probe {
    /// Nothing sent yet: the first send probes the server's limits.
    Unknown,
    /// The first send is in flight; others wait for its headers.
    InFlight { since: Timestamp },
    /// The server's answer is known (with or without pacing).
    Known,
}

#[derive(Clone, Copy, Debug)]
struct Pacer {
    rate_per_ms: f64,
    burst: f64,
    tokens: f64,
    updated: Timestamp,
}

impl Pacer {
    fn refill(&mut self, now: Timestamp) {
        let elapsed = now.as_millis().saturating_sub(self.updated.as_millis()) as f64;
        self.tokens = (self.tokens + elapsed * self.rate_per_ms).min(self.burst);
        self.updated = self.updated.max(now);
    }
}

/// The shared rate-limit gate.
///
/// - On a 429, every publish holds until its Retry-After has passed.
/// - The server's `RateLimit-Policy: <quota>;w=<seconds>[;burst=<n>]` with
///   `RateLimit-Remaining` turns on proactive pacing at the advertised rate (a client-side
///   token bucket kept in step with the server's remaining count).
/// - Without a policy, `RateLimit-Remaining: 0` holds everyone until `RateLimit-Reset`.
/// - Until the first answer arrives, only one request is sent, so a burst of publishes does
///   not hit an unknown limit all at once (the probe waits at most 2 s for that answer).
#[derive(Clone, Debug)]
pub struct RateLimitGate {
    hold_until: Timestamp,
    probe: Probe,
    pacer: Option<Pacer>,
}

impl Default for RateLimitGate {
    fn default() -> Self {
        RateLimitGate { hold_until: Timestamp::EPOCH, probe: Probe::Unknown, pacer: None }
    }
}

impl RateLimitGate {
    /// May a request go at `now`? A `Go` takes a pacing token.
    pub fn admit(&mut self, now: Timestamp) -> Admission {
        let hold = |until| Admission::WaitUntil { until, reason: WaitReason::RateLimitGate };
        if now < self.hold_until {
            return hold(self.hold_until);
        }
        match self.probe {
            Probe::Unknown => {
                self.probe = Probe::InFlight { since: now };
                return Admission::Go;
            }
            Probe::InFlight { since } if now.saturating_since(since) < PROBE_PATIENCE => {
                return hold(now.saturating_add(PROBE_RECHECK));
            }
            Probe::InFlight { .. } => self.probe = Probe::Known,
            Probe::Known => {}
        }
        if let Some(pacer) = &mut self.pacer {
            pacer.refill(now);
            if pacer.tokens < 1.0 {
                let wait_ms = ((1.0 - pacer.tokens) / pacer.rate_per_ms).ceil().max(1.0) as u64;
                return hold(now.saturating_add(Duration::from_millis(wait_ms)));
            }
            pacer.tokens -= 1.0;
        }
        Admission::Go
    }

    /// Learns from a response: 429 holds, `RateLimit-*` headers pace.
    pub fn on_response(&mut self, now: Timestamp, response: &Response) {
        self.probe = Probe::Known;
        let number = |name: &str| response.header(name).and_then(|v| v.trim().parse::<f64>().ok()).filter(|v| v.is_finite() && *v >= 0.0);
        let remaining = number("ratelimit-remaining");
        if let Some(policy) = response.header("ratelimit-policy").and_then(parse_policy) {
            let pacer = self.pacer.get_or_insert(Pacer {
                rate_per_ms: 0.0,
                burst: policy.burst,
                tokens: remaining.unwrap_or(policy.burst),
                updated: now,
            });
            pacer.refill(now);
            pacer.rate_per_ms = policy.rate_per_ms * PACING_MARGIN;
            pacer.burst = policy.burst;
            if let Some(remaining) = remaining {
                pacer.tokens = pacer.tokens.min(remaining);
            }
        } else if remaining == Some(0.0) {
            if let Some(reset) = number("ratelimit-reset") {
                self.hold(now.saturating_add(Duration::from_secs_f64(reset.min(3600.0))));
            }
        }
        if response.status == 429 {
            if let Some(pacer) = &mut self.pacer {
                pacer.tokens = pacer.tokens.min(0.0);
            }
            if let Some(wait) = response.retry_after(now) {
                self.hold(now.saturating_add(wait.min(Duration::from_secs(3600))));
            }
        }
    }

    /// Learns that a request failed without a response: a failed probe lets the next send probe.
    pub fn on_transport_failure(&mut self) {
        if matches!(self.probe, Probe::InFlight { .. }) {
            self.probe = Probe::Unknown;
        }
    }

    /// Holds every request until `until`.
    pub fn hold(&mut self, until: Timestamp) {
        self.hold_until = self.hold_until.max(until);
    }
}

struct RatePolicy {
    rate_per_ms: f64,
    burst: f64,
}

/// Parses `<quota>;w=<seconds>[;burst=<n>]`.
fn parse_policy(value: &str) -> Option<RatePolicy> {
    let mut parts = value.split(';').map(str::trim);
    let quota: f64 = parts.next()?.parse().ok()?;
    let (mut window, mut burst) = (None, None);
    for part in parts {
        match part.split_once('=') {
            Some(("w", w)) => window = w.trim().parse::<f64>().ok(),
            Some(("burst", b)) => burst = b.trim().parse::<f64>().ok(),
            _ => {}
        }
    }
    let window = window.filter(|w| *w > 0.0)?;
    (quota > 0.0 && quota.is_finite()).then(|| RatePolicy {
        rate_per_ms: quota / (window * 1000.0),
        burst: burst.filter(|b| *b >= 1.0).unwrap_or(quota).max(1.0),
    })
}

/// What a retry does when the budget is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenBudgetEmpty {
    /// Wait until the budget has tokens again.
    Wait,
    /// End the publish with `Transient` (retry budget exhausted).
    Fail,
}

/// The retry budget's settings. See [`RetryBudget`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RetryBudgetConfig {
    /// Tokens the bucket holds, and starts with; default 100.
    pub capacity: f64,
    /// Tokens one retry takes; default 1.
    pub retry_cost: f64,
    /// Tokens one retry after a timeout takes; default 2 (a slow server is hurt most by retries).
    pub timeout_retry_cost: f64,
    /// Tokens a successful response returns; default 2.
    pub success_deposit: f64,
    /// Tokens added per second regardless; default 2.
    pub refill_per_second: f64,
    /// Wait or fail when empty; default wait.
    pub when_empty: WhenBudgetEmpty,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            capacity: 100.0,
            retry_cost: 1.0,
            timeout_retry_cost: 2.0,
            success_deposit: 2.0,
            refill_per_second: 2.0,
            when_empty: WhenBudgetEmpty::Wait,
        }
    }
}

/// A token bucket that retries draw from, shared by all publishes of a client (as in the AWS
/// SDKs' standard retry mode and gRPC's retry throttling). First attempts are free.
///
/// Why these defaults: a healthy client keeps the bucket full, since every success deposits
/// more than a retry costs. During a full outage the bucket allows a burst of 100 retries and
/// then 2 retries/s, so a thousand stuck posts add a trickle of load instead of five times the
/// load. On recovery, each success funds two more retries, so the backlog drains in a number
/// of round trips that grows with the logarithm of its size, not linearly.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    config: RetryBudgetConfig,
    tokens: f64,
    updated: Option<Timestamp>,
}

impl RetryBudget {
    /// A full budget.
    pub fn new(config: RetryBudgetConfig) -> Self {
        RetryBudget { tokens: config.capacity, config, updated: None }
    }

    /// The tokens left at the last update.
    pub fn tokens(&self) -> f64 {
        self.tokens
    }

    fn refill(&mut self, now: Timestamp) {
        if let Some(updated) = self.updated {
            let seconds = now.saturating_since(updated).as_secs_f64();
            self.tokens = (self.tokens + seconds * self.config.refill_per_second).min(self.config.capacity);
        }
        self.updated = Some(self.updated.map_or(now, |u| u.max(now)));
    }

    fn cost(&self, after_timeout: bool) -> f64 {
        if after_timeout { self.config.timeout_retry_cost } else { self.config.retry_cost }
    }

    /// May a retry go at `now`? Takes nothing: call [`RetryBudget::take`] when it is sent.
    pub fn check_retry(&mut self, now: Timestamp, after_timeout: bool) -> Admission {
        self.refill(now);
        let cost = self.cost(after_timeout);
        if self.tokens >= cost {
            return Admission::Go;
        }
        match self.config.when_empty {
            WhenBudgetEmpty::Fail => Admission::Refuse,
            WhenBudgetEmpty::Wait => {
                let refill_wait = if self.config.refill_per_second > 0.0 {
                    Duration::from_secs_f64(((cost - self.tokens) / self.config.refill_per_second).min(3600.0))
                } else {
                    RECHECK
                };
                // Re-check soon: successes elsewhere may refill the bucket before time does.
                Admission::WaitUntil { until: now.saturating_add(refill_wait.min(RECHECK)), reason: WaitReason::RetryBudget }
            }
        }
    }

    /// Takes a retry's cost.
    pub fn take(&mut self, after_timeout: bool) {
        self.tokens -= self.cost(after_timeout);
    }

    /// Records a successful response (any 2xx).
    pub fn on_success(&mut self, now: Timestamp) {
        self.refill(now);
        self.tokens = (self.tokens + self.config.success_deposit).min(self.config.capacity);
    }
}

/// The gate and the budget of one client, behind one lock (never held across an await).
#[derive(Debug)]
pub struct SharedLimits {
    inner: Mutex<(RateLimitGate, RetryBudget)>,
}

impl SharedLimits {
    /// Limits with a fresh gate and a full budget.
    pub fn new(budget: RetryBudgetConfig) -> Self {
        SharedLimits { inner: Mutex::new((RateLimitGate::default(), RetryBudget::new(budget))) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (RateLimitGate, RetryBudget)> {
        // The state is plain numbers: a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// May this send go at `now`? Retries need the budget's tokens, and every send the gate's
    /// leave; tokens are taken only when the send goes.
    pub fn admit(&self, now: Timestamp, next: NextSend) -> Admission {
        let mut guard = self.lock();
        let (gate, budget) = &mut *guard;
        if next.is_retry {
            match budget.check_retry(now, next.after_timeout) {
                Admission::Go => {}
                other => return other,
            }
        }
        let admission = gate.admit(now);
        if admission == Admission::Go && next.is_retry {
            budget.take(next.after_timeout);
        }
        admission
    }

    /// Learns from a response.
    pub fn on_response(&self, now: Timestamp, response: &Response) {
        let mut guard = self.lock();
        guard.0.on_response(now, response);
        if (200..300).contains(&response.status) {
            guard.1.on_success(now);
        }
    }

    /// Learns from a transport failure.
    pub fn on_transport_failure(&self) {
        self.lock().0.on_transport_failure();
    }

    /// Tokens left in the retry budget.
    pub fn budget_tokens(&self) -> f64 {
        self.lock().1.tokens()
    }
}
