//! Scopes: where a server puts its limits. Every post belongs to its workspace and, within it,
//! to its `(platform, accountId)`; social platforms limit each account on windows of their own
//! (an account's daily quota), so each account has a rate-limit gate of its own, kept in a
//! table that forgets idle accounts so that a campaign over any number of them stays small.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::gate::RateLimitGate;
use crate::post::Post;
use crate::time::Timestamp;

/// The account a post is published through: its platform and account id. Limits the server
/// puts on one account are charged to its scope and never delay another account's posts.
/// Cheap to clone: its names are shared.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Scope {
    platform: Arc<str>,
    account_id: Arc<str>,
}

impl Scope {
    /// The scope of `account_id` on `platform`.
    pub fn new(platform: &str, account_id: &str) -> Self {
        Scope { platform: platform.into(), account_id: account_id.into() }
    }

    /// The scope `post` is published in.
    pub fn of(post: &Post) -> Self {
        Scope::new(&post.platform, &post.account_id)
    }

    /// The platform.
    pub fn platform(&self) -> &str {
        &self.platform
    }

    /// The account id.
    pub fn account_id(&self) -> &str {
        &self.account_id
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.platform, self.account_id)
    }
}

/// At most this many idle scopes (nothing held, nothing in flight, no advertised quota being
/// spent) are kept after a sweep, the most recently used. A sweep runs whenever as many new
/// scopes were added since the last, and at least once a minute while more than this many are
/// kept, so whatever the number of accounts, at most twice as many idle scopes are kept a
/// minute after they went idle. A scope forgotten and met again starts afresh: its first
/// request probes alone, and any pace learned from its 429s is learned again.
pub const MAX_IDLE_SCOPES: usize = 1024;

/// How often a table with more than [`MAX_IDLE_SCOPES`] scopes is swept even when no new
/// scope arrives: gates held during the last sweep go idle later.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The gates of the scopes met so far.
#[derive(Debug)]
pub(super) struct ScopeGates {
    gates: HashMap<Scope, ScopeGate>,
    default_retry_after: Duration,
    /// The table's size at which the next sweep runs, and when the last one ran.
    sweep_at: usize,
    swept: Timestamp,
}

#[derive(Debug)]
struct ScopeGate {
    gate: RateLimitGate,
    used: Timestamp,
}

impl ScopeGates {
    pub fn new(default_retry_after: Duration) -> Self {
        ScopeGates { gates: HashMap::new(), default_retry_after, sweep_at: MAX_IDLE_SCOPES, swept: Timestamp::EPOCH }
    }

    /// Runs `f` on the gate of `scope`, made on first use.
    pub fn with_gate<R>(&mut self, scope: &Scope, now: Timestamp, f: impl FnOnce(&mut RateLimitGate) -> R) -> R {
        let overdue = self.gates.len() > MAX_IDLE_SCOPES && now.saturating_since(self.swept) >= SWEEP_EVERY;
        if overdue {
            self.sweep(now);
        }
        if let Some(entry) = self.gates.get_mut(scope) {
            entry.used = entry.used.max(now);
            return f(&mut entry.gate);
        }
        if self.gates.len() >= self.sweep_at {
            self.sweep(now);
        }
        let gate = RateLimitGate::new(self.default_retry_after);
        f(&mut self.gates.entry(scope.clone()).or_insert(ScopeGate { gate, used: now }).gate)
    }

    /// The gate of `scope` if it is kept.
    pub fn existing(&self, scope: &Scope) -> Option<&RateLimitGate> {
        self.gates.get(scope).map(|entry| &entry.gate)
    }

    /// How many scopes are kept.
    pub fn len(&self) -> usize {
        self.gates.len()
    }

