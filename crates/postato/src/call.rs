//! [`PublishCall`]: one publish with options of its own (a shorter deadline, fewer attempts, a
//! shorter attempt timeout, a cancellation token), checked by the same rules as the client's
//! settings.

use postato_core::settings::{self, Value};
use postato_core::{Post, PublishError, Published, RetryPolicy, Transport};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::AtomicU32;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::client::Client;

/// Options for one publish; what is not given is the client's.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CallOptions {
    /// A limit on this whole publish, waits included (within [`settings::DEADLINE`](postato_core::settings::DEADLINE)).
    pub deadline: Option<Duration>,
    /// Attempts that may end in a retryable failure (within [`settings::MAX_ATTEMPTS`](postato_core::settings::MAX_ATTEMPTS)).
    pub max_attempts: Option<u32>,
    /// The limit on each attempt of this publish (within [`settings::TIMEOUT`](postato_core::settings::TIMEOUT)).
    pub timeout: Option<Duration>,
}

impl CallOptions {
    /// The names (in [`postato_core::settings`]) of the client settings one publish may
    /// change: what [`CallOptions::set`] accepts, and what every language's per-call options
    /// offer under its own names.
    pub const SETTINGS: [&'static str; 3] =
        [settings::DEADLINE.name, settings::MAX_ATTEMPTS.name, settings::TIMEOUT.name];

    /// Sets the option named `name` (its name in [`postato_core::settings`]) to `value`,
    /// already within its bounds ([`settings::Row::from_f64`]); `false` when it is not one of
    /// [`CallOptions::SETTINGS`] or `value` is not of its kind.
    pub fn set(&mut self, name: &str, value: Value) -> bool {
        match value {
            Value::Time(d) if name == settings::DEADLINE.name => self.deadline = Some(d),
            Value::Count(n) if name == settings::MAX_ATTEMPTS.name => self.max_attempts = Some(n),
            Value::Time(d) if name == settings::TIMEOUT.name => self.timeout = Some(d),
            _ => return false,
        }
        true
    }

    /// The client's `policy` with these options applied, checked as a client's settings are.
    pub fn policy(&self, policy: &RetryPolicy) -> Result<RetryPolicy, PublishError> {
        let mut policy = policy.clone();
        if let Some(deadline) = self.deadline {
            policy.deadline = Some(deadline);
        }
        if let Some(attempts) = self.max_attempts {
            policy.max_attempts = attempts;
        }
        if let Some(timeout) = self.timeout {
            policy.timeout = timeout;
        }
        // The same checks as the client's settings (`settings::DEADLINE`, `MAX_ATTEMPTS`, `TIMEOUT`).
        policy.validate()?;
        Ok(policy)
    }

    /// Whether no option is given (the client's policy applies unchanged).
    pub fn is_empty(&self) -> bool {
        self == &CallOptions::default()
    }
}

/// The option methods of a publish call ([`PublishCall`], [`PublisherCall`](crate::PublisherCall)),
/// written once: each sets the call's `options`.
macro_rules! call_option_methods {
    () => {
        /// A limit on this publish from its first request, its retries and their waits included
        /// (replaces the client's deadline). A Publisher's own steps before that (its store, a
        /// wait for another worker's claim) are not counted.
        pub fn deadline(mut self, deadline: std::time::Duration) -> Self {
            self.options.deadline = Some(deadline);
            self
        }

        /// Attempts that may end in a retryable failure, for this publish.
        pub fn max_attempts(mut self, attempts: u32) -> Self {
            self.options.max_attempts = Some(attempts);
            self
        }

        /// The limit on each attempt of this publish, from sending to the end of the response
        /// (replaces the client's timeout); an attempt that outlasts it is retried as a
        /// timeout.
        pub fn timeout(mut self, timeout: std::time::Duration) -> Self {
            self.options.timeout = Some(timeout);
            self
        }

        /// Every option at once.
        pub fn options(mut self, options: $crate::CallOptions) -> Self {
            self.options = options;
            self
        }
    };
}
pub(crate) use call_option_methods;

/// A publish with per-call options, from [`Client::publish_with`]; `.await` it (or call
/// [`PublishCall::send`]).
///
/// ```no_run
/// # async fn demo(client: postato::Client, post: postato::Post) -> Result<(), postato::PublishError> {
/// use std::time::Duration;
/// let urgent = client
///     .publish_with(&post)
///     .deadline(Duration::from_secs(5))
///     .max_attempts(2)
///     .timeout(Duration::from_secs(2))
///     .await?;
/// # Ok(()) }
/// ```
#[must_use = "a publish call sends nothing until awaited"]
pub struct PublishCall<'a, T> {
    client: &'a Client<T>,
    post: &'a Post,
    options: CallOptions,
    cancel: Option<&'a CancellationToken>,
}

impl<'a, T: Transport> PublishCall<'a, T> {
    pub(crate) fn new(client: &'a Client<T>, post: &'a Post) -> Self {
        PublishCall { client, post, options: CallOptions::default(), cancel: None }
    }

    call_option_methods!();

    /// Ends the publish with `Cancelled` when `cancel` fires; nothing more is sent.
    pub fn cancel_on(mut self, cancel: &'a CancellationToken) -> Self {
        self.cancel = Some(cancel);
        self
    }

    /// Publishes: an option outside its bounds is an `InvalidInput` naming it, before any
    /// request.
    pub async fn send(self) -> Result<Published, PublishError> {
        let request = self.client.request_for(self.post)?;
        let policy = self.client.policy_for(&self.options)?;
        let refusals = AtomicU32::new(0);
        self.client.publish_counting_refusals(self.post, request, policy, self.cancel, &refusals).await
    }
}

impl<'a, T: Transport + 'a> IntoFuture for PublishCall<'a, T> {
    type Output = Result<Published, PublishError>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
