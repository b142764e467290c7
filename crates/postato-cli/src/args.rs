//! Flags shared by the commands that talk to the API: connection, policy, store and output.
//! Each connection setting comes from its flag, then the environment, then the default.

use clap::{Args, ValueEnum};
use postato::postato_core::settings::{self, Row, Setting, Unit, Value};
use postato::{env, Client, ClientBuilder, PublishError, ResultStore, SqliteStore, ValidationError};
use std::sync::Arc;
use std::time::Duration;

/// A default duration as the flags take it.
pub const fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// A number as a flag gives it (negative ones included, so that `-1` is refused by its range,
/// not taken for a flag).
fn number(text: &str) -> Result<f64, String> {
    text.trim().parse::<f64>().map_err(|_| format!("{text:?} is not a number"))
}

/// A `--…-ms` flag: whole milliseconds within the setting's range.
pub fn millis_of(setting: &Setting<Duration>, text: &str) -> Result<u64, String> {
    let value = number(text)?;
    if value.fract() != 0.0 {
        return Err(format!("is {value}: give whole milliseconds"));
    }
    setting.from_f64(value, settings::Units::Millis).map(millis).map_err(|e| e.message)
}

/// A count flag within the setting's range.
pub fn count_of(setting: &Setting<u32>, text: &str) -> Result<u32, String> {
    setting.from_f64(number(text)?, settings::Units::Millis).map_err(|e| e.message)
}

/// The help of a setting's flag: what it means, its unit and its range, from the table.
pub fn help(row: Row) -> String {
    let ms = |value: Value| match value {
        Value::Time(d) => d.as_millis().to_string(),
        other => other.to_string(),
    };
    match row.unit {
        Unit::Time if row.names.cli.is_some_and(|flag| flag.ends_with("-hours")) => {
            format!("{} [in hours: {} to {}]", row.doc, row.min, row.max)
        }
        Unit::Time => format!("{} [in ms: {} to {}]", row.doc, ms(row.min), ms(row.max)),
        Unit::Count | Unit::Bytes => format!("{} [{} to {}]", row.doc, row.min, row.max),
    }
}

/// A duration given in hours (`--key-retention-hours`), shown the same way in `--help`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hours(pub Duration);

impl std::fmt::Display for Hours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0.as_secs_f64() / 3600.0)
    }
}

/// `--key-retention-hours`: how long the API keeps idempotency keys, within its bounds.
pub fn key_retention_hours(text: &str) -> Result<Hours, String> {
    postato::postato_core::bounds::duration_from_f64(
        "",
        number(text)?,
        1.0 / 3600.0,
        "hours",
        &settings::KEY_RETENTION.range(),
    )
    .map(Hours)
    .map_err(|e| e.message)
}

/// `--concurrency`: publishes at once, within its bounds.
pub fn concurrency(text: &str) -> Result<u32, String> {
    count_of(&settings::CONCURRENCY, text)
}

/// The flag (or environment variable) behind a setting an error names, so that the message
/// speaks of what the user typed: the table's flag for a bounded setting.
pub fn flag_for(setting: &str) -> Option<&'static str> {
    Some(match setting {
        "baseUrl" => "--base-url (or POSTATO_BASE_URL)",
        "apiKey" => "--api-key (or POSTATO_API_KEY)",
        "workspaceId" => "--workspace (or POSTATO_WORKSPACE_ID)",
        "caBundle" => "--ca-bundle (or POSTATO_CA_BUNDLE, SSL_CERT_FILE)",
        "store" => "--store",
        _ => return settings::find(setting)?.names.cli,
    })
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// One JSON object per line, for programs.
    Json,
}