    /// Forgets the least recently used idle scopes beyond [`MAX_IDLE_SCOPES`].
    fn sweep(&mut self, now: Timestamp) {
        let mut idle: Vec<(Timestamp, &Scope)> = self
            .gates
            .iter()
            .filter(|(_, entry)| entry.gate.is_idle(now))
            .map(|(scope, entry)| (entry.used, scope))
            .collect();
        if idle.len() > MAX_IDLE_SCOPES {
            let excess = idle.len() - MAX_IDLE_SCOPES;
            idle.select_nth_unstable(excess - 1);
            let forget: Vec<Scope> = idle[..excess].iter().map(|(_, scope)| (*scope).clone()).collect();
            for scope in forget {
                self.gates.remove(&scope);
            }
        }
        self.sweep_at = self.gates.len() + MAX_IDLE_SCOPES;
        self.swept = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::Admission;
    use crate::response::Response;

    fn at(ms: u64) -> Timestamp {
        Timestamp::from_millis(1_000_000 + ms)
    }

    /// One request of `scope` at `now`, answered with `response`.
    fn answered(gates: &mut ScopeGates, scope: &Scope, now: Timestamp, response: &Response) {
        gates.with_gate(scope, now, |gate| {
            assert_eq!(gate.admit(now), Admission::Go);
            gate.on_response(now, now, response);
        });
    }

    #[test]
    fn idle_scopes_are_forgotten_least_recently_used_first_and_busy_ones_kept() {
        let mut gates = ScopeGates::new(Duration::from_secs(1));
        // One account with a request in flight, one held for an hour, then 100,000 accounts
        // that each answered.
        let busy = Scope::new("x", "busy");
        gates.with_gate(&busy, at(0), |gate| assert_eq!(gate.admit(at(0)), Admission::Go));
        let held = Scope::new("x", "held");
        answered(&mut gates, &held, at(0), &Response::new(429, "").with_header("Retry-After", "3600"));
        for i in 0..100_000u64 {
            answered(&mut gates, &Scope::new("x", &format!("acc_{i}")), at(i), &Response::new(202, "{}"));
        }
        assert!(gates.len() <= 2 * MAX_IDLE_SCOPES + 2, "{} scopes kept", gates.len());
        assert!(gates.existing(&busy).is_some(), "a scope with a request in flight is never forgotten");
        assert!(gates.existing(&held).is_some(), "a held scope is never forgotten");
        assert!(gates.existing(&Scope::new("x", "acc_99999")).is_some(), "the most recent is kept");
        assert!(gates.existing(&Scope::new("x", "acc_0")).is_none(), "the least recent is forgotten");
    }

    #[test]
    fn scopes_held_during_a_sweep_are_forgotten_within_a_minute_of_going_idle() {
        let mut gates = ScopeGates::new(Duration::from_secs(1));
        let limited = Response::new(429, "").with_header("Retry-After", "30");
        for i in 0..5_000u64 {
            answered(&mut gates, &Scope::new("x", &format!("acc_{i}")), at(i), &limited);
        }
        assert_eq!(gates.len(), 5_000, "held scopes are kept");
        // No new account arrives; the holds end, and a minute later an old account posts.
        let later = at(5_000 + 61_000);
        gates.with_gate(&Scope::new("x", "acc_1"), later, |_| {});
        assert!(gates.len() <= 2 * MAX_IDLE_SCOPES, "{} scopes kept", gates.len());
    }

    #[test]
    fn a_scope_spending_an_advertised_quota_is_not_idle() {
        let mut gates = ScopeGates::new(Duration::from_secs(1));
        let scope = Scope::new("x", "daily");
        let spent = Response::new(202, "{}")
            .with_header("RateLimit-Policy", "25;w=86400")
            .with_header("RateLimit-Remaining", "0");
        answered(&mut gates, &scope, at(0), &spent);
        // 25 a day: a token comes back about an hour later (paced at 97 % of the rate).
        assert!(!gates.existing(&scope).unwrap().is_idle(at(1_800_000)), "spent for half an hour");
        assert!(gates.existing(&scope).unwrap().is_idle(at(7_200_000)), "a token is back two hours later");
    }
}
