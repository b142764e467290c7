//! The client-side token bucket that paces sends, and the parsing of the server's
//! `RateLimit-Policy` header into a rate it can follow.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::time::Timestamp;

/// The slowest rate worth pacing at: one request an hour. A policy slower than this is
/// absurd for a publishing API and is ignored (the server's 429s still hold the gate).
pub(crate) const MIN_POLICY_RATE_PER_SECOND: f64 = 1.0 / 3600.0;
/// The fastest rate worth pacing at; above it, pacing only costs time.
pub(crate) const MAX_RATE_PER_SECOND: f64 = 1_000_000.0;

/// A send's place in a pacing queue, kept by whoever drives the send between its asks (see
/// [`super::PacingPlace`]): the number it was given when it began waiting.
pub(crate) type Place = Option<u64>;

/// A send told to wait less than [`EXACT_WAIT`] for its turn asks again within this: the rate
/// changes (a slow start doubles it, the server's count raises the tokens), and a send whose
/// turn came sooner must not sleep past it.
const RECHECK: Duration = Duration::from_millis(10);
/// A longer wait at an advertised rate is said as it is, so that a publish can tell at once
/// that a slow pace would outlast its `max_retry_after` (and end, or be deferred, with the true
/// time). A learned rate's waits are always cut: it changes every 100 ms in a slow start.
const EXACT_WAIT: Duration = Duration::from_secs(1);
/// A waiting send's place is kept this long past the time it was told to ask again; one that
/// does not come back by then (its publish was cancelled, or ended) no longer holds the others.
const KEPT_PAST_TURN: Duration = Duration::from_millis(50);

/// A token bucket: `rate` tokens per second, at most `capacity`, one taken per send; and the
/// sends waiting for a token, served in the order they began waiting.
///
/// A send that keeps its place ([`Place`]) goes when there is a token for it and for every
/// send waiting ahead of it (each takes its own when it comes back); a place is kept only while
/// its send keeps asking. A send that keeps none goes only on a token beyond those the waiting
/// sends are owed.
#[derive(Clone, Debug)]
pub(crate) struct TokenBucket {
    rate_per_second: f64,
    capacity: f64,
    tokens: f64,
    updated: Timestamp,
    /// The waiting sends: place → until when it is kept without its send asking again.
    waiting: BTreeMap<u64, Timestamp>,
    /// The last place handed out; this bucket's places are above `first_place`.
    places: u64,
    first_place: u64,
    /// Whether its rate is learned (and changes): every wait is cut to [`RECHECK`].
    learned: bool,
}

/// Where a new bucket's places start: each bucket numbers its own in a range of 2³² no other
/// bucket of the process uses, so a place kept from a bucket since replaced (a policy's
/// bucket after a learned one, a scope forgotten and met again) is never taken for one here.
fn first_place() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1 << 32, Ordering::Relaxed)
}

impl TokenBucket {
    /// A bucket holding `tokens` at `now`.
    pub fn new(rate_per_second: f64, capacity: f64, tokens: f64, now: Timestamp) -> Self {
        let rate_per_second = rate_per_second.clamp(MIN_POLICY_RATE_PER_SECOND, MAX_RATE_PER_SECOND);
        let start = first_place();
        TokenBucket {
            rate_per_second,
            capacity: capacity.max(1.0),
            tokens: tokens.min(capacity.max(1.0)),
            updated: now,
            waiting: BTreeMap::new(),
            places: start,
            first_place: start,
            learned: false,
        }
    }

    /// The same bucket, for a rate that is learned and changes as it learns.
    pub fn learned(self) -> Self {
        TokenBucket { learned: true, ..self }
    }

    pub fn rate_per_second(&self) -> f64 {
        self.rate_per_second
    }

