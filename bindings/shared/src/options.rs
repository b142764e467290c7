//! A language's client options as its users gave them (absent means the default), turned
//! into [`postato::ClientOptions`]; and the defaults as every binding reports them.

use postato::postato_core::settings::{self, Names, Setting};
use postato::{env, CallOptions, Client, ClientBuilder, ClientOptions, HttpOptions, PublishError, ValidationError};
use serde::Serialize;
use std::time::Duration;

pub use postato::postato_core::settings::Units;

/// A duration given in the language's units, within the setting's range; the error names it as
/// the language's users write it (`backoffBaseMs`).
pub(crate) fn duration(setting: &Setting<Duration>, value: f64, units: Units) -> Result<Duration, PublishError> {
    Ok(setting.from_f64(value, units)?)
}

/// A count given as a number (JavaScript has no other; a Python int arrives as one too), so
/// that `2**32 + 3` is refused rather than wrapped to 3, and `2.5` rather than cut to 2.
pub(crate) fn count(setting: &Setting<u32>, value: f64) -> Result<u32, PublishError> {
    Ok(setting.from_f64(value, Units::Seconds)?)
}

/// A PostgreSQL pool size as a language gives it (a number), within its bounds.
pub fn pool_size(value: f64) -> Result<usize, PublishError> {
    count(&settings::POOL_SIZE, value).map(|n| n as usize)
}

/// A dead-letter listing's `limit` as a language gives it (a number; absent: the default),
/// within its bounds.
pub fn dead_letter_limit(value: Option<f64>) -> Result<usize, PublishError> {
    match value {
        Some(value) => count(&settings::DEAD_LETTER_LIMIT, value).map(|n| n as usize),
        None => Ok(settings::DEAD_LETTER_LIMIT.default_value() as usize),
    }
}

/// Which column of the settings table names a language's settings (`|n| n.python`).
pub type Column = fn(&Names) -> Option<&'static str>;

/// The bounded client settings ([`ClientOptions::SETTINGS`]) under a language's names, each
/// with the name its errors give it: what a language's wrapper loops over to hand its
/// users' options to [`GivenOptions`], so that a new setting needs no code of its own there.
pub fn client_settings(column: Column, units: Units) -> Vec<(&'static str, &'static str)> {
    offered(&ClientOptions::SETTINGS, column, units)
}

/// The settings named `names` (in [`postato_core::settings`]) under a language's names, each
/// with the name its errors give it.
fn offered(names: &[&str], column: Column, units: Units) -> Vec<(&'static str, &'static str)> {
    names
        .iter()
        .filter_map(|name| settings::find(name))
        .filter_map(|row| Some((column(&row.names)?, units.error_name(row))))
        .collect()
}

/// Sets each of `given` (under a language's names, in its units) with `set`, which takes a
/// setting's name in [`postato_core::settings`] and its value within bounds and says whether
/// it is one of its own; a name that is not is an `InvalidInput` saying it is not `what`.
fn set_each(
    given: &[(String, f64)],
    (units, column): (Units, Column),
    what: &str,
    mut set: impl FnMut(&str, settings::Value) -> bool,
) -> Result<(), PublishError> {
    for (name, value) in given {
        let row = settings::ALL.iter().find(|row| column(&row.names) == Some(name.as_str()));
        let taken = match row {
            Some(row) => set(row.name, row.from_f64(*value, units)?),
            None => false,
        };
        if !taken {
            return Err(ValidationError::setting(name.as_str(), format!("is not {what}")).into());
        }
    }
    Ok(())
}

/// Client options as a language's user gave them: `None` (or absent) is "not given" (the
/// default).
#[derive(Clone, Debug, Default)]
pub struct GivenOptions {
    /// The API's base URL (default: production).
    pub base_url: Option<String>,
    /// A file of CA certificates (PEM) to trust.
    pub ca_bundle: Option<String>,
    /// Each bounded client setting given, under the language's name for it (its column of the
    /// settings table: `max_attempts`, `maxAttempts`, `timeoutMs`), in the language's [`Units`].
    pub settings: Vec<(String, f64)>,
    /// For tests: waits advance a virtual clock.
    pub fast_forward_waits: Option<bool>,
    /// Headers sent with every request, and a proxy; checked when the client is built.
    pub http: HttpOptions,
    /// Where the client records its metrics for the language to take (when the language
    /// has OpenTelemetry).
    pub tally: Option<std::sync::Arc<crate::Tally>>,
}

