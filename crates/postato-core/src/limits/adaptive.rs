//! The adaptive send rate: what the gate learns from bare 429s when the server does not
//! advertise its limit (no `RateLimit-Policy`). In the spirit of the AWS SDKs' adaptive retry
//! mode: a client-side token bucket whose rate drops on throttling and climbs back CUBIC-style.
//!
//! - **Detection.** One 429 proves little (a server may shed a request at random); a
//!   throttle is at least 3 of the last 50 answers and 15 % of them being 429s. A server that
//!   sheds a few requests at random (5 %) therefore never slows the client down for long.
//! - **Slow start.** After a hold of the gate (when not already pacing), and on a detected
//!   throttle, the client paces at the success rate of the second before and doubles that
//!   rate every 100 ms, until the requests it sends meet 429s.
//! - **Fit.** Below a token-bucket server's rate its bucket stays full; once the slow start
//!   passes that rate it drains the burst, and the first 429 comes. When it came, given the
//!   burst seen before the first throttle, tells where the slow start passed the server's
//!   rate (see [`fit_rate`]), fitted at the slow start's second 429. Pacing goes on at 93 % of
//!   that rate, levelling off at 97 %.
//! - **Steady.** Between throttles the rate follows CUBIC (relative to the rate, so it is the
//!   same at 10/s and 10,000/s): flat near the rate that last throttled, growing beyond it
//!   slowly, cut to 90 % at the next throttle.
//!
//! A slow start that doubles past a million requests a second turns pacing off again: a
//! throttle that was noise costs nothing lasting.

use std::time::Duration;

use super::pacer::{Place, TokenBucket, MAX_RATE_PER_SECOND};
use crate::time::Timestamp;

/// The answers whose 429 share decides whether the server throttles.
const DETECTION_WINDOW: usize = 50;
/// At least this many 429s in the window…
const DETECTION_MIN_THROTTLES: usize = 3;
/// …and at least this share of the answers in it.
const DETECTION_SHARE: f64 = 0.15;
/// The slow start doubles its rate this often.
const DOUBLING: Duration = Duration::from_millis(100);
/// The rate never goes below one request a second.
const MIN_RATE: f64 = 1.0;
/// The rate after a throttle, as a share of the rate that throttled (CUBIC's β).
const BETA: f64 = 0.9;
/// After a fit, pacing starts at 93 % of the fitted rate and levels off at 97 %: the fit is
/// exact for a token bucket on a virtual clock, but real timers wake late, so the slow start
/// sends a little less than its curve and the fit may come out high (measured on a real
/// clock: 2 % low to 4 % high, against the simulator and against governor's limiter). A pace
/// a little above the server's rate meets a few 429s: with a Retry-After of at most 1 s they
/// hold no one (see `gate.rs`); a longer one holds the scope for its time, as CUBIC's probing
/// past the plateau soon would anyway (on the simulation's virtual clock, a bare limiter that
/// answers `Retry-After: 5` gave the same run with 90 % and 93 % as with these).
const FITTED_START: f64 = 0.93;
const FITTED_PLATEAU: f64 = 0.97;
/// CUBIC's growth, relative to the rate it levels off at (per s³): back to it 4.7 s after a
/// fit and 6.3 s after a cut, beyond it slowly (+5 % another 5 s later). Relative, so a client
/// paced at 10/s probes as patiently as one at 10,000/s.
const CUBIC_C: f64 = 0.0004;
/// How far ahead a bucket may save tokens: bursts of 10 ms worth of the rate, and never less
/// than two requests, so a waiter that wakes a little late (timers are coarse) does not lose
/// the token it waited for.
const BURST_SECONDS: f64 = 0.01;
const MIN_BURST: f64 = 2.0;

/// The learned state.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// No throttling seen: no pacing.
    Off,
    /// Pacing at a rate that doubles every 100 ms from `since`.
    SlowStart {
        since: Timestamp,
        start_rate: f64,
        /// Successes in the second before the throttle: the server's burst, roughly.
        burst: f64,
        /// When the first 429 after `since` arrived.
        first_throttle: Option<Timestamp>,
    },
    /// Pacing around `w_max`, the rate that last throttled, CUBIC-style: `start` at `since`,
    /// flat near `w_max`, growing beyond it.
    Steady { w_max: f64, start: f64, since: Timestamp },
}

