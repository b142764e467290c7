//! The retry budget: a token bucket that retries draw from, shared by every publish of one
//! client, so an outage does not multiply the load on the server.

use std::time::Duration;

use super::Admission;
use crate::defaults;
use crate::event::WaitReason;
use crate::time::Timestamp;

/// How often a waiter re-checks a budget that successes elsewhere can refill.
const RECHECK: Duration = Duration::from_millis(100);

/// What a retry does when the budget is empty.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WhenBudgetEmpty {
    /// Wait until the budget has tokens again.
    Wait,
    /// End the publish with `Transient` (retry budget exhausted).
    Fail,
}

/// The retry budget's settings. See [`RetryBudget`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct RetryBudgetConfig {
    /// Tokens the bucket holds, and starts with; default [`BUDGET_CAPACITY`](defaults::BUDGET_CAPACITY).
    pub capacity: f64,
    /// Tokens one retry takes; default [`BUDGET_RETRY_COST`](defaults::BUDGET_RETRY_COST).
    pub retry_cost: f64,
    /// Tokens one retry after a timeout takes; default [`BUDGET_TIMEOUT_RETRY_COST`](defaults::BUDGET_TIMEOUT_RETRY_COST)
    /// (a slow server is hurt most by retries).
    pub timeout_retry_cost: f64,
    /// Tokens a successful response returns; default [`BUDGET_SUCCESS_DEPOSIT`](defaults::BUDGET_SUCCESS_DEPOSIT).
    pub success_deposit: f64,
    /// Tokens added per second regardless; default [`BUDGET_REFILL_PER_SECOND`](defaults::BUDGET_REFILL_PER_SECOND).
    pub refill_per_second: f64,
    /// Wait or fail when empty; default wait.
    pub when_empty: WhenBudgetEmpty,
}

impl Default for RetryBudgetConfig {
    fn default() -> Self {
        RetryBudgetConfig {
            capacity: defaults::BUDGET_CAPACITY,
            retry_cost: defaults::BUDGET_RETRY_COST,
            timeout_retry_cost: defaults::BUDGET_TIMEOUT_RETRY_COST,
            success_deposit: defaults::BUDGET_SUCCESS_DEPOSIT,
            refill_per_second: defaults::BUDGET_REFILL_PER_SECOND,
            when_empty: WhenBudgetEmpty::Wait,
        }
    }
}

impl RetryBudgetConfig {
    /// The same settings with `capacity` set.
    pub fn with_capacity(mut self, capacity: f64) -> Self {
        self.capacity = capacity;
        self
    }

    /// The same settings with `retry_cost` set.
    pub fn with_retry_cost(mut self, retry_cost: f64) -> Self {
        self.retry_cost = retry_cost;
        self
    }

    /// The same settings with `timeout_retry_cost` set.
    pub fn with_timeout_retry_cost(mut self, timeout_retry_cost: f64) -> Self {
        self.timeout_retry_cost = timeout_retry_cost;
        self
    }

    /// The same settings with `success_deposit` set.
    pub fn with_success_deposit(mut self, success_deposit: f64) -> Self {
        self.success_deposit = success_deposit;
        self
    }

    /// The same settings with `refill_per_second` set.
    pub fn with_refill_per_second(mut self, refill_per_second: f64) -> Self {
        self.refill_per_second = refill_per_second;
        self
    }

    /// The same settings with `when_empty` set.
    pub fn with_when_empty(mut self, when_empty: WhenBudgetEmpty) -> Self {
        self.when_empty = when_empty;
        self
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
        if after_timeout {
            self.config.timeout_retry_cost
        } else {
            self.config.retry_cost
        }
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
                // Re-check soon: successes elsewhere may refill the bucket before time does. At
                // least a millisecond: a wait that rounds to nothing would never let time pass.
                let wait = refill_wait.min(RECHECK).max(Duration::from_millis(1));
                Admission::WaitUntil { until: now.saturating_add(wait), reason: WaitReason::RetryBudget }
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
