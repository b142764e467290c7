//! [`ClientOptions`]: the settings a language binding lets its users change, as plain data
//! with their defaults (from [`postato_core::defaults`]). Every binding converts its own
//! options (keyword arguments, an options object, a record) into this one type, so a
//! default or a setting's meaning cannot differ between languages.

use postato_core::{defaults, RetryPolicy};
use std::time::Duration;

use crate::builder::ClientBuilder;

/// A client's settings; [`ClientOptions::default`] holds the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The API's base URL; `None` means the production API ([`defaults::BASE_URL`]).
    pub base_url: Option<String>,
    /// A file of CA certificates (PEM) trusted beside the built-in roots and `SSL_CERT_FILE`
    /// ([`ClientBuilder::ca_bundle`]); `None`: none.
    pub ca_bundle: Option<String>,
    /// Attempts that may end in a retryable failure ([`defaults::MAX_ATTEMPTS`]).
    pub max_attempts: u32,
    /// The limit on one attempt ([`defaults::TIMEOUT`]).
    pub timeout: Duration,
    /// The limit on connecting ([`defaults::CONNECT_TIMEOUT`]).
    pub connect_timeout: Duration,
    /// The first backoff ([`defaults::BACKOFF_BASE`]).
    pub backoff_base: Duration,
    /// The largest backoff ([`defaults::BACKOFF_CAP`]).
    pub backoff_cap: Duration,
    /// A limit on each whole publish, waits included ([`defaults::DEADLINE`]: none).
    pub deadline: Option<Duration>,
    /// 429 waits one publish may make ([`defaults::MAX_RATE_LIMIT_WAITS`]).
    pub max_rate_limit_waits: u32,
    /// The longest wait a publish makes before ending ([`defaults::MAX_RETRY_AFTER`]).
    pub max_retry_after: Duration,
    /// For tests: waits advance a virtual clock instead of sleeping (off).
    pub fast_forward_waits: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        let policy = RetryPolicy::default();
        ClientOptions {
            base_url: None,
            ca_bundle: None,
            max_attempts: policy.max_attempts,
            timeout: policy.timeout,
            connect_timeout: defaults::CONNECT_TIMEOUT,
            backoff_base: policy.backoff_base,
            backoff_cap: policy.backoff_cap,
            deadline: policy.deadline,
            max_rate_limit_waits: policy.max_rate_limit_waits,
            max_retry_after: policy.max_retry_after,
            fast_forward_waits: false,
        }
    }
}

impl ClientOptions {
    /// Applies these settings to `builder` (which checks them when it builds).
    pub fn apply(self, builder: ClientBuilder) -> ClientBuilder {
        let mut policy = RetryPolicy::default();
        policy.max_attempts = self.max_attempts;
        policy.timeout = self.timeout;
        policy.backoff_base = self.backoff_base;
        policy.backoff_cap = self.backoff_cap;
        policy.deadline = self.deadline;
        policy.max_rate_limit_waits = self.max_rate_limit_waits;
        policy.max_retry_after = self.max_retry_after;
        let builder =
            builder.policy(policy).connect_timeout(self.connect_timeout).fast_forward_waits(self.fast_forward_waits);
        let builder = match self.ca_bundle {
            Some(path) => builder.ca_bundle(path),
            None => builder,
        };
        match self.base_url {
            Some(url) => builder.base_url(url),
            None => builder,
        }
    }
}