    fn refill(&mut self, now: Timestamp) {
        let elapsed = now.saturating_since(self.updated).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate_per_second).min(self.capacity);
        self.updated = self.updated.max(now);
    }

    /// Changes the rate and capacity from `now` on, keeping the tokens already earned.
    pub fn set_rate(&mut self, now: Timestamp, rate_per_second: f64, capacity: f64) {
        self.refill(now);
        self.rate_per_second = rate_per_second.clamp(MIN_POLICY_RATE_PER_SECOND, MAX_RATE_PER_SECOND);
        self.capacity = capacity.max(1.0);
        self.tokens = self.tokens.min(self.capacity);
    }

    /// At most `tokens` left (the server says so, or a 429 says none).
    pub fn limit_tokens(&mut self, now: Timestamp, tokens: f64) {
        self.refill(now);
        self.tokens = self.tokens.min(tokens);
    }

    /// Exactly `tokens` left, up to the capacity: the server's own count, when it is the
    /// freshest there is.
    pub fn set_tokens(&mut self, now: Timestamp, tokens: f64) {
        self.refill(now);
        self.tokens = tokens.clamp(0.0, self.capacity);
    }

    /// Whether a token is there at `now`: the quota is not spent.
    pub fn has_token(&self, now: Timestamp) -> bool {
        let elapsed = now.saturating_since(self.updated).as_secs_f64();
        self.tokens + elapsed * self.rate_per_second >= 1.0
    }

    /// Returns a token taken for a send that did not happen.
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.capacity);
    }

    /// `None` when the send may go (its token taken), else when to ask again. With `place`,
    /// the send keeps (or is given) its place among the waiting sends.
    pub fn take(&mut self, now: Timestamp, place: Option<&mut Place>) -> Option<Timestamp> {
        self.refill(now);
        self.waiting.retain(|_, kept_until| *kept_until >= now);
        let Some(place) = place else {
            let spare = self.tokens - self.waiting.len() as f64;
            if spare >= 1.0 {
                self.tokens -= 1.0;
                return None;
            }
            return Some(self.when(now, 1.0 - spare));
        };
        let number = match *place {
            Some(number) if number > self.first_place && number <= self.places => number,
            // New, or a place in another bucket (one since replaced).
            _ => {
                self.places += 1;
                *place = Some(self.places);
                self.places
            }
        };
        let ahead = self.waiting.range(..number).count() as f64;
        if self.tokens >= ahead + 1.0 {
            self.tokens -= 1.0;
            self.waiting.remove(&number);
            return None;
        }
        let until = self.when(now, ahead + 1.0 - self.tokens);
        self.waiting.insert(number, until.saturating_add(KEPT_PAST_TURN));
        Some(until)
    }

    /// When `tokens` more will have come; a wait shorter than [`EXACT_WAIT`], or any at a
    /// learned rate, is cut to [`RECHECK`].
    fn when(&self, now: Timestamp, tokens: f64) -> Timestamp {
        let wait_ms = (tokens / self.rate_per_second * 1000.0).ceil().clamp(1.0, u64::MAX as f64);
        let wait = Duration::from_millis(wait_ms as u64);
        let cut = self.learned || wait < EXACT_WAIT;
        now.saturating_add(if cut { wait.min(RECHECK) } else { wait })
    }
}

/// A rate the server advertised.
pub(crate) struct RatePolicy {
    pub rate_per_second: f64,
    pub burst: f64,
    /// A quota per fixed window (no `burst`): what is left is renewed all at once when the
    /// window resets, not a token at a time.
    pub windowed: bool,
}