impl GivenOptions {
    /// The options with every absent setting at its default; a value outside its bounds
    /// (`postato_core::settings`), not a number or not whole where a count is due is an
    /// `InvalidInput` naming the setting as the user wrote it, and so is a name that is not a
    /// client setting. An empty base URL is an error, never the production API.
    pub fn resolve(self, units: Units, column: Column) -> Result<ClientOptions, PublishError> {
        let mut options = ClientOptions::default();
        options.base_url = env::given_or(self.base_url, env::BASE_URL)?.or(options.base_url);
        options.ca_bundle = env::given_or(self.ca_bundle, env::CA_BUNDLE)?.or(options.ca_bundle);
        set_each(&self.settings, (units, column), "a client setting", |name, value| options.set(name, value))?;
        options.fast_forward_waits = self.fast_forward_waits.unwrap_or(options.fast_forward_waits);
        options.http = self.http;
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
    (units, column): (Units, Column),
    language: &str,
) -> Result<ClientBuilder, PublishError> {
    let api_key = env::given_or(api_key, env::API_KEY)?;
    let workspace_id = env::given_or(workspace_id, env::WORKSPACE_ID)?;
    let tally = options.tally.clone();
    let mut builder = options.resolve(units, column)?.apply(Client::builder().language(language));
    if let Some(tally) = tally {
        builder = builder.metrics(tally);
    }
    if let Some(key) = api_key {
        builder = builder.api_key(key);
    }
    if let Some(workspace) = workspace_id {
        builder = builder.workspace_id(workspace);
    }
    Ok(builder)
}

/// The per-call options ([`CallOptions::SETTINGS`]) under a language's names, each with the
/// name its errors give it: what a language's wrapper offers on every publish call and hands
/// over as [`GivenCallOptions`], so that a new per-call option needs no code of its own there.
pub fn call_settings(column: Column, units: Units) -> Vec<(&'static str, &'static str)> {
    offered(&CallOptions::SETTINGS, column, units)
}

/// Options for one publish as a language's user gave them: each under the language's name
/// for it (`deadline`, `deadlineMs`), in the language's [`Units`]; absent ones are the
/// client's. Checked by the rules of the client's settings of the same names.
#[derive(Clone, Debug, Default)]
pub struct GivenCallOptions(pub Vec<(String, f64)>);

impl GivenCallOptions {
    /// The options, each within the bounds of the client's setting of the same name; a name
    /// that is not a per-call option is an `InvalidInput` naming it.
    pub fn resolve(self, units: Units, column: Column) -> Result<CallOptions, PublishError> {
        let mut options = CallOptions::default();
        set_each(&self.0, (units, column), "an option of a publish", |name, value| options.set(name, value))?;
        Ok(options)
    }
}

/// The defaults as a binding reports them to its users, in its [`Units`]; each language's tests
/// check them against `tests/vectors/settings.json`.
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
            timeout: units.report(d.timeout),
            connect_timeout: units.report(d.connect_timeout),
            backoff_base: units.report(d.backoff_base),
            backoff_cap: units.report(d.backoff_cap),
            deadline: d.deadline.map(|d| units.report(d)),
            max_rate_limit_waits: d.max_rate_limit_waits,
            max_retry_after: units.report(d.max_retry_after),
            concurrency: settings::CONCURRENCY.default_value(),
        }
    }

    /// As a JSON object keyed by a language's names for the settings, the table's column for it
    /// (`name`: `|n| n.python`), and `base_url` for the base URL: what Python's and Node's
    /// `DEFAULTS` are made of, with no renaming of their own.
    pub fn json_in(&self, name: fn(&Names) -> Option<&'static str>, base_url: &str) -> String {
        let serde_json::Value::Object(fields) = serde_json::to_value(self).unwrap_or_default() else {
            return String::new();
        };
        let renamed: serde_json::Map<String, serde_json::Value> = fields
            .into_iter()
            .map(|(key, value)| match settings::find(&key).and_then(|row| name(&row.names)) {
                Some(named) => (named.to_owned(), value),
                None if key == "baseUrl" => (base_url.to_owned(), value),
                None => (key, value),
            })
            .collect();
        serde_json::to_string(&renamed).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PYTHON: Column = |n| n.python;
    const NODE: Column = |n| n.node;

    fn given(settings: &[(&str, f64)]) -> GivenOptions {
        let settings = settings.iter().map(|(name, value)| (name.to_string(), *value)).collect();
        GivenOptions { settings, ..GivenOptions::default() }
    }

    #[test]
    fn nothing_given_is_the_client_defaults() {
        assert_eq!(GivenOptions::default().resolve(Units::Millis, NODE).unwrap(), ClientOptions::default());
        assert_eq!(GivenOptions::default().resolve(Units::Seconds, PYTHON).unwrap(), ClientOptions::default());
    }

    #[test]
    fn durations_are_read_in_the_languages_units_under_its_names() {
        let node = given(&[("backoffBaseMs", 250.0)]).resolve(Units::Millis, NODE).unwrap();
        assert_eq!(node.backoff_base, Duration::from_millis(250));
        let python = given(&[("backoff_base", 250.0)]).resolve(Units::Seconds, PYTHON).unwrap();
        assert_eq!(python.backoff_base, Duration::from_secs(250));
    }

    #[test]
    fn every_client_setting_is_taken_under_each_languages_name() {
        for (column, units) in [(PYTHON, Units::Seconds), (NODE, Units::Millis), (|n: &Names| n.kotlin, Units::Millis)]
        {
            let offered = client_settings(column, units);
            assert_eq!(offered.len(), ClientOptions::SETTINGS.len());
            for (name, _) in offered {
                let row = settings::ALL.iter().find(|row| column(&row.names) == Some(name)).unwrap();
                let max = match row.max {
                    settings::Value::Time(d) => units.report(d),
                    settings::Value::Count(n) | settings::Value::Bytes(n) => f64::from(n),
                };
                let options = given(&[(name, max)]).resolve(units, column).unwrap();
                assert_ne!(options, ClientOptions::default(), "{name} was set");
            }
        }
    }

    #[test]
    fn a_name_that_is_no_client_setting_is_refused_by_name() {
        for name in ["lease", "maxAttempt", "max_attempts"] {
            let PublishError::InvalidInput(e) = given(&[(name, 1.0)]).resolve(Units::Millis, NODE).unwrap_err() else {
                panic!("{name} taken")
            };
            assert_eq!((e.field.as_str(), e.message.as_str()), (name, "is not a client setting"));
        }
    }

    #[test]
    fn a_bad_duration_names_the_setting_as_the_user_wrote_it() {
        for (units, column, given_as, name) in [
            (Units::Seconds, PYTHON, "max_retry_after", "maxRetryAfter"),
            (Units::Millis, NODE, "maxRetryAfterMs", "maxRetryAfterMs"),
        ] {
            let PublishError::InvalidInput(e) = given(&[(given_as, -1.0)]).resolve(units, column).unwrap_err() else {
                panic!("not invalid input")
            };
            assert_eq!(e.field, name);
            let timeout = if units == Units::Seconds { "timeout" } else { "timeoutMs" };
            assert!(matches!(given(&[(timeout, f64::NAN)]).resolve(units, column), Err(PublishError::InvalidInput(_))));
        }
    }

    #[test]
    fn counts_are_never_wrapped_or_cut_and_durations_are_bounded() {
        for bad in [2f64.powi(32) + 3.0, 2.5, f64::NAN, -1.0, 0.0, 1e300] {
            let PublishError::InvalidInput(e) =
                given(&[("maxAttempts", bad)]).resolve(Units::Millis, NODE).unwrap_err()
            else {
                panic!()
            };
            assert_eq!(e.field, "maxAttempts");
            assert!(e.message.len() < 80, "{}", e.message);
        }
        let PublishError::InvalidInput(e) =
            given(&[("backoffBaseMs", 2f64.powi(53))]).resolve(Units::Millis, NODE).unwrap_err()
        else {
            panic!()
        };
        assert_eq!((e.field.as_str(), e.subject), ("backoffBaseMs", postato::Subject::Setting));
        assert_eq!(given(&[("max_attempts", 7.0)]).resolve(Units::Seconds, PYTHON).unwrap().max_attempts, 7);
    }

    fn call(options: &[(&str, f64)]) -> GivenCallOptions {
        GivenCallOptions(options.iter().map(|(name, value)| (name.to_string(), *value)).collect())
    }

    #[test]
    fn per_call_options_are_read_in_the_languages_units_within_the_client_settings_bounds() {
        let options = call(&[("deadline", 1.5), ("max_attempts", 2.0), ("timeout", 0.25)])
            .resolve(Units::Seconds, PYTHON)
            .unwrap();
        assert_eq!(options.deadline, Some(Duration::from_millis(1500)));
        assert_eq!((options.max_attempts, options.timeout), (Some(2), Some(Duration::from_millis(250))));
        let node = call(&[("timeoutMs", 250.0)]).resolve(Units::Millis, NODE).unwrap();
        assert_eq!(node.timeout, Some(Duration::from_millis(250)));
        for (given, field) in [
            (("maxAttempts", 2f64.powi(32) + 3.0), "maxAttempts"),
            (("deadlineMs", 0.0), "deadlineMs"),
            (("timeoutMs", 0.5), "timeoutMs"),
            (("timeoutMs", 3_600_000.0), "timeoutMs"),
            (("backoffBaseMs", 10.0), "backoffBaseMs"),
            (("timeout", 1.0), "timeout"),
        ] {
            let PublishError::InvalidInput(e) = call(&[given]).resolve(Units::Millis, NODE).unwrap_err() else {
                panic!("{given:?} taken")
            };
            assert_eq!(e.field, field);
        }
        let PublishError::InvalidInput(e) = call(&[("backoffBaseMs", 10.0)]).resolve(Units::Millis, NODE).unwrap_err()
        else {
            panic!()
        };
        assert_eq!(e.message, "is not an option of a publish");
        assert!(GivenCallOptions::default().resolve(Units::Millis, NODE).unwrap().is_empty());
    }

    #[test]
    fn every_per_call_option_is_offered_under_each_languages_name() {
        for (column, units) in [(PYTHON, Units::Seconds), (NODE, Units::Millis), (|n: &Names| n.kotlin, Units::Millis)]
        {
            let offered = call_settings(column, units);
            assert_eq!(offered.len(), CallOptions::SETTINGS.len());
            for (name, _) in offered {
                assert!(!call(&[(name, 2.0)]).resolve(units, column).unwrap().is_empty(), "{name} was set");
            }
        }
    }

    #[test]
    fn the_reported_defaults_are_the_settings_table_s_in_each_language_s_names() {
        let vector: serde_json::Value =
            serde_json::from_str(include_str!("../../../tests/vectors/settings.json")).unwrap();
        let node: serde_json::Value =
            serde_json::from_str(&ClientDefaults::new(Units::Millis).json_in(|n| n.node, "baseUrl")).unwrap();
        let python: serde_json::Value =
            serde_json::from_str(&ClientDefaults::new(Units::Seconds).json_in(|n| n.python, "base_url")).unwrap();
        assert_eq!(node["baseUrl"], vector["baseUrl"]);
        assert_eq!(python["base_url"], vector["baseUrl"]);
        let mut checked = 0;
        for setting in vector["settings"].as_array().unwrap() {
            let Some(reported) = node.get(setting["node"].as_str().unwrap_or_default()) else { continue };
            assert_eq!(reported.as_f64(), setting["default"].as_f64(), "{setting}");
            let in_seconds = python[setting["python"].as_str().unwrap()].as_f64();
            let factor = if setting["unit"] == "ms" { 1000.0 } else { 1.0 };
            assert_eq!(in_seconds.map(|s| s * factor), setting["default"].as_f64(), "{setting}");
            checked += 1;
        }
        assert_eq!(checked, node.as_object().unwrap().len() - 1, "every default is a setting of the table");
    }
}
