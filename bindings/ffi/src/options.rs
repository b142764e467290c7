//! A language's client options as its users gave them (absent means the default), turned
//! into [`postato::ClientOptions`]; and the defaults as every binding reports them.

use postato::postato_core::bounds;
use postato::{env, CallOptions, Client, ClientBuilder, ClientOptions, PublishError};
use serde::Serialize;
use std::ops::RangeInclusive;
use std::time::Duration;

/// How a language writes durations. Errors name a setting in camelCase, as every other
/// error field is named (`backoffBase`), with `Ms` where the language gives milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Units {
    /// Python: seconds.
    Seconds,
    /// Node, Kotlin and Swift: milliseconds.
    Millis,
}

/// `backoff_base` → `backoffBase`.
fn camel_case(snake: &str) -> String {
    let mut camel = String::new();
    let mut upper = false;
    for c in snake.chars() {
        match c {
            '_' => upper = true,
            c if upper => {
                camel.extend(c.to_uppercase());
                upper = false;
            }
            c => camel.push(c),
        }
    }
    camel
}

impl Units {
    /// The setting's name as this language's users know it in errors (`backoffBaseMs`).
    fn name(self, snake: &str) -> String {
        match self {
            Units::Seconds => camel_case(snake),
            Units::Millis => format!("{}Ms", camel_case(snake)),
        }
    }

    /// A duration given in this language's units, within `range` (see `postato_core::bounds`).
    pub(crate) fn duration(
        self,
        snake: &str,
        value: f64,
        range: &RangeInclusive<Duration>,
    ) -> Result<Duration, PublishError> {
        let (per_second, unit) = match self {
            Units::Seconds => (1.0, "seconds"),
            Units::Millis => (1000.0, "milliseconds"),
        };
        Ok(bounds::duration_from_f64(&self.name(snake), value, per_second, unit, range)?)
    }

    fn report(self, duration: Duration) -> f64 {
        match self {
            Units::Seconds => duration.as_secs_f64(),
            Units::Millis => duration.as_secs_f64() * 1000.0,
        }
    }
}

/// A PostgreSQL pool size as a language gives it (a number), within its bounds.
pub fn pool_size(value: f64) -> Result<usize, PublishError> {
    count("pool_size", value, &bounds::POSTGRES_POOL_SIZE).map(|n| n as usize)
}

/// A count given as a number (JavaScript has no other; a Python int arrives as one too), so
/// that `2**32 + 3` is refused rather than wrapped to 3, and `2.5` rather than cut to 2.
pub(crate) fn count(snake: &str, value: f64, range: &RangeInclusive<u32>) -> Result<u32, PublishError> {
    Ok(bounds::count_from_f64(&camel_case(snake), value, range)?)
}

/// Client options as a language's user gave them: `None` is "not given" (the default).
/// Durations are in the language's [`Units`].
#[derive(Clone, Debug, Default)]
pub struct GivenOptions {
    /// The API's base URL (default: production).
    pub base_url: Option<String>,
    /// A file of CA certificates (PEM) to trust.
    pub ca_bundle: Option<String>,
    /// Attempts that may end in a retryable failure.
    pub max_attempts: Option<f64>,
    /// The limit on one attempt.
    pub timeout: Option<f64>,
    /// The limit on connecting.
    pub connect_timeout: Option<f64>,
    /// The first backoff.
    pub backoff_base: Option<f64>,
    /// The largest backoff.
    pub backoff_cap: Option<f64>,
    /// A limit on each whole publish (default: none).
    pub deadline: Option<f64>,
    /// 429 waits one publish may make.
    pub max_rate_limit_waits: Option<f64>,
    /// The longest wait a publish makes before ending.
    pub max_retry_after: Option<f64>,
    /// For tests: waits advance a virtual clock.
    pub fast_forward_waits: Option<bool>,
}