/// The last answers: which were 429s.
#[derive(Clone, Debug)]
struct RecentAnswers {
    throttled: [bool; DETECTION_WINDOW],
    next: usize,
    len: usize,
}

impl RecentAnswers {
    fn push(&mut self, throttled: bool) {
        self.throttled[self.next] = throttled;
        self.next = (self.next + 1) % DETECTION_WINDOW;
        self.len = (self.len + 1).min(DETECTION_WINDOW);
    }

    fn shows_throttling(&self) -> bool {
        let throttles = self.throttled.iter().take(self.len).filter(|t| **t).count();
        throttles >= DETECTION_MIN_THROTTLES && throttles as f64 >= DETECTION_SHARE * self.len as f64
    }

    fn clear(&mut self) {
        *self = RecentAnswers::default();
    }
}

impl Default for RecentAnswers {
    fn default() -> Self {
        RecentAnswers { throttled: [false; DETECTION_WINDOW], next: 0, len: 0 }
    }
}

/// Successes in the last second, counted in two half-second buckets (numbered from the first
/// success, so the count never depends on where the clock started).
#[derive(Clone, Copy, Debug, Default)]
struct SuccessRate {
    origin: Option<Timestamp>,
    bucket: u64,
    current: u64,
    previous: u64,
}

impl SuccessRate {
    fn roll(&mut self, now: Timestamp) {
        let origin = *self.origin.get_or_insert(now);
        let bucket = now.as_millis().saturating_sub(origin.as_millis()) / 500;
        if bucket > self.bucket {
            self.previous = if bucket == self.bucket + 1 { self.current } else { 0 };
            self.current = 0;
            self.bucket = bucket;
        }
    }

    fn add(&mut self, now: Timestamp) {
        self.roll(now);
        self.current += 1;
    }

    fn last_second(&mut self, now: Timestamp) -> f64 {
        self.roll(now);
        (self.current + self.previous) as f64
    }
}

/// The adaptive send rate of one client.
#[derive(Clone, Debug)]
pub(crate) struct AdaptiveRate {
    phase: Phase,
    recent: RecentAnswers,
    successes: SuccessRate,
    bucket: Option<TokenBucket>,
}

impl Default for AdaptiveRate {
    fn default() -> Self {
        AdaptiveRate {
            phase: Phase::Off,
            recent: RecentAnswers::default(),
            successes: SuccessRate::default(),
            bucket: None,
        }
    }
}

impl AdaptiveRate {
    /// Whether the client paces itself.
    pub fn is_pacing(&self) -> bool {
        !matches!(self.phase, Phase::Off)
    }

    /// The current rate in requests per second, when pacing.
    pub fn rate(&self, now: Timestamp) -> Option<f64> {
        match self.phase {
            Phase::Off => None,
            Phase::SlowStart { since, start_rate, .. } => {
                let doublings = now.saturating_since(since).as_secs_f64() / DOUBLING.as_secs_f64();
                Some(start_rate * 2f64.powf(doublings.min(64.0)))
            }
            Phase::Steady { w_max, start, since } => {
                let t = now.saturating_since(since).as_secs_f64();
                let k = ((1.0 - start / w_max).max(0.0) / CUBIC_C).cbrt();
                Some(w_max * (1.0 + CUBIC_C * (t - k).powi(3)))
            }
        }
        .map(|rate| rate.clamp(MIN_RATE, MAX_RATE_PER_SECOND))
    }