/// Where to find the API and how to retry.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// The API's base URL [env: POSTATO_BASE_URL; default: the production API]
    #[arg(long)]
    pub base_url: Option<String>,
    /// The API key [env: POSTATO_API_KEY]; never printed
    #[arg(long)]
    pub api_key: Option<String>,
    /// The workspace to publish into [env: POSTATO_WORKSPACE_ID]
    #[arg(long)]
    pub workspace: Option<String>,
    /// A file of CA certificates (PEM) to trust beside the built-in roots and SSL_CERT_FILE:
    /// your company's CA, when a proxy inspects TLS [env: POSTATO_CA_BUNDLE]
    #[arg(long, value_name = "FILE")]
    pub ca_bundle: Option<String>,
    #[arg(long, help = help(settings::TIMEOUT.row()), default_value_t = millis(settings::TIMEOUT.default_value()),
        value_parser = |t: &str| millis_of(&settings::TIMEOUT, t), allow_negative_numbers = true)]
    pub timeout_ms: u64,
    #[arg(long, help = help(settings::MAX_ATTEMPTS.row()), default_value_t = settings::MAX_ATTEMPTS.default_value(),
        value_parser = |t: &str| count_of(&settings::MAX_ATTEMPTS, t), allow_negative_numbers = true)]
    pub max_attempts: u32,
    #[arg(long, help = help(settings::BACKOFF_BASE.row()), default_value_t = millis(settings::BACKOFF_BASE.default_value()),
        value_parser = |t: &str| millis_of(&settings::BACKOFF_BASE, t), allow_negative_numbers = true)]
    pub backoff_base_ms: u64,
    #[arg(long, help = help(settings::BACKOFF_CAP.row()), default_value_t = millis(settings::BACKOFF_CAP.default_value()),
        value_parser = |t: &str| millis_of(&settings::BACKOFF_CAP, t), allow_negative_numbers = true)]
    pub backoff_cap_ms: u64,
    #[arg(long, help = help(settings::DEADLINE.row()),
        value_parser = |t: &str| millis_of(&settings::DEADLINE, t), allow_negative_numbers = true)]
    pub deadline_ms: Option<u64>,
    #[arg(long, help = help(settings::MAX_RETRY_AFTER.row()), default_value_t = millis(settings::MAX_RETRY_AFTER.default_value()),
        value_parser = |t: &str| millis_of(&settings::MAX_RETRY_AFTER, t), allow_negative_numbers = true)]
    pub max_retry_after_ms: u64,
    /// For tests: waits advance a virtual clock instead of sleeping
    #[arg(long, hide = true)]
    pub fast_forward_waits: bool,
}

fn missing(field: &str, flag: &str, env: &str) -> PublishError {
    PublishError::InvalidInput(ValidationError::setting(field, format!("is missing: pass {flag} or set {env}")))
}

impl ConnectionArgs {
    /// A client builder from the flags and environment.
    pub fn builder(&self) -> Result<ClientBuilder, PublishError> {
        let api_key = env::given_or(self.api_key.clone(), env::API_KEY)?
            .ok_or_else(|| missing("apiKey", "--api-key", env::API_KEY))?;
        let workspace = env::given_or(self.workspace.clone(), env::WORKSPACE_ID)?
            .ok_or_else(|| missing("workspaceId", "--workspace", env::WORKSPACE_ID))?;
        let mut builder = Client::builder()
            .api_key(api_key)
            .workspace_id(workspace)
            .language("cli")
            .timeout(Duration::from_millis(self.timeout_ms))
            .max_attempts(self.max_attempts)
            .backoff(Duration::from_millis(self.backoff_base_ms), Duration::from_millis(self.backoff_cap_ms))
            .deadline(self.deadline_ms.map(Duration::from_millis))
            .max_retry_after(Duration::from_millis(self.max_retry_after_ms))
            .fast_forward_waits(self.fast_forward_waits);
        if let Some(url) = env::given_or(self.base_url.clone(), env::BASE_URL)? {
            builder = builder.base_url(url);
        }
        if let Some(path) = env::given_or(self.ca_bundle.clone(), env::CA_BUNDLE)? {
            builder = builder.ca_bundle(path);
        }
        Ok(builder)
    }

    /// The client.
    pub fn client(&self) -> Result<Client, PublishError> {
        self.builder()?.build()
    }
}