impl GivenOptions {
    /// The options with every absent setting at its default; a value outside its bounds
    /// (`postato_core::bounds`), not a number or not whole where a count is due is an
    /// `InvalidInput` naming the setting as the user wrote it. An empty base URL is an error,
    /// never the production API.
    pub fn resolve(self, units: Units) -> Result<ClientOptions, PublishError> {
        let defaults = ClientOptions::default();
        let duration = |snake: &str, given: Option<f64>, range, default: Duration| match given {
            Some(value) => units.duration(snake, value, range),
            None => Ok(default),
        };
        let counted = |snake: &str, given: Option<f64>, range, default: u32| match given {
            Some(value) => count(snake, value, range),
            None => Ok(default),
        };
        let mut options = ClientOptions::default();
        options.base_url = env::given_or(self.base_url, env::BASE_URL)?.or(defaults.base_url);
        options.ca_bundle = env::given_or(self.ca_bundle, env::CA_BUNDLE)?.or(defaults.ca_bundle);
        options.max_attempts =
            counted("max_attempts", self.max_attempts, &bounds::MAX_ATTEMPTS, defaults.max_attempts)?;
        options.attempt_timeout =
            duration("timeout", self.timeout, &bounds::ATTEMPT_TIMEOUT, defaults.attempt_timeout)?;
        options.connect_timeout =
            duration("connect_timeout", self.connect_timeout, &bounds::CONNECT_TIMEOUT, defaults.connect_timeout)?;
        options.backoff_base =
            duration("backoff_base", self.backoff_base, &bounds::BACKOFF_BASE, defaults.backoff_base)?;
        options.backoff_cap = duration("backoff_cap", self.backoff_cap, &bounds::BACKOFF_CAP, defaults.backoff_cap)?;
        options.deadline = match self.deadline {
            Some(value) => Some(units.duration("deadline", value, &bounds::DEADLINE)?),
            None => defaults.deadline,
        };
        options.max_rate_limit_waits = counted(
            "max_rate_limit_waits",
            self.max_rate_limit_waits,
            &bounds::MAX_RATE_LIMIT_WAITS,
            defaults.max_rate_limit_waits,
        )?;
        options.max_retry_after =
            duration("max_retry_after", self.max_retry_after, &bounds::MAX_RETRY_AFTER, defaults.max_retry_after)?;
        options.fast_forward_waits = self.fast_forward_waits.unwrap_or(defaults.fast_forward_waits);
        Ok(options)
    }
}

/// A client's builder from a language's arguments: the API key, workspace and base URL each
/// from its argument, else the environment (`POSTATO_API_KEY`, `POSTATO_WORKSPACE_ID`,
/// `POSTATO_BASE_URL`), else (for the base URL) the default; a key or workspace given
/// nowhere is an error saying both ways to give it. `language` names the binding in the
/// `User-Agent`.
pub fn client_builder(
    api_key: Option<String>,
    workspace_id: Option<String>,
    options: GivenOptions,
    units: Units,
    language: &str,
) -> Result<ClientBuilder, PublishError> {
    let api_key = env::given_or(api_key, env::API_KEY)?;
    let workspace_id = env::given_or(workspace_id, env::WORKSPACE_ID)?;
    let mut builder = options.resolve(units)?.apply(Client::builder().language(language));
    if let Some(key) = api_key {
        builder = builder.api_key(key);
    }
    if let Some(workspace) = workspace_id {
        builder = builder.workspace_id(workspace);
    }
    Ok(builder)
}

/// Options for one publish as a language's user gave them (absent: the client's), in the
/// language's [`Units`]; checked by the rules of the client's settings of the same names.
#[derive(Clone, Copy, Debug, Default)]
pub struct GivenCallOptions {
    /// A limit on the whole publish.
    pub deadline: Option<f64>,
    /// Attempts that may end in a retryable failure.
    pub max_attempts: Option<f64>,
}

impl GivenCallOptions {
    /// The options, each within the bounds of the client's setting of the same name.
    pub fn resolve(self, units: Units) -> Result<CallOptions, PublishError> {
        let mut options = CallOptions::default();
        if let Some(value) = self.deadline {
            options.deadline = Some(units.duration("deadline", value, &bounds::DEADLINE)?);
        }
        if let Some(value) = self.max_attempts {
            options.max_attempts = Some(count("max_attempts", value, &bounds::MAX_ATTEMPTS)?);
        }
        Ok(options)
    }
}

/// The defaults as a binding reports them to its users, in its [`Units`]. The test vector
/// `tests/vectors/client-defaults.json` pins them (in milliseconds) for every language.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientDefaults {
    /// The production API.
    pub base_url: String,
    /// See [`postato::ClientOptions`].
    pub max_attempts: u32,
    /// The attempt timeout.
    pub timeout: f64,
    /// The connect timeout.
    pub connect_timeout: f64,
    /// The first backoff.
    pub backoff_base: f64,
    /// The largest backoff.
    pub backoff_cap: f64,
    /// The deadline (none).
    pub deadline: Option<f64>,
    /// 429 waits one publish may make.
    pub max_rate_limit_waits: u32,
    /// The longest wait a publish makes.
    pub max_retry_after: f64,
    /// Posts in flight at once in `publish_many`.
    pub concurrency: u32,
}