    /// May a request go at `now`? `None` takes a token; `Some(t)`: ask again at `t`. With
    /// `place`, the request keeps its place in the queue (see `TokenBucket::take`).
    pub fn admit(&mut self, now: Timestamp, place: Option<&mut Place>) -> Option<Timestamp> {
        let rate = self.rate(now)?;
        if rate >= MAX_RATE_PER_SECOND {
            // A slow start that ran this far was started by noise: stop pacing.
            self.phase = Phase::Off;
            self.bucket = None;
            return None;
        }
        let capacity = (rate * BURST_SECONDS).max(MIN_BURST);
        let bucket = self.bucket.get_or_insert_with(|| TokenBucket::new(rate, capacity, 1.0, now).learned());
        bucket.set_rate(now, rate, capacity);
        bucket.take(now, place)
    }

    /// Returns the token [`AdaptiveRate::admit`] took for a send that did not happen.
    pub fn give_back(&mut self) {
        if let (true, Some(bucket)) = (self.is_pacing(), &mut self.bucket) {
            bucket.give_back();
        }
    }

    /// Learns from an answer that was not a 429.
    pub fn on_success(&mut self, now: Timestamp) {
        self.recent.push(false);
        self.successes.add(now);
    }

    /// Learns from a 429 to a request sent at `sent_at`. `resume_at` is when the gate lets
    /// requests go again. Returns whether this 429 showed throttling (and the rate changed).
    pub fn on_throttle(&mut self, now: Timestamp, sent_at: Timestamp, resume_at: Timestamp) -> bool {
        self.recent.push(true);
        let mut second_in_slow_start = false;
        if let Phase::SlowStart { since, first_throttle, .. } = &mut self.phase {
            // Only requests the slow start sent tell where it passed the server's rate.
            if sent_at >= *since {
                second_in_slow_start = first_throttle.is_some();
                first_throttle.get_or_insert(now);
            }
        }
        // A slow start doubles its rate: a second 429 in it is the limit, not noise.
        if !second_in_slow_start && !self.recent.shows_throttling() {
            return false;
        }
        self.recent.clear();
        self.throttled(now, resume_at);
        true
    }

    /// The gate holds everyone until `until`: afterwards, start slowly, measuring.
    pub fn on_hold(&mut self, now: Timestamp, until: Timestamp) {
        if !self.is_pacing() {
            self.throttled(now, until);
        }
    }

    fn throttled(&mut self, now: Timestamp, resume_at: Timestamp) {
        let current = self.rate(now);
        self.phase = match self.phase {
            Phase::Off => {
                let burst = self.successes.last_second(now);
                Phase::SlowStart {
                    since: resume_at.max(now),
                    start_rate: burst.max(MIN_RATE),
                    burst,
                    first_throttle: None,
                }
            }
            Phase::SlowStart { since, start_rate, burst, first_throttle, .. } => {
                match first_throttle.and_then(|at| fit_rate(start_rate, since, at, burst)) {
                    Some(fitted) => {
                        Phase::Steady { w_max: fitted * FITTED_PLATEAU, start: fitted * FITTED_START, since: now }
                    }
                    None => {
                        let w_max = current.map_or(MIN_RATE, |r| r / 2.0).max(MIN_RATE);
                        Phase::Steady { w_max, start: w_max * BETA, since: now }
                    }
                }
            }
            Phase::Steady { .. } => {
                let w_max = current.unwrap_or(MIN_RATE);
                Phase::Steady { w_max, start: w_max * BETA, since: now }
            }
        };
        // The server has no tokens for us now: wait one interval at the new rate.
        let rate = self.rate(now);
        if let (Some(bucket), Some(rate)) = (&mut self.bucket, rate) {
            bucket.set_rate(now, rate, (rate * BURST_SECONDS).max(MIN_BURST));
            bucket.limit_tokens(now, 0.0);
        }
    }
}

