//! [`ClientOptions`]: the settings a language binding lets its users change, as plain data
//! with their defaults (from [`postato_core::defaults`]). Every binding converts its own
//! options (keyword arguments, an options object, a record) into this one type, so a
//! default or a setting's meaning cannot differ between languages.

use postato_core::settings::{self, Value};
use postato_core::{defaults, RetryPolicy};
use std::time::Duration;

use crate::builder::ClientBuilder;
use crate::http_options::HttpOptions;

/// A client's settings; [`ClientOptions::default`] holds the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClientOptions {
    /// The API's base URL; `None` means the production API ([`defaults::BASE_URL`]).
    pub base_url: Option<String>,
    /// A file of CA certificates (PEM) trusted beside the built-in roots and `SSL_CERT_FILE`
    /// ([`ClientBuilder::ca_bundle`]); `None`: none.
    pub ca_bundle: Option<String>,
    /// Headers sent with every request, and a proxy ([`ClientBuilder::default_header`],
    /// [`ClientBuilder::proxy`]).
    pub http: HttpOptions,
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
            http: HttpOptions::default(),
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
    /// The names (in [`postato_core::settings`]) of the bounded settings a client takes: what
    /// [`ClientOptions::set`] accepts, and what every language's client options offer.
    pub const SETTINGS: [&'static str; 8] = [
        settings::MAX_ATTEMPTS.name,
        settings::TIMEOUT.name,
        settings::CONNECT_TIMEOUT.name,
        settings::BACKOFF_BASE.name,
        settings::BACKOFF_CAP.name,
        settings::DEADLINE.name,
        settings::MAX_RATE_LIMIT_WAITS.name,
        settings::MAX_RETRY_AFTER.name,
    ];

    /// Sets the bounded setting named `name` (its name in [`postato_core::settings`]) to
    /// `value`, already within its bounds ([`settings::Row::from_f64`]); `false` when it is
    /// not one of [`ClientOptions::SETTINGS`] or `value` is not of its kind.
    pub fn set(&mut self, name: &str, value: Value) -> bool {
        match value {
            Value::Count(n) if name == settings::MAX_ATTEMPTS.name => self.max_attempts = n,
            Value::Count(n) if name == settings::MAX_RATE_LIMIT_WAITS.name => self.max_rate_limit_waits = n,
            Value::Time(d) if name == settings::TIMEOUT.name => self.timeout = d,
            Value::Time(d) if name == settings::CONNECT_TIMEOUT.name => self.connect_timeout = d,
            Value::Time(d) if name == settings::BACKOFF_BASE.name => self.backoff_base = d,
            Value::Time(d) if name == settings::BACKOFF_CAP.name => self.backoff_cap = d,
            Value::Time(d) if name == settings::DEADLINE.name => self.deadline = Some(d),
            Value::Time(d) if name == settings::MAX_RETRY_AFTER.name => self.max_retry_after = d,
            _ => return false,
        }
        true
    }

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
        let builder = builder
            .policy(policy)
            .connect_timeout(self.connect_timeout)
            .fast_forward_waits(self.fast_forward_waits)
            .http_options(self.http);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A setting's name, a value for it, and whether options hold that value in its field.
    type Case = (&'static str, Value, fn(&ClientOptions) -> bool);

    #[test]
    fn each_setting_name_sets_its_own_field_and_no_other() {
        let d = Duration::from_millis(4321);
        let cases: [Case; 8] = [
            (settings::MAX_ATTEMPTS.name, Value::Count(7), |o| o.max_attempts == 7),
            (settings::MAX_RATE_LIMIT_WAITS.name, Value::Count(7), |o| o.max_rate_limit_waits == 7),
            (settings::TIMEOUT.name, Value::Time(d), |o| o.timeout == Duration::from_millis(4321)),
            (settings::CONNECT_TIMEOUT.name, Value::Time(d), |o| o.connect_timeout == Duration::from_millis(4321)),
            (settings::BACKOFF_BASE.name, Value::Time(d), |o| o.backoff_base == Duration::from_millis(4321)),
            (settings::BACKOFF_CAP.name, Value::Time(d), |o| o.backoff_cap == Duration::from_millis(4321)),
            (settings::DEADLINE.name, Value::Time(d), |o| o.deadline == Some(Duration::from_millis(4321))),
            (settings::MAX_RETRY_AFTER.name, Value::Time(d), |o| o.max_retry_after == Duration::from_millis(4321)),
        ];
        assert_eq!(cases.len(), ClientOptions::SETTINGS.len(), "every client setting has its case here");
        for (name, value, holds) in cases {
            assert!(ClientOptions::SETTINGS.contains(&name), "{name}");
            let mut options = ClientOptions::default();
            assert!(options.set(name, value), "{name} is a client setting");
            assert!(holds(&options), "{name} set its field");
            let changed = cases.iter().filter(|(_, _, holds)| holds(&options)).count();
            assert_eq!(changed, 1, "{name} set only its own field");
        }
        let mut options = ClientOptions::default();
        assert!(!options.set(settings::LEASE.name, Value::Time(d)), "a Publisher's setting is no client's");
        assert!(!options.set(settings::TIMEOUT.name, Value::Count(3)), "a count is no time");
        assert_eq!(options, ClientOptions::default());
    }
}
