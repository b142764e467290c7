//! Limits shared by every publish of one client: the rate-limit gate (hold everyone on a 429,
//! probe before releasing them, pace by the server's `RateLimit-*` headers or by a rate learned
//! from 429s) and the retry budget (stop multiplying load during an outage). Pure logic: the
//! client wraps [`SharedLimits`] and asks it before sends.

mod adaptive;
mod budget;
mod gate;
mod pacer;

use std::sync::Mutex;
use std::time::Duration;

use crate::event::WaitReason;
use crate::machine::NextSend;
use crate::response::Response;
use crate::time::Timestamp;

pub use budget::{RetryBudget, RetryBudgetConfig, WhenBudgetEmpty};
pub use gate::{GateSnapshot, RateLimitGate};

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

/// What the shared limits know, for metrics and tests.
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct LimitsSnapshot {
    /// When it was taken.
    pub taken_at: Timestamp,
    /// The gate's state.
    pub gate: GateSnapshot,
    /// Tokens left in the retry budget.
    pub budget_tokens: f64,
}

/// The gate and the budget of one client, behind one lock (never held across an await).
#[derive(Debug)]
pub struct SharedLimits {
    inner: Mutex<(RateLimitGate, RetryBudget)>,
}

impl SharedLimits {
    /// Limits with a fresh gate (holding 1 s on a 429 without Retry-After) and a full budget.
    pub fn new(budget: RetryBudgetConfig) -> Self {
        SharedLimits::with_default_retry_after(budget, crate::defaults::DEFAULT_RETRY_AFTER)
    }

    /// Limits whose gate holds `default_retry_after` on a 429 without a readable Retry-After:
    /// pass the policy's, so the gate holds as long as the publish that got it waits.
    pub fn with_default_retry_after(budget: RetryBudgetConfig, default_retry_after: Duration) -> Self {
        SharedLimits { inner: Mutex::new((RateLimitGate::new(default_retry_after), RetryBudget::new(budget))) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, (RateLimitGate, RetryBudget)> {
        // The state is plain numbers: a panic elsewhere cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// May this send go at `now`? Retries need the budget's tokens, and every send the gate's
    /// leave; tokens are taken only when the send goes. A `Go` is in flight until its outcome
    /// or abandonment is reported.
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

    /// Learns from the response to a request sent at `sent_at`.
    pub fn on_response(&self, now: Timestamp, sent_at: Timestamp, response: &Response) {
        let mut guard = self.lock();
        guard.0.on_response(now, sent_at, response);
        if (200..300).contains(&response.status) {
            guard.1.on_success(now);
        }
    }

    /// Learns that a request sent at `sent_at` failed without a response.
    pub fn on_transport_failure(&self, sent_at: Timestamp) {
        self.lock().0.on_transport_failure(sent_at);
    }

    /// Learns that a request in flight was abandoned (cancelled or dropped).
    pub fn on_abandoned(&self) {
        self.lock().0.on_abandoned();
    }

    /// Tokens left in the retry budget.
    pub fn budget_tokens(&self) -> f64 {
        self.lock().1.tokens()
    }

    /// What the gate and the budget know at `now`.
    pub fn snapshot(&self, now: Timestamp) -> LimitsSnapshot {
        let guard = self.lock();
        LimitsSnapshot { taken_at: now, gate: guard.0.snapshot(now), budget_tokens: guard.1.tokens() }
    }
}
