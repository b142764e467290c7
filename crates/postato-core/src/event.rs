//! Events: one for every decision the machine makes, so drivers can log, trace and call user
//! hooks without re-deriving anything.

use std::fmt;
use std::time::Duration;

use crate::error::{ErrorKind, TransportFailureKind};

/// Why the machine is waiting before its next attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WaitReason {
    /// Backing off after a retryable status (408, 409, 5xx).
    RetryableStatus(u16),
    /// Backing off after a transport failure.
    TransportFailure(TransportFailureKind),
    /// A 429's Retry-After.
    RateLimited,
    /// The client's shared rate-limit gate holds every publish (after a 429, or
    /// `RateLimit-Remaining: 0`).
    RateLimitGate,
    /// The client waits for the first request's answer before sending more (at first, and
    /// after every hold).
    Probe,
    /// The client paces its sends to the server's rate (advertised or learned).
    Pacing,
    /// The client's shared retry budget is empty.
    RetryBudget,
}

impl WaitReason {
    /// Whether this wait precedes a retry of a failed attempt (as opposed to pacing).
    pub fn is_retry(self) -> bool {
        !matches!(self, WaitReason::RateLimitGate | WaitReason::Probe | WaitReason::Pacing | WaitReason::RetryBudget)
    }

    /// The HTTP status behind the wait, when the server answered: the retryable status, or 429.
    pub fn status(self) -> Option<u16> {
        match self {
            WaitReason::RetryableStatus(status) => Some(status),
            WaitReason::RateLimited => Some(429),
            _ => None,
        }
    }

    /// A short stable name, for metric labels: `retryable_status`, `transport_failure`,
    /// `rate_limited`, `rate_limit_gate`, `probe`, `pacing`, `retry_budget`.
    pub fn label(self) -> &'static str {
        match self {
            WaitReason::RetryableStatus(_) => "retryable_status",
            WaitReason::TransportFailure(_) => "transport_failure",
            WaitReason::RateLimited => "rate_limited",
            WaitReason::RateLimitGate => "rate_limit_gate",
            WaitReason::Probe => "probe",
            WaitReason::Pacing => "pacing",
            WaitReason::RetryBudget => "retry_budget",
        }
    }
}

impl fmt::Display for WaitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitReason::RetryableStatus(status) => write!(f, "server answered {status}"),
            WaitReason::TransportFailure(kind) => write!(f, "transport failure ({})", kind.as_str()),
            WaitReason::RateLimited => f.write_str("rate limited (429)"),
            WaitReason::RateLimitGate => f.write_str("shared rate-limit gate"),
            WaitReason::Probe => f.write_str("waiting for the first request's answer"),
            WaitReason::Pacing => f.write_str("pacing to the server's rate"),
            WaitReason::RetryBudget => f.write_str("retry budget empty"),
        }
    }
}

/// What the machine decided about a response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// Published: done.
    Published,
    /// Retry after a wait.
    Retry,
    /// Stop with an error.
    Fail(ErrorKind),
}

/// One decision of the machine.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Attempt `attempt` (1-based, counting every request) is being sent.
    AttemptStarted {
        /// The attempt number.
        attempt: u32,
        /// The time the attempt may take.
        timeout: Duration,
    },
    /// A response arrived and was classified.
    ResponseClassified {
        /// The attempt number.
        attempt: u32,
        /// The HTTP status.
        status: u16,
        /// Whether the server replayed a stored response.
        replayed: bool,
        /// The decision.
        decision: Decision,
    },
    /// An attempt ended without a full response.
    TransportFailed {
        /// The attempt number.
        attempt: u32,
        /// The kind of failure.
        kind: TransportFailureKind,
        /// Its description.
        message: String,
    },
    /// The machine waits `delay` before attempt `next_attempt`.
    Waiting {
        /// The attempt that follows the wait.
        next_attempt: u32,
        /// How long.
        delay: Duration,
        /// Why.
        reason: WaitReason,
    },
    /// The publish ended.
    Finished {
        /// Requests sent.
        attempts: u32,
        /// `Ok` when published, else the error's kind.
        result: Result<(), ErrorKind>,
    },
}
