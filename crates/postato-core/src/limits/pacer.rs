//! The client-side token bucket that paces sends, and the parsing of the server's
//! `RateLimit-Policy` header into a rate it can follow.

use std::time::Duration;

use crate::time::Timestamp;

/// The slowest rate worth pacing at: one request an hour. A policy slower than this is
/// absurd for a publishing API and is ignored (the server's 429s still hold the gate).
pub(crate) const MIN_POLICY_RATE_PER_SECOND: f64 = 1.0 / 3600.0;
/// The fastest rate worth pacing at; above it, pacing only costs time.
pub(crate) const MAX_RATE_PER_SECOND: f64 = 1_000_000.0;

/// A token bucket: `rate` tokens per second, at most `capacity`, one taken per send.
#[derive(Clone, Copy, Debug)]
pub(crate) struct TokenBucket {
    rate_per_second: f64,
    capacity: f64,
    tokens: f64,
    updated: Timestamp,
}

impl TokenBucket {
    /// A bucket holding `tokens` at `now`.
    pub fn new(rate_per_second: f64, capacity: f64, tokens: f64, now: Timestamp) -> Self {
        let rate_per_second = rate_per_second.clamp(MIN_POLICY_RATE_PER_SECOND, MAX_RATE_PER_SECOND);
        TokenBucket {
            rate_per_second,
            capacity: capacity.max(1.0),
            tokens: tokens.min(capacity.max(1.0)),
            updated: now,
        }
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

    /// Whether a token is there at `now`: the quota is not spent.
    pub fn has_token(&self, now: Timestamp) -> bool {
        let elapsed = now.saturating_since(self.updated).as_secs_f64();
        self.tokens + elapsed * self.rate_per_second >= 1.0
    }

    /// Returns a token taken for a send that did not happen.
    pub fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.capacity);
    }

    /// `None` when a token is there (and takes it), else when to ask again.
    pub fn take(&mut self, now: Timestamp) -> Option<Timestamp> {
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            return None;
        }
        let wait_ms = ((1.0 - self.tokens) / self.rate_per_second * 1000.0).ceil().max(1.0);
        Some(now.saturating_add(Duration::from_millis(wait_ms as u64)))
    }
}

/// A rate the server advertised.
pub(crate) struct RatePolicy {
    pub rate_per_second: f64,
    pub burst: f64,
}

/// Parses `RateLimit-Policy: <quota>;w=<seconds>[;burst=<n>]`. Anything unreadable, not
/// finite, or slower than one request an hour is ignored.
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
    }

    #[test]
    fn a_bucket_paces_at_its_rate() {
        let t0 = Timestamp::from_millis(1_000_000);
        let mut bucket = TokenBucket::new(10.0, 1.0, 0.0, t0);
        assert_eq!(bucket.take(t0), Some(t0.saturating_add(Duration::from_millis(100))));
        assert_eq!(bucket.take(t0.saturating_add(Duration::from_millis(100))), None);
    }
}
