//! The retry policy: how many attempts, how long to back off, how to treat rate limits,
//! timeouts and deadlines. The defaults are the reference's behaviour, with its gaps bounded.

use std::time::Duration;

use crate::validate::ValidationError;
use crate::{bounds, defaults, settings};

/// How the random part of a backoff is drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Jitter {
    /// `min(cap, base * 2^n) + uniform[0, max)`: the reference's formula (max 500 ms).
    Additive {
        /// The exclusive upper bound of the added jitter.
        max: Duration,
    },
    /// `uniform[0, min(cap, base * 2^n))`: "full jitter", which spreads retries best.
    Full,
}

/// When and how often to retry. Build with [`RetryPolicy::default`] (the values in
/// [`defaults`](crate::defaults)) and adjust fields.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts that may end in a retryable failure (429s excluded); default [`MAX_ATTEMPTS`](defaults::MAX_ATTEMPTS).
    pub max_attempts: u32,
    /// The backoff base; default [`BACKOFF_BASE`](defaults::BACKOFF_BASE).
    pub backoff_base: Duration,
    /// The backoff cap, before jitter; default [`BACKOFF_CAP`](defaults::BACKOFF_CAP).
    pub backoff_cap: Duration,
    /// The jitter; default additive up to [`JITTER_MAX`](defaults::JITTER_MAX).
    pub jitter: Jitter,
    /// How many 429 waits one publish may make; default [`MAX_RATE_LIMIT_WAITS`](defaults::MAX_RATE_LIMIT_WAITS).
    pub max_rate_limit_waits: u32,
    /// The longest wait a publish sits through: a longer Retry-After, rate-limit hold or pace
    /// ends it `RateLimited`, a longer wait for the retry budget `Transient`; default
    /// [`MAX_RETRY_AFTER`](defaults::MAX_RETRY_AFTER).
    pub max_retry_after: Duration,
    /// The wait on a 429 whose Retry-After is missing, unreadable or zero; default [`DEFAULT_RETRY_AFTER`](defaults::DEFAULT_RETRY_AFTER).
    pub default_retry_after: Duration,
    /// The limit on one attempt, from sending to the end of the response; default [`TIMEOUT`](defaults::TIMEOUT).
    pub timeout: Duration,
    /// An optional limit on the whole publish, waits included; default none.
    pub deadline: Option<Duration>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: defaults::MAX_ATTEMPTS,
            backoff_base: defaults::BACKOFF_BASE,
            backoff_cap: defaults::BACKOFF_CAP,
            jitter: Jitter::Additive { max: defaults::JITTER_MAX },
            max_rate_limit_waits: defaults::MAX_RATE_LIMIT_WAITS,
            max_retry_after: defaults::MAX_RETRY_AFTER,
            default_retry_after: defaults::DEFAULT_RETRY_AFTER,
            timeout: defaults::TIMEOUT,
            deadline: defaults::DEADLINE,
        }
    }
}

impl RetryPolicy {
    /// The same settings with `max_attempts` set.
    pub fn with_max_attempts(mut self, max_attempts: u32) -> Self {
        self.max_attempts = max_attempts;
        self
    }

    /// The same settings with `backoff_base` set.
    pub fn with_backoff_base(mut self, backoff_base: Duration) -> Self {
        self.backoff_base = backoff_base;
        self
    }

    /// The same settings with `backoff_cap` set.
    pub fn with_backoff_cap(mut self, backoff_cap: Duration) -> Self {
        self.backoff_cap = backoff_cap;
        self
    }

    /// The same settings with `jitter` set.
    pub fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// The same settings with `max_rate_limit_waits` set.
    pub fn with_max_rate_limit_waits(mut self, max_rate_limit_waits: u32) -> Self {
        self.max_rate_limit_waits = max_rate_limit_waits;
        self
    }

    /// The same settings with `max_retry_after` set.
    pub fn with_max_retry_after(mut self, max_retry_after: Duration) -> Self {
        self.max_retry_after = max_retry_after;
        self
    }

    /// The same settings with `default_retry_after` set.
    pub fn with_default_retry_after(mut self, default_retry_after: Duration) -> Self {
        self.default_retry_after = default_retry_after;
        self
    }

    /// The same settings with `timeout` set.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The same settings with `deadline` set.
    pub fn with_deadline(mut self, deadline: Option<Duration>) -> Self {
        self.deadline = deadline;
        self
    }
}

impl RetryPolicy {
    /// Checks that the policy can work and cannot wait for ever: every setting within its
    /// [`bounds`](crate::bounds), and a base not above the cap.
    pub fn validate(&self) -> Result<(), ValidationError> {
        settings::MAX_ATTEMPTS.check(self.max_attempts.into())?;
        settings::MAX_RATE_LIMIT_WAITS.check(self.max_rate_limit_waits.into())?;
        settings::TIMEOUT.check(self.timeout)?;
        settings::BACKOFF_BASE.check(self.backoff_base)?;
        settings::BACKOFF_CAP.check(self.backoff_cap)?;
        settings::MAX_RETRY_AFTER.check(self.max_retry_after)?;
        bounds::check_duration("defaultRetryAfter", self.default_retry_after, &bounds::MAX_RETRY_AFTER)?;
        if let Some(deadline) = self.deadline {
            settings::DEADLINE.check(deadline)?;
        }
        if let Jitter::Additive { max } = self.jitter {
            bounds::check_duration("jitter", max, &bounds::BACKOFF_CAP)?;
        }
        if self.backoff_base > self.backoff_cap {
            return Err(ValidationError::setting(
                "backoffBase",
                format!(
                    "({}) is above backoffCap ({}): lower it or raise the cap",
                    bounds::human(self.backoff_base),
                    bounds::human(self.backoff_cap)
                ),
            ));
        }
        Ok(())
    }

    /// The backoff before the retry that follows the `failures`-th failure (1 for the first),
    /// `roll` being a uniform random number.
    pub fn backoff(&self, failures: u32, roll: u64) -> Duration {
        let exponential = self
            .backoff_base
            .checked_mul(2u32.saturating_pow(failures.min(31)))
            .unwrap_or(Duration::MAX)
            .min(self.backoff_cap);
        match self.jitter {
            Jitter::Additive { max } => exponential + uniform_below(max, roll),
            Jitter::Full => uniform_below(exponential, roll),
        }
    }
}

/// A duration uniform in `[0, bound)` at millisecond resolution (zero when `bound` is zero).
fn uniform_below(bound: Duration, roll: u64) -> Duration {
    let millis = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    if millis == 0 {
        Duration::ZERO
    } else {
        Duration::from_millis(roll % millis)
    }
}
