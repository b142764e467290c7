//! The simulator's configuration: who may call it, idempotency settings, rate limits, faults.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The API key the simulator accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "sk_test_postato";

/// How the simulator behaves. `SimConfig::default()` is a faithful, fault-free API on a free
/// loopback port.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SimConfig {
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Accepted bearer API keys.
    pub api_keys: Vec<String>,
    /// Whether a POST without `Idempotency-Key` is rejected with 400 (default true).
    pub require_idempotency_key: bool,
    /// How long a stored response is replayed (default 24 h).
    #[serde(with = "millis")]
    pub retention: Duration,
    /// An optional per-workspace rate limit.
    pub rate_limit: Option<RateLimitConfig>,
    /// Whether the rate limits (the workspace's and the accounts') advertise themselves with
    /// `RateLimit-*` headers (default true); false makes bare limiters that say only
    /// `Retry-After` on their 429s (each 429 still names its scope, `account` or `workspace`,
    /// in the body's `error.scope`, as docs/openapi.json says).
    pub rate_limit_headers: bool,
    /// A token bucket per account (the post's `platform/accountId`), beside the workspace's.
    pub account_rate_limit: Option<RateLimitConfig>,
    /// A quota per account: at most `limit` requests per `window`.
    pub account_quota: Option<QuotaConfig>,
    /// Accounts (`platform/accountId`) whose every request is answered 429 for this many
    /// seconds from the simulator's start (a spent daily quota), with the time left as
    /// `Retry-After`.
    pub spent_accounts: BTreeMap<String, u64>,
    /// Probabilistic faults.
    pub faults: FaultRates,
    /// The seed of the fault generator: the same seed and requests give the same faults.
    pub seed: u64,
    /// Whether the `/_sim/` admin API is served (default true).
    pub admin: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            port: 0,
            api_keys: vec![DEFAULT_API_KEY.to_owned()],
            require_idempotency_key: true,
            retention: Duration::from_secs(24 * 3600),
            rate_limit: None,
            rate_limit_headers: true,
            account_rate_limit: None,
            account_quota: None,
            spent_accounts: BTreeMap::new(),
            faults: FaultRates::default(),
            seed: 0,
            admin: true,
        }
    }
}

/// A token bucket per workspace: `rate_per_second` tokens added per second, at most `burst`.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimitConfig {
    /// Requests per second.
    pub rate_per_second: f64,
    /// The bucket's size.
    pub burst: u32,
}

/// A quota: at most `limit` requests per `window`, in fixed windows from the simulator's start
/// (as a daily quota resets at midnight).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaConfig {
    /// Requests per window.
    pub limit: u32,
    /// The window.
    #[serde(with = "millis")]
    pub window: Duration,
}

impl std::str::FromStr for QuotaConfig {
    type Err = String;

    /// `N/WINDOW`: `25/24h`, `20/10s`, `100/15m`, `1000/1d`.
    fn from_str(text: &str) -> Result<Self, String> {
        let wrong = || format!("{text:?} is not a quota: give N/WINDOW, such as 25/24h, 20/10s or 100/15m");
        let (limit, window) = text.split_once('/').ok_or_else(wrong)?;
        let limit: u32 = limit.trim().parse().ok().filter(|n| *n > 0).ok_or_else(wrong)?;
        let window = window.trim();
        let split = window.find(|c: char| !c.is_ascii_digit()).ok_or_else(wrong)?;
        let (amount, unit) = window.split_at(split);
        let amount: u64 = amount.parse().ok().filter(|n| *n > 0).ok_or_else(wrong)?;
        let seconds = match unit {
            "ms" => return Ok(QuotaConfig { limit, window: Duration::from_millis(amount) }),
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return Err(wrong()),
        };
        Ok(QuotaConfig { limit, window: Duration::from_secs(amount.saturating_mul(seconds)) })
    }
}

/// Probabilities (0 to 1) of each fault, drawn per request from the seeded generator.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct FaultRates {
    /// Answer 500, 502, 503 or 504 (evenly) before processing.
    pub server_error: f64,
    /// Answer 429 with `Retry-After` (`rate_limited_retry_after_secs`) before processing.
    pub rate_limited: f64,
    /// The Retry-After of those 429s, in seconds (default 0 means 1).
    pub rate_limited_retry_after_secs: u64,
    /// Close the connection before processing.
    pub reset_before: f64,
    /// Publish and store the response, then close the connection without answering.
    pub drop_after_commit: f64,
    /// Take `slow_commit_ms` to publish (a client with a shorter timeout retries meanwhile).
    pub slow_commit: f64,
    /// How long a slow commit takes, in ms (default 0 means 2,000).
    pub slow_commit_ms: u64,
    /// Add `latency_ms` before answering.
    pub latency: f64,
    /// The added latency in ms.
    pub latency_ms: u64,
}

impl FaultRates {
    /// Checks that every probability is in [0, 1] and they add up to at most 1 (latency aside).
    pub fn validate(&self) -> Result<(), String> {
        let named = [
            ("serverError", self.server_error),
            ("rateLimited", self.rate_limited),
            ("resetBefore", self.reset_before),
            ("dropAfterCommit", self.drop_after_commit),
            ("slowCommit", self.slow_commit),
            ("latency", self.latency),
        ];
        for (name, p) in named {
            if !(0.0..=1.0).contains(&p) {
                return Err(format!("fault rate {name} is {p}: give a probability from 0 to 1"));
            }
        }
        let total: f64 = named[..5].iter().map(|(_, p)| p).sum();
        if total > 1.0 + 1e-9 {
            return Err(format!("fault rates add up to {total}: they must add up to at most 1"));
        }
        Ok(())
    }

    pub(crate) fn rate_limited_retry_after(&self) -> u64 {
        self.rate_limited_retry_after_secs.max(1)
    }

    pub(crate) fn slow_commit_duration(&self) -> Duration {
        Duration::from_millis(if self.slow_commit_ms == 0 { 2_000 } else { self.slow_commit_ms })
    }
}

/// Durations as whole milliseconds in JSON.
pub(crate) mod millis {
    use serde::{Deserialize, Deserializer, Serializer};
    use std::time::Duration;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}