/// What a command does with the store it is given: whether it may create one, and whether it
/// publishes through it (a SQLite store publishes from one process at a time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreUse {
    /// `publish`, `batch`: a new path starts a new store.
    Publish,
    /// `dlq retry`: publishes through a store that must exist (a mistyped path is an error,
    /// not a new store).
    Republish,
    /// `status`, `dlq list`: reads a store that must exist, beside a run publishing through it.
    Read,
}

/// The result store when `--store` is not given: a SQLite file in the current directory.
pub const DEFAULT_STORE: &str = "postato.db";

/// `--store` as it may be shown or written down: a PostgreSQL URL without its credentials and
/// its query (which may hold a password), a SQLite path as given.
pub fn store_display(location: &str) -> String {
    if !is_postgres(location) {
        return location.to_owned();
    }
    // The credentials first: a password may hold `?` or `#`, which are not a query there.
    let without = postato::postato_core::without_credentials(location);
    without.split(['?', '#']).next().unwrap_or_default().to_owned()
}

/// `--store LOCATION` as a command line that names the same store should carry it: nothing for
/// the default, a path quoted for the shell when it needs quoting, and a PostgreSQL URL never
/// (it may hold a password: the line says what goes there instead).
pub fn store_flag(location: &str) -> String {
    if location == DEFAULT_STORE {
        return String::new();
    }
    if is_postgres(location) {
        return " --store <the same PostgreSQL URL>".to_owned();
    }
    // `--store=…`: a path that begins with `-` is not taken for a flag.
    let plain = location.chars().all(|c| c.is_ascii_alphanumeric() || "_-./:@%+=,".contains(c));
    if plain {
        format!(" --store={location}")
    } else {
        format!(" --store='{}'", location.replace('\'', r"'\''"))
    }
}

/// The store as output may name it: a SQLite path as given, a PostgreSQL URL never (it may
/// hold a password).
pub fn store_name(location: &str) -> &str {
    if is_postgres(location) {
        "the PostgreSQL store"
    } else {
        location
    }
}

pub fn is_postgres(location: &str) -> bool {
    location.starts_with("postgres://") || location.starts_with("postgresql://")
}

/// `--store`: where the result store is, refused when blank (SQLite would take an empty name
/// for a temporary database). A blank value is a usage error, found before anything runs;
/// whether the store can be opened is learnt by opening it ([`open_store`]).
pub fn store_location(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("is empty: give a SQLite file, such as postato.db, or a PostgreSQL URL (postgres://…)".to_owned());
    }
    let scheme = text.split_once("://").map(|(scheme, _)| scheme);
    if let Some(scheme) = scheme.filter(|s| !is_postgres(&format!("{s}://")) && !s.contains(['/', '\\'])) {
        // Never echoed: a URL may hold a password.
        return Err(format!(
            "is a URL of scheme {:?}: give a PostgreSQL URL (postgres:// or postgresql://, in lowercase) or a SQLite file",
            postato::postato_core::without_credentials(scheme)
        ));
    }
    Ok(text.to_owned())
}