/// The rate of a token-bucket server that first refused the slow start at `at`.
///
/// The slow start sent `N(t) = r0·D/ln 2·(2^(t/D) − 1)` requests by `t`. Below the server's
/// rate `R` its bucket stays full (`burst` tokens); from the moment `tc` the slow start's rate
/// `r(tc)` passes `R`, it drains the bucket at `r − R`, so the first refusal comes when
/// `N(at) − N(tc) − R·(at − tc) = burst`. That equation falls as `tc` grows, so bisection finds
/// `tc`, and `R = r(tc)`. `None` when the slow start ran too briefly to tell.
fn fit_rate(start_rate: f64, since: Timestamp, at: Timestamp, burst: f64) -> Option<f64> {
    let t1 = at.saturating_since(since).as_secs_f64();
    let d = DOUBLING.as_secs_f64();
    if t1 < d / 2.0 {
        return None;
    }
    let rate = |t: f64| start_rate * 2f64.powf((t / d).min(64.0));
    let sent = |t: f64| start_rate * d / std::f64::consts::LN_2 * (2f64.powf((t / d).min(64.0)) - 1.0);
    let excess = |tc: f64| sent(t1) - sent(tc) - rate(tc) * (t1 - tc) - burst.max(1.0);
    if excess(0.0) <= 0.0 {
        // Refused before even the burst was spent: the bucket was not full. Guess low.
        return Some((sent(t1) / t1 / 2.0).max(MIN_RATE));
    }
    let (mut low, mut high) = (0.0, t1);
    for _ in 0..40 {
        let mid = (low + high) / 2.0;
        if excess(mid) > 0.0 {
            low = mid;
        } else {
            high = mid;
        }
    }
    Some(rate(low).max(MIN_RATE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(1_000_000 + ms)
    }

    #[test]
    fn a_lone_429_is_noise_and_a_cluster_is_throttling() {
        let mut rate = AdaptiveRate::default();
        for _ in 0..40 {
            rate.on_success(at(0));
        }
        assert!(!rate.on_throttle(at(0), at(0), at(1_000)));
        assert!(!rate.on_throttle(at(0), at(0), at(1_000)));
        assert!(!rate.is_pacing());
        for _ in 0..6 {
            rate.on_throttle(at(0), at(0), at(1_000));
        }
        assert!(rate.is_pacing());
        assert_eq!(rate.rate(at(1_000)), Some(40.0), "starts at the last second's success rate");
        assert_eq!(rate.rate(at(1_100)), Some(80.0), "and doubles every 100 ms");
    }

    /// Drives `rate` against a token bucket of `server_rate`/s and `burst`, a request whenever
    /// it admits one, for `millis`; returns the 429s.
    fn against_token_bucket(rate: &mut AdaptiveRate, from: u64, millis: u64, server_rate: f64, burst: f64) -> usize {
        let (mut tokens, mut throttles) = (burst, 0);
        for ms in from..from + millis {
            tokens = (tokens + server_rate / 1000.0).min(burst);
            while rate.admit(at(ms), None).is_none() {
                if tokens >= 1.0 {
                    tokens -= 1.0;
                    rate.on_success(at(ms));
                } else {
                    throttles += 1;
                    rate.on_throttle(at(ms), at(ms), at(ms));
                }
            }
        }
        throttles
    }

    #[test]
    fn the_slow_start_fits_the_servers_rate() {
        // (rate, burst, the least share of the rate it must find): a burst of one request
        // leaves the fit a handful of requests to go by, so it errs low (and safe).
        for (server_rate, burst, least) in [(100.0, 10.0, 0.85), (1_000.0, 50.0, 0.85), (20.0, 1.0, 0.5)] {
            let mut rate = AdaptiveRate::default();
            for _ in 0..burst as u64 {
                rate.on_success(at(0));
            }
            for _ in 0..3 {
                rate.on_throttle(at(0), at(0), at(1_000));
            }
            let throttles = against_token_bucket(&mut rate, 1_000, 3_000, server_rate, burst);
            let paced = rate.rate(at(4_000)).unwrap();
            assert!(paced > least * server_rate && paced < 1.05 * server_rate, "{paced} for {server_rate}");
            assert!(throttles <= 12, "{throttles} 429s learning {server_rate}");
        }
    }

    #[test]
    fn a_slow_start_started_by_noise_ends() {
        let mut rate = AdaptiveRate::default();
        for _ in 0..3 {
            rate.on_throttle(at(0), at(0), at(0));
        }
        assert!(rate.is_pacing());
        assert_eq!(rate.admit(at(10_000), None), None);
        assert!(!rate.is_pacing());
    }
}