impl ClientDefaults {
    /// The defaults of [`postato::ClientOptions`], durations in `units`.
    pub fn new(units: Units) -> Self {
        let d = ClientOptions::default();
        ClientDefaults {
            base_url: d.base_url.unwrap_or_else(|| postato::DEFAULT_BASE_URL.to_owned()),
            max_attempts: d.max_attempts,
            timeout: units.report(d.attempt_timeout),
            connect_timeout: units.report(d.connect_timeout),
            backoff_base: units.report(d.backoff_base),
            backoff_cap: units.report(d.backoff_cap),
            deadline: d.deadline.map(|d| units.report(d)),
            max_rate_limit_waits: d.max_rate_limit_waits,
            max_retry_after: units.report(d.max_retry_after),
            concurrency: postato::postato_core::defaults::CONCURRENCY,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_given_is_the_client_defaults() {
        assert_eq!(GivenOptions::default().resolve(Units::Millis).unwrap(), ClientOptions::default());
        assert_eq!(GivenOptions::default().resolve(Units::Seconds).unwrap(), ClientOptions::default());
    }

    #[test]
    fn durations_are_read_in_the_languages_units() {
        let given = GivenOptions { backoff_base: Some(250.0), ..GivenOptions::default() };
        assert_eq!(given.clone().resolve(Units::Millis).unwrap().backoff_base, Duration::from_millis(250));
        assert_eq!(given.resolve(Units::Seconds).unwrap().backoff_base, Duration::from_secs(250));
    }

    #[test]
    fn a_bad_duration_names_the_setting_as_the_user_wrote_it() {
        for (units, name) in [(Units::Seconds, "maxRetryAfter"), (Units::Millis, "maxRetryAfterMs")] {
            let given = GivenOptions { max_retry_after: Some(-1.0), ..GivenOptions::default() };
            let PublishError::InvalidInput(e) = given.resolve(units).unwrap_err() else { panic!("not invalid input") };
            assert_eq!(e.field, name);
            let given = GivenOptions { timeout: Some(f64::NAN), ..GivenOptions::default() };
            assert!(matches!(given.resolve(units), Err(PublishError::InvalidInput(_))));
        }
    }

    #[test]
    fn counts_are_never_wrapped_or_cut_and_durations_are_bounded() {
        for bad in [2f64.powi(32) + 3.0, 2.5, f64::NAN, -1.0, 0.0, 1e300] {
            let given = GivenOptions { max_attempts: Some(bad), ..GivenOptions::default() };
            let PublishError::InvalidInput(e) = given.resolve(Units::Millis).unwrap_err() else { panic!() };
            assert_eq!(e.field, "maxAttempts");
            assert!(e.message.len() < 80, "{}", e.message);
        }
        let given = GivenOptions { backoff_base: Some(2f64.powi(53)), ..GivenOptions::default() };
        let PublishError::InvalidInput(e) = given.resolve(Units::Millis).unwrap_err() else { panic!() };
        assert_eq!((e.field.as_str(), e.subject), ("backoffBaseMs", postato::Subject::Setting));
        let given = GivenOptions { max_attempts: Some(7.0), ..GivenOptions::default() };
        assert_eq!(given.resolve(Units::Seconds).unwrap().max_attempts, 7);
    }

    #[test]
    fn per_call_options_are_read_in_the_languages_units_within_the_client_settings_bounds() {
        let given = GivenCallOptions { deadline: Some(1.5), max_attempts: Some(2.0) };
        let options = given.resolve(Units::Seconds).unwrap();
        assert_eq!((options.deadline, options.max_attempts), (Some(Duration::from_millis(1500)), Some(2)));
        let given = GivenCallOptions { max_attempts: Some(2f64.powi(32) + 3.0), ..GivenCallOptions::default() };
        let PublishError::InvalidInput(e) = given.resolve(Units::Millis).unwrap_err() else { panic!() };
        assert_eq!(e.field, "maxAttempts");
        let given = GivenCallOptions { deadline: Some(0.0), ..GivenCallOptions::default() };
        let PublishError::InvalidInput(e) = given.resolve(Units::Millis).unwrap_err() else { panic!() };
        assert_eq!(e.field, "deadlineMs");
        assert!(GivenCallOptions::default().resolve(Units::Millis).unwrap().is_empty());
    }

    #[test]
    fn the_reported_defaults_are_the_shared_test_vector() {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/vectors/client-defaults.json")).unwrap();
        assert_eq!(serde_json::to_value(ClientDefaults::new(Units::Millis)).unwrap(), vector);
        let seconds = ClientDefaults::new(Units::Seconds);
        assert_eq!(seconds.timeout * 1000.0, vector["timeout"].as_f64().unwrap());
    }
}
