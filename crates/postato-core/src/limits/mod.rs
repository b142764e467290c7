//! Limits shared by every publish of one client: the rate-limit gates, one per account scope
//! and one for the workspace (hold a scope's posts on a 429, probe before releasing them, pace
//! by the server's `RateLimit-*` headers or by a rate learned from 429s), and the retry budget
//! (stop multiplying load during an outage). Pure logic: the client wraps [`SharedLimits`] and
//! asks it before sends.

mod adaptive;
mod budget;
mod gate;
mod pacer;
mod scope;

use std::sync::Mutex;
use std::time::Duration;

use crate::event::WaitReason;
use crate::machine::NextSend;
use crate::response::{LimitScope, Response};
use crate::time::Timestamp;

pub use budget::{RetryBudget, RetryBudgetConfig, WhenBudgetEmpty};
pub use gate::{GateSnapshot, RateLimitGate};
pub use scope::{Scope, MAX_IDLE_SCOPES};

use scope::ScopeGates;

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

/// A publish's places in the pacing queues of its account's gate and the workspace's, kept by
/// whoever drives it ([`crate::drive`] does) and passed to [`SharedLimits::admit_in_turn`] at
/// every ask: publishes waiting for a pace are served in the order they began waiting, so none
/// waits out its `max_retry_after` behind publishes that asked after it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PacingPlace {
    workspace: pacer::Place,
    scope: pacer::Place,
}

/// What the shared limits know, for metrics and tests.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct LimitsSnapshot {
    /// When it was taken.
    pub taken_at: Timestamp,
    /// The workspace gate's state (each account's: [`SharedLimits::scope_snapshot`]).
    pub gate: GateSnapshot,
    /// Tokens left in the retry budget.
    pub budget_tokens: f64,
    /// How many account scopes are kept (at most [`MAX_IDLE_SCOPES`] twice over when idle).
    pub scopes: usize,
}

/// 429s that name no scope and ask for at most [`INFERRED_MAX_WAIT`], from this many accounts
/// within [`SEVERAL_AT_ONCE`] and with no answer other than a 429 to any account since the
/// first of them, are taken for a workspace-wide limit: the workspace refuses everyone, where
/// accounts' own limits leave the other accounts answered. One account's spent quota never
/// is, nor are several accounts' (they ask for long waits, to their windows' ends). An
/// inferred limit holds the workspace for the shortest wait among them, at most the policy's
/// default wait.
const SEVERAL_SCOPES: usize = 3;
const SEVERAL_AT_ONCE: Duration = Duration::from_secs(1);
const INFERRED_MAX_WAIT: Duration = Duration::from_secs(10);

/// The limits of one client: a rate-limit gate per account scope and one for the workspace,
/// and the retry budget (per client: it is about outages, not limits), behind one lock never
/// held across an await.
///
/// Every send asks the workspace gate and its scope's. A 429 or `RateLimit-*` answer is
/// charged to the scope of the post that got it, so a hold or pace learned for one account
/// never delays another's posts. It is charged to the workspace only on evidence: the server
/// names the workspace ([`Response::limit_scope`]), or short 429s that name no scope arrive
/// from 3 accounts within a second while no account is answered otherwise, which a
/// workspace-wide limit explains and accounts' own limits do not (then it holds the workspace
/// for at most the default wait).
#[derive(Debug)]
pub struct SharedLimits {
    inner: Mutex<State>,
}

#[derive(Debug)]
struct State {
    workspace: RateLimitGate,
    scopes: ScopeGates,
    budget: RetryBudget,
    default_retry_after: Duration,
    /// The latest short 429 naming no scope of each of the last few accounts that got one:
    /// when, to which account, and the wait it asked for.
    unnamed_throttles: Vec<(Timestamp, Scope, Duration)>,
    /// When an answer other than a 429 last came, to any account.
    answered_at: Timestamp,
}

impl State {
    /// The workspace hold that `response`, a 429 naming no scope to a post in `scope` at
    /// `now`, implies: with others from several accounts at once, all asking for short waits,
    /// the shortest of them (at most the default wait).
    fn inferred_workspace_hold(&mut self, scope: &Scope, now: Timestamp, response: &Response) -> Option<Duration> {
        let wait = response.rate_limit_wait(now, self.default_retry_after);
        if wait > INFERRED_MAX_WAIT {
            return None;
        }
        // Recent, and with no account answered since: a workspace limit refuses everyone.
        let answered_at = self.answered_at;
        let recent = |at: &Timestamp| now.saturating_since(*at) <= SEVERAL_AT_ONCE && *at >= answered_at;
        self.unnamed_throttles.retain(|(at, other, _)| recent(at) && other != scope);
        self.unnamed_throttles.push((now, scope.clone(), wait));
        if self.unnamed_throttles.len() > SEVERAL_SCOPES {
            self.unnamed_throttles.remove(0);
        }
        let shortest = self.unnamed_throttles.iter().map(|(_, _, wait)| *wait).min()?;
        (self.unnamed_throttles.len() >= SEVERAL_SCOPES).then(|| shortest.min(self.default_retry_after))
    }
}

impl SharedLimits {
    /// Limits with fresh gates (holding 1 s on a 429 without Retry-After) and a full budget.
    pub fn new(budget: RetryBudgetConfig) -> Self {
        SharedLimits::with_default_retry_after(budget, crate::defaults::DEFAULT_RETRY_AFTER)
    }

