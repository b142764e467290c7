//! The simulator's state: the idempotency store, published posts, platform counts, scripts,
//! rate-limit buckets, outages, the fault generator and the counters.

use bytes::Bytes;
use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::{FaultRates, RateLimitConfig, SimConfig};
use crate::script::ScriptAction;
use crate::stats::Stats;

/// A completed answer, replayed byte-for-byte.
#[derive(Clone, Debug)]
pub(crate) struct StoredAnswer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

pub(crate) enum Entry {
    InProgress,
    Completed { fingerprint: String, answer: StoredAnswer, at: Instant },
}

pub(crate) struct StoredPost {
    pub workspace: String,
    pub idempotency_key: String,
    pub status: &'static str,
    pub body: serde_json::Value,
}

pub(crate) struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The verdict of a rate limit (a workspace's, an account's) for one request.
#[derive(Clone)]
pub(crate) struct RateVerdict {
    pub allowed: bool,
    pub headers: Vec<(String, String)>,
    pub retry_after_secs: u64,
    /// Requests left before it refuses.
    pub remaining: u64,
}

pub(crate) struct Inner {
    pub config: SimConfig,
    pub entries: HashMap<(String, String), Entry>,
    pub posts: HashMap<String, StoredPost>,
    pub scripts: HashMap<String, VecDeque<ScriptAction>>,
    pub platform: HashMap<String, u64>,
    /// When the first request under each idempotency key arrived.
    pub first_seen: HashMap<String, Instant>,
    pub buckets: HashMap<String, Bucket>,
    pub accounts: crate::accounts::AccountLimits,
    pub outage: Option<(Instant, Instant)>,
    pub rng: Pcg64Mcg,
    pub next_id: u64,
    /// Publish requests being answered now.
    pub in_flight: u64,
    pub stats: Stats,
    inserts_since_sweep: u64,
}

/// A fault drawn for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DrawnFault {
    None,
    ServerError(u16),
    RateLimited,
    Reset,
    DropAfterCommit,
    SlowCommit,
}

pub(crate) struct State {
    inner: Mutex<Inner>,
}