/// Opens the result store named by `--store`: a `postgres://` (or `postgresql://`) URL, shared
/// by many workers, or a SQLite file path. A PostgreSQL pool holds one connection per request
/// in flight (`concurrency`, 0 for a command that only reads) and two more for claims' renewals
/// and reads; a batch's lines in their store steps (as many again at most) wait their turn for
/// one, a store step being short beside a request. The error, a store that cannot be opened or
/// reached, is said as `--store: what is wrong`; commands exit 1 ([`crate::exit::FAILURE`]) on it.
pub async fn open_store(location: &str, concurrency: u32, mode: StoreUse) -> Result<Arc<dyn ResultStore>, String> {
    let store = if is_postgres(location) {
        let pool = (concurrency + 2).min(settings::POOL_SIZE.max) as usize;
        let audit = std::env::var("POSTATO_AUDIT_CLAIMS").as_deref() == Ok("1");
        postato_postgres::PostgresStore::connect(location, pool)
            .await
            .map(|store| Arc::new(store.with_audit(audit)) as Arc<dyn ResultStore>)
    } else {
        // A store that another process publishes through is refused before any input is read.
        let locked = |store: SqliteStore| store.lock_for_publishing().map(|()| store);
        match mode {
            StoreUse::Publish => SqliteStore::open(location).and_then(locked),
            StoreUse::Republish => SqliteStore::open_existing(location).and_then(locked),
            StoreUse::Read => SqliteStore::open_existing(location),
        }
        .map(|store| Arc::new(store) as Arc<dyn ResultStore>)
    };
    store.map_err(|e| format!("--store: {}", e.message()))
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_store_is_shown_without_its_credentials_or_query() {
        for url in [
            "postgres://u:pa?ss@host/db",
            "postgres://u:pa#ss@host/db?sslmode=require",
            "postgres://u:p@ss@host/db",
            "postgresql://u:secret@host:5432/db?password=secret",
        ] {
            let shown = store_display(url);
            assert!(!shown.contains("pa") && !shown.contains("ss") && !shown.contains("secret"), "{url} -> {shown}");
            assert!(shown.ends_with("@host/db") || shown.ends_with("@host:5432/db"), "{url} -> {shown}");
        }
        assert_eq!(store_display("posts.db"), "posts.db");
    }

    use super::*;
    use clap::CommandFactory;

    /// A flag as `--help` shows it: its command, its name, its default and its help.
    struct Flag {
        command: String,
        name: String,
        default: Option<String>,
        help: String,
    }

    /// Every flag of every command.
    fn flags(command: &clap::Command, found: &mut Vec<Flag>) {
        for arg in command.get_arguments() {
            if let Some(long) = arg.get_long() {
                found.push(Flag {
                    command: command.get_name().to_owned(),
                    name: format!("--{long}"),
                    default: arg.get_default_values().first().map(|d| d.to_string_lossy().into_owned()),
                    help: arg.get_help().map(|h| h.to_string()).unwrap_or_default(),
                });
            }
        }
        for sub in command.get_subcommands() {
            flags(sub, found);
        }
    }

    #[test]
    fn every_setting_flag_is_named_defaulted_and_helped_as_the_settings_table_says() {
        let mut found = Vec::new();
        flags(&crate::Cli::command(), &mut found);
        for row in settings::ALL {
            let Some(flag) = row.names.cli else { continue };
            let flags: Vec<&Flag> = found.iter().filter(|f| f.name == flag).collect();
            assert!(!flags.is_empty(), "no command has {flag}, the flag of {}", row.name);
            let expected = match row.default {
                Some(Value::Time(d)) if flag.ends_with("-hours") => Some(Hours(d).to_string()),
                Some(Value::Time(d)) => Some(d.as_millis().to_string()),
                Some(Value::Count(n) | Value::Bytes(n)) => Some(n.to_string()),
                None => None,
            };
            for found in flags {
                assert_eq!(found.help, help(*row), "{flag}'s help in `{}`", found.command);
                // The demo picks its own concurrency, to show the simulator's faults sooner.
                if found.command != "demo" {
                    assert_eq!(found.default, expected, "{flag}'s default in `{}`", found.command);
                }
            }
            assert_eq!(flag_for(row.name), Some(flag), "an error naming {} names {flag}", row.name);
        }
    }

    #[test]
    fn a_flag_s_help_gives_the_range_of_its_setting() {
        assert_eq!(help(settings::TIMEOUT.row()), format!("{} [in ms: 1 to 600000]", settings::TIMEOUT.doc));
        assert_eq!(help(settings::CONCURRENCY.row()), "Requests in flight at once [1 to 1024]");
        assert_eq!(
            help(settings::KEY_RETENTION.row()),
            format!("{} [in hours: 1 s to 365 days]", settings::KEY_RETENTION.doc)
        );
    }
}