    /// Limits whose gates hold `default_retry_after` on a 429 without a readable Retry-After:
    /// pass the policy's, so a gate holds as long as the publish that got it waits.
    pub fn with_default_retry_after(budget: RetryBudgetConfig, default_retry_after: Duration) -> Self {
        SharedLimits {
            inner: Mutex::new(State {
                workspace: RateLimitGate::new(default_retry_after),
                scopes: ScopeGates::new(default_retry_after),
                budget: RetryBudget::new(budget),
                default_retry_after,
                unnamed_throttles: Vec::new(),
                answered_at: Timestamp::EPOCH,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is plain numbers: a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// May this send of a post in `scope` go at `now`? Retries need the budget's tokens, and
    /// every send the leave of the workspace's gate and its scope's; tokens are taken only
    /// when the send goes. A `Go` is in flight until its outcome or abandonment is reported.
    /// A send asked this way keeps no place in the pacing queues: it goes only on a token
    /// left beyond those the waiting publishes are owed ([`SharedLimits::admit_in_turn`]).
    pub fn admit(&self, scope: &Scope, now: Timestamp, next: NextSend) -> Admission {
        self.admit_with(scope, now, next, None)
    }

    /// As [`SharedLimits::admit`], for a send that keeps `place` between its asks: waiting
    /// for a pace, it is served in the order it began waiting.
    pub fn admit_in_turn(&self, scope: &Scope, now: Timestamp, next: NextSend, place: &mut PacingPlace) -> Admission {
        self.admit_with(scope, now, next, Some(place))
    }

    fn admit_with(
        &self,
        scope: &Scope,
        now: Timestamp,
        next: NextSend,
        mut place: Option<&mut PacingPlace>,
    ) -> Admission {
        let mut state = self.lock();
        let state = &mut *state;
        if next.is_retry {
            match state.budget.check_retry(now, next.after_timeout) {
                Admission::Go => {}
                other => return other,
            }
        }
        // A held account waits out its own hold without asking the workspace's gate, whose
        // probe and patience clock it would otherwise touch.
        if let Some(until) = state.scopes.with_gate(scope, now, |gate| gate.holding_until(now)) {
            return Admission::WaitUntil { until, reason: WaitReason::RateLimitGate };
        }
        let workspace = state.workspace.admit_in_turn(now, place.as_deref_mut().map(|p| &mut p.workspace));
        if workspace != Admission::Go {
            return workspace;
        }
        let to_scope = place.as_deref_mut().map(|p| &mut p.scope);
        let admission = state.scopes.with_gate(scope, now, |gate| gate.admit_in_turn(now, to_scope));
        if admission != Admission::Go {
            // Waiting on its account, it gives the workspace's token back and its place up.
            state.workspace.revoke();
            if let Some(place) = place {
                place.workspace = None;
            }
            return admission;
        }
        if next.is_retry {
            state.budget.take(next.after_timeout);
        }
        if let Some(place) = place {
            // Served by both: a later send of this publish waits afresh.
            *place = PacingPlace::default();
        }
        admission
    }

    /// Learns from the response to a request of a post in `scope` sent at `sent_at`.
    pub fn on_response(&self, scope: &Scope, now: Timestamp, sent_at: Timestamp, response: &Response) {
        let mut state = self.lock();
        let state = &mut *state;
        if response.status != 429 {
            state.answered_at = state.answered_at.max(now);
        }
        let named = response.limit_scope();
        let to_scope = named != Some(LimitScope::Workspace);
        state.scopes.with_gate(scope, now, |gate| match to_scope {
            true => gate.on_response(now, sent_at, response),
            false => gate.on_answer_charged_elsewhere(now, sent_at, response.status),
        });
        if named == Some(LimitScope::Workspace) {
            state.workspace.on_response(now, sent_at, response);
        } else {
            state.workspace.on_answer_charged_elsewhere(now, sent_at, response.status);
            let inferred = match (named, response.status) {
                (None, 429) => state.inferred_workspace_hold(scope, now, response),
                _ => None,
            };
            if let Some(wait) = inferred {
                state.workspace.hold(now, now.saturating_add(wait));
            }
        }
        if (200..300).contains(&response.status) {
            state.budget.on_success(now);
        }
    }

    /// Learns that a request of a post in `scope` sent at `sent_at` failed without a response.
    pub fn on_transport_failure(&self, scope: &Scope, now: Timestamp, sent_at: Timestamp) {
        let mut state = self.lock();
        state.workspace.on_transport_failure(sent_at);
        state.scopes.with_gate(scope, now, |gate| gate.on_transport_failure(sent_at));
    }

    /// Learns that a request of a post in `scope`, sent at `sent_at` and in flight, was
    /// abandoned (cancelled, dropped).
    pub fn on_abandoned(&self, scope: &Scope, sent_at: Timestamp) {
        let mut state = self.lock();
        state.workspace.on_abandoned();
        state.scopes.with_gate(scope, sent_at, RateLimitGate::on_abandoned);
    }

    /// Tokens left in the retry budget.
    pub fn budget_tokens(&self) -> f64 {
        self.lock().budget.tokens()
    }

    /// What the workspace gate and the budget know at `now`.
    pub fn snapshot(&self, now: Timestamp) -> LimitsSnapshot {
        let state = self.lock();
        LimitsSnapshot {
            taken_at: now,
            gate: state.workspace.snapshot(now),
            budget_tokens: state.budget.tokens(),
            scopes: state.scopes.len(),
        }
    }

    /// What the gate of `scope` knows at `now`, if it is kept (a scope never met, or idle and
    /// forgotten, has none: it holds nothing).
    pub fn scope_snapshot(&self, scope: &Scope, now: Timestamp) -> Option<GateSnapshot> {
        self.lock().scopes.existing(scope).map(|gate| gate.snapshot(now))
    }
}
