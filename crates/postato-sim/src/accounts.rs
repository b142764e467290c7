//! Limits per account, beside the workspace's: what social platforms impose per user. Each
//! account (`platform/accountId` of the post) may have a token bucket (requests per second), a
//! quota (requests per fixed window, such as 25 per day), and be spent outright for a while
//! (every request answered 429 until then). A refusal names its scope (`RateLimit-Scope:
//! account`, and `error.scope` in the body), so a client holds that account alone.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::config::{QuotaConfig, RateLimitConfig, SimConfig};
use crate::state::RateVerdict;

/// The per-account limiters' state.
pub(crate) struct AccountLimits {
    started: Instant,
    buckets: HashMap<String, (f64, Instant)>,
    /// Per account: the window it is in (its index from `started`) and requests in it.
    windows: HashMap<String, (u64, u32)>,
}

impl AccountLimits {
    pub fn new(now: Instant) -> Self {
        AccountLimits { started: now, buckets: HashMap::new(), windows: HashMap::new() }
    }

    /// Checks one request of `account` against its limits: `None` when none is configured,
    /// else the first refusal, or the tightest allowance with its headers.
    pub fn check(&mut self, config: &SimConfig, account: &str, now: Instant) -> Option<RateVerdict> {
        if let Some(secs) = config.spent_accounts.get(account) {
            let until = self.started + Duration::from_secs(*secs);
            if now < until {
                let left = until.saturating_duration_since(now).as_secs_f64().ceil().max(1.0) as u64;
                let headers = if config.rate_limit_headers { scope_only() } else { Vec::new() };
                return Some(RateVerdict { allowed: false, headers, retry_after_secs: left, remaining: 0 });
            }
        }
        let quota = config.account_quota.map(|quota| self.take_quota(quota, account, now));
        if let Some(verdict) = quota.as_ref().filter(|v| !v.allowed) {
            return Some(with_headers(config, verdict.clone()));
        }
        let rate = config.account_rate_limit.map(|rate| self.take_token(rate, account, now));
        let verdict = match (quota, rate) {
            (quota, Some(rate)) if !rate.allowed => {
                // Refused by the rate: the quota keeps what it took.
                if quota.is_some() {
                    if let Some((_, used)) = self.windows.get_mut(account) {
                        *used = used.saturating_sub(1);
                    }
                }
                rate
            }
            (Some(quota), Some(rate)) => {
                if quota.remaining <= rate.remaining {
                    quota
                } else {
                    rate
                }
            }
            (Some(verdict), None) | (None, Some(verdict)) => verdict,
            (None, None) => return None,
        };
        Some(with_headers(config, verdict))
    }

    /// Gives back what [`AccountLimits::check`] took for a request refused elsewhere (the
    /// workspace's limit).
    pub fn refund(&mut self, config: &SimConfig, account: &str, now: Instant) {
        if let (Some(quota), Some((index, used))) = (config.account_quota, self.windows.get_mut(account)) {
            let window = quota.window.max(Duration::from_millis(1));
            let current = (now.saturating_duration_since(self.started).as_millis() / window.as_millis()) as u64;
            if *index == current {
                *used = used.saturating_sub(1);
            }
        }
        if let (Some(rate), Some((tokens, _))) = (config.account_rate_limit, self.buckets.get_mut(account)) {
            *tokens = (*tokens + 1.0).min(f64::from(rate.burst.max(1)));
        }
    }

    fn take_quota(&mut self, quota: QuotaConfig, account: &str, now: Instant) -> Limited {
        let window = quota.window.max(Duration::from_millis(1));
        let elapsed = now.saturating_duration_since(self.started);
        let index = (elapsed.as_millis() / window.as_millis()) as u64;
        let entry = self.windows.entry(account.to_owned()).or_insert((index, 0));
        if entry.0 != index {
            *entry = (index, 0);
        }
        let allowed = entry.1 < quota.limit;
        if allowed {
            entry.1 += 1;
        }
        let window_end = self.started + window * (index as u32 + 1);
        let reset = window_end.saturating_duration_since(now).as_secs_f64().ceil().max(1.0) as u64;
        Limited {
            allowed,
            remaining: u64::from(quota.limit - entry.1.min(quota.limit)),
            limit: u64::from(quota.limit),
            reset_secs: reset,
            retry_after_secs: reset,
            policy: format!("{};w={}", quota.limit, window.as_secs().max(1)),
        }
    }

    fn take_token(&mut self, rate: RateLimitConfig, account: &str, now: Instant) -> Limited {
        let burst = f64::from(rate.burst.max(1));
        let per_second = rate.rate_per_second;
        let (tokens, updated) = self.buckets.entry(account.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*updated).as_secs_f64() * per_second).min(burst);
        *updated = (*updated).max(now);
        let allowed = *tokens >= 1.0;
        if allowed {
            *tokens -= 1.0;
        }
        Limited {
            allowed,
            remaining: tokens.max(0.0).floor() as u64,
            limit: burst as u64,
            reset_secs: ((burst - *tokens) / per_second).ceil().max(0.0) as u64,
            retry_after_secs: ((1.0 - *tokens) / per_second).ceil().max(1.0) as u64,
            policy: format!("{per_second};w=1;burst={}", burst as u64),
        }
    }
}

/// One limiter's answer.
#[derive(Clone)]
struct Limited {
    allowed: bool,
    remaining: u64,
    limit: u64,
    reset_secs: u64,
    retry_after_secs: u64,
    policy: String,
}

fn scope_only() -> Vec<(String, String)> {
    vec![("RateLimit-Scope".into(), "account".into())]
}

/// The verdict, with `RateLimit-*` headers for the account's scope unless they are off (a bare
/// limiter names its scope only in its 429's body).
fn with_headers(config: &SimConfig, limited: Limited) -> RateVerdict {
    let mut headers = Vec::new();
    if config.rate_limit_headers {
        headers = scope_only();
        headers.extend([
            ("RateLimit-Limit".into(), limited.limit.to_string()),
            ("RateLimit-Remaining".into(), limited.remaining.to_string()),
            ("RateLimit-Reset".into(), limited.reset_secs.to_string()),
            ("RateLimit-Policy".into(), limited.policy),
        ]);
    }
    RateVerdict {
        allowed: limited.allowed,
        headers,
        retry_after_secs: limited.retry_after_secs,
        remaining: limited.remaining,
    }
}