/// Parses `RateLimit-Policy: <quota>;w=<seconds>[;burst=<n>]`: with a burst a token bucket,
/// without one a quota per fixed window. Anything unreadable, not finite, or slower than one
/// request an hour is ignored.
pub(crate) fn parse_policy(value: &str) -> Option<RatePolicy> {
    let mut parts = value.split(';').map(str::trim);
    let quota = finite(parts.next()?)?;
    let (mut window, mut burst) = (None, None);
    for part in parts {
        match part.split_once('=') {
            Some(("w", w)) => window = finite(w),
            Some(("burst", b)) => burst = finite(b),
            _ => {}
        }
    }
    let window = window.filter(|w| *w > 0.0)?;
    let rate_per_second = quota / window;
    let sensible = quota >= 1.0 && (MIN_POLICY_RATE_PER_SECOND..=MAX_RATE_PER_SECOND).contains(&rate_per_second);
    sensible.then(|| RatePolicy {
        rate_per_second,
        burst: burst.filter(|b| *b >= 1.0).unwrap_or(quota).clamp(1.0, MAX_RATE_PER_SECOND),
        windowed: burst.is_none(),
    })
}

fn finite(text: &str) -> Option<f64> {
    text.trim().parse::<f64>().ok().filter(|v| v.is_finite() && *v >= 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_policies_are_ignored() {
        for absurd in ["1;w=10000000", "0;w=1", "1e308;w=1e-308", "NaN;w=1", "5;w=0", "inf;w=1", "10"] {
            assert!(parse_policy(absurd).is_none(), "{absurd}");
        }
        let policy = parse_policy("100;w=60;burst=5").unwrap();
        assert!((policy.rate_per_second - 100.0 / 60.0).abs() < 1e-9);
        assert_eq!(policy.burst, 5.0);
        assert!(!policy.windowed, "a burst makes it a token bucket");
        let window = parse_policy("20;w=10").unwrap();
        assert_eq!((window.burst, window.windowed), (20.0, true));
    }

    #[test]
    fn a_bucket_paces_at_its_rate() {
        let t0 = Timestamp::from_millis(1_000_000);
        let mut bucket = TokenBucket::new(200.0, 1.0, 0.0, t0);
        assert_eq!(bucket.take(t0, None), Some(t0.saturating_add(Duration::from_millis(5))));
        assert_eq!(bucket.take(t0.saturating_add(Duration::from_millis(5)), None), None);
        // A short wait is asked again within RECHECK (the rate may change meanwhile); a long
        // one is said as it is.
        let mut paced = TokenBucket::new(10.0, 1.0, 0.0, t0);
        assert_eq!(paced.take(t0, None), Some(t0.saturating_add(RECHECK)));
        let mut slow = TokenBucket::new(25.0 / 86_400.0, 25.0, 0.0, t0);
        assert_eq!(slow.take(t0, None), Some(t0.saturating_add(Duration::from_millis(3_456_000))));
        // A learned rate's, never (it changes as it learns).
        let mut learned = TokenBucket::new(0.5, 1.0, 0.0, t0).learned();
        assert_eq!(learned.take(t0, None), Some(t0.saturating_add(RECHECK)));
    }

    #[test]
    fn waiting_sends_go_in_the_order_they_began_waiting_and_a_gone_one_holds_no_one() {
        let t0 = Timestamp::from_millis(1_000_000);
        let at = |ms| t0.saturating_add(Duration::from_millis(ms));
        let mut bucket = TokenBucket::new(100.0, 1.0, 0.0, t0);
        let mut places = [None; 3];
        for place in places.iter_mut() {
            assert!(bucket.take(at(0), Some(place)).is_some(), "no token yet");
        }
        // At 10 ms one token: the last to begin waiting asks first and waits; the first goes.
        assert!(bucket.take(at(10), Some(&mut places[2])).is_some());
        assert_eq!(bucket.take(at(10), Some(&mut places[0])), None);
        // A newcomer without a place waits behind the two still waiting.
        assert!(bucket.take(at(12), None).is_some());
        // The second does not come back: while its place is kept, the third waits behind it…
        assert!(bucket.take(at(20), Some(&mut places[2])).is_some(), "the second's turn");
        // …and once it is not (KEPT_PAST_TURN after it was due to ask), the third goes.
        assert_eq!(bucket.take(at(61), Some(&mut places[2])), None);
    }
}