impl State {
    pub fn new(config: SimConfig) -> Self {
        State {
            inner: Mutex::new(Inner {
                rng: Pcg64Mcg::seed_from_u64(config.seed),
                config,
                entries: HashMap::new(),
                posts: HashMap::new(),
                scripts: HashMap::new(),
                platform: HashMap::new(),
                first_seen: HashMap::new(),
                buckets: HashMap::new(),
                accounts: crate::accounts::AccountLimits::new(Instant::now()),
                outage: None,
                next_id: 0,
                in_flight: 0,
                stats: Stats::default(),
                inserts_since_sweep: 0,
            }),
        }
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    /// Clears everything but the configuration, and restarts the fault generator.
    pub fn reset(&mut self) {
        let config = self.config.clone();
        *self = State::new(config).inner.into_inner().unwrap_or_else(|p| p.into_inner());
    }

    pub fn snapshot(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.platform_publishes = self.platform.values().sum();
        stats.published_keys = self.platform.len() as u64;
        stats.duplicate_keys = self.platform.iter().filter(|(_, n)| **n > 1).map(|(k, _)| k.clone()).collect();
        stats.duplicate_keys.sort();
        stats
    }

    pub fn count_answer(&mut self, status: u16) {
        *self.stats.by_status.entry(status).or_default() += 1;
        if status == 429 {
            self.stats.rate_limited += 1;
        }
    }

    pub fn in_outage(&mut self, now: Instant) -> bool {
        match self.outage {
            Some((_, end)) if now >= end => {
                self.outage = None;
                false
            }
            Some((start, _)) => now >= start,
            None => false,
        }
    }

    fn uniform(&mut self) -> f64 {
        (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn draw_fault(&mut self) -> DrawnFault {
        let rates: FaultRates = self.config.faults.clone();
        let roll = self.uniform();
        let mut edge = 0.0;
        let mut hit = |p: f64| {
            edge += p;
            roll < edge
        };
        if hit(rates.server_error) {
            let statuses = [500, 502, 503, 504];
            return DrawnFault::ServerError(statuses[(self.rng.next_u64() % 4) as usize]);
        }
        if hit(rates.rate_limited) {
            return DrawnFault::RateLimited;
        }
        if hit(rates.reset_before) {
            return DrawnFault::Reset;
        }
        if hit(rates.drop_after_commit) {
            return DrawnFault::DropAfterCommit;
        }
        if hit(rates.slow_commit) {
            return DrawnFault::SlowCommit;
        }
        DrawnFault::None
    }

    pub fn draw_latency(&mut self) -> Option<Duration> {
        let rates = &self.config.faults;
        let (p, ms) = (rates.latency, rates.latency_ms);
        (p > 0.0 && ms > 0 && self.uniform() < p).then(|| Duration::from_millis(ms))
    }

    /// Checks one request of `account` (`platform/accountId`) against the per-account limits.
    pub fn account_limit(&mut self, account: &str, now: Instant) -> Option<RateVerdict> {
        let Inner { accounts, config, .. } = self;
        accounts.check(config, account, now)
    }

    /// Gives `account` back what its limits took for a request that was refused elsewhere.
    pub fn refund_account(&mut self, account: &str, now: Instant) {
        let Inner { accounts, config, .. } = self;
        accounts.refund(config, account, now);
    }

    /// Takes a token from `workspace`'s bucket, if a rate limit is configured.
    pub fn rate_limit(&mut self, workspace: &str, now: Instant) -> Option<RateVerdict> {
        let RateLimitConfig { rate_per_second: rate, burst } = self.config.rate_limit?;
        let burst = f64::from(burst.max(1));
        let bucket = self.buckets.entry(workspace.to_owned()).or_insert(Bucket { tokens: burst, updated: now });
        bucket.tokens = (bucket.tokens + now.saturating_duration_since(bucket.updated).as_secs_f64() * rate).min(burst);
        bucket.updated = bucket.updated.max(now);
        let allowed = bucket.tokens >= 1.0;
        if allowed {
            bucket.tokens -= 1.0;
        }
        let tokens = bucket.tokens;
        let reset = ((burst - tokens) / rate).ceil().max(0.0) as u64;
        let retry_after_secs = ((1.0 - tokens) / rate).ceil().max(1.0) as u64;
        if !self.config.rate_limit_headers {
            let remaining = tokens.max(0.0).floor() as u64;
            return Some(RateVerdict { allowed, headers: Vec::new(), retry_after_secs, remaining });
        }
        Some(RateVerdict {
            allowed,
            headers: vec![
                ("RateLimit-Limit".into(), format!("{}", burst as u64)),
                ("RateLimit-Remaining".into(), format!("{}", tokens.max(0.0).floor() as u64)),
                ("RateLimit-Reset".into(), reset.to_string()),
                ("RateLimit-Policy".into(), format!("{rate};w=1;burst={}", burst as u64)),
                // The limit is the workspace's: every account's posts wait on it.
                ("RateLimit-Scope".into(), "workspace".into()),
            ],
            retry_after_secs,
            remaining: tokens.max(0.0).floor() as u64,
        })
    }

    /// The entry for a key, dropping it if its retention has passed.
    pub fn live_entry(&mut self, key: &(String, String), now: Instant) -> Option<&Entry> {
        let retention = self.config.retention;
        if let Some(Entry::Completed { at, .. }) = self.entries.get(key) {
            if now.saturating_duration_since(*at) >= retention {
                self.entries.remove(key);
            }
        }
        self.entries.get(key)
    }

    /// Publishes to "the underlying network": one genuine publish, counted per key.
    pub fn commit(
        &mut self,
        workspace: &str,
        key: &str,
        post: &postato_core::Post,
        body: serde_json::Value,
    ) -> (String, &'static str) {
        self.next_id += 1;
        let id = format!("post_{:08}", self.next_id);
        let status = match post.status {
            postato_core::PostStatus::Publish => "published",
            postato_core::PostStatus::Scheduled => "scheduled",
            postato_core::PostStatus::Draft => "draft",
        };
        *self.platform.entry(key.to_owned()).or_default() += 1;
        self.posts.insert(
            id.clone(),
            StoredPost { workspace: workspace.to_owned(), idempotency_key: key.to_owned(), status, body },
        );
        (id, status)
    }

    /// Stores a completed answer for replay.
    pub fn complete(&mut self, key: (String, String), fingerprint: String, answer: StoredAnswer, now: Instant) {
        self.entries.insert(key, Entry::Completed { fingerprint, answer, at: now });
        self.inserts_since_sweep += 1;
        if self.inserts_since_sweep >= 10_000 {
            self.inserts_since_sweep = 0;
            let retention = self.config.retention;
            self.entries.retain(|_, e| match e {
                Entry::Completed { at, .. } => now.saturating_duration_since(*at) < retention,
                Entry::InProgress => true,
            });
        }
    }
}
