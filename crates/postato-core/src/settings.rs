//! Every bounded setting a user can give, written once: its name, what it means, its unit,
//! its range, its default and each language's name for it. Everything else derives from this
//! table: [`bounds`] and [`defaults`](crate::defaults) take their constants
//! from it, the client and every binding check values against it, the CLI builds its flags'
//! help from it, and docs/settings.md holds [`markdown_table`]. The table is plain `const`
//! items gathered by one small macro (`table!`) into [`ALL`], so that a new setting is one
//! item here; `tests/vectors/settings.json` is [`vector_json`], which every language's test
//! suite reads to check its own names and defaults against it.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::bounds;
use crate::validate::ValidationError;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// One setting: `T` is `u32` for counts and sizes, [`Duration`] for times.
#[derive(Clone, Copy, Debug)]
pub struct Setting<T> {
    /// The setting's camelCase name, as errors and docs/settings.md name it.
    pub name: &'static str,
    /// What it means, in one line (the CLI's help says it).
    pub doc: &'static str,
    /// What a count counts (a time's unit is the language's).
    pub unit: Unit,
    /// The smallest value allowed.
    pub min: T,
    /// The largest value allowed.
    pub max: T,
    /// The default (`None`: no limit unless given).
    pub default: Option<T>,
    /// Each surface's name for it.
    pub names: Names,
}

/// What a setting's number means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A count of things.
    Count,
    /// A size in bytes.
    Bytes,
    /// A time: seconds in Python, milliseconds in Node, Kotlin, Swift and the CLI (unless the
    /// flag's name says `-hours`).
    Time,
}

/// A wire name as Rust and Python spell it: `accountId` → `account_id`, `content[1].text` as
/// it is. A name that starts with a capital, an environment variable such as
/// `POSTATO_API_KEY`, is kept as it is set.
pub fn snake_case(name: &str) -> String {
    if name.starts_with(|c: char| c.is_ascii_uppercase()) {
        return name.to_owned();
    }
    let mut snake = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            snake.push('_');
            snake.push(c.to_ascii_lowercase());
        } else {
            snake.push(c);
        }
    }
    snake
}

/// A setting's name on each surface; `None` where that surface does not offer it.
#[derive(Clone, Copy, Debug)]
pub struct Names {
    /// The Rust `ClientBuilder`/`Publisher`/`ClientOptions` name.
    pub rust: Option<&'static str>,
    /// The Python keyword argument (times in seconds).
    pub python: Option<&'static str>,
    /// The Node option (times in milliseconds, `…Ms`).
    pub node: Option<&'static str>,
    /// The Kotlin parameter or field (times in milliseconds, `…Ms`).
    pub kotlin: Option<&'static str>,
    /// The Swift parameter or field (times in milliseconds, `…Ms`).
    pub swift: Option<&'static str>,
    /// The CLI flag.
    pub cli: Option<&'static str>,
}

/// The names of a setting every language offers under the same rules: Python in snake_case,
/// the others in camelCase with `Ms` on times, the CLI in kebab-case with `-ms` on times.
macro_rules! names {
    (rust: $rust:expr, python: $py:expr, mobile: $mobile:expr, node: $node:expr, cli: $cli:expr $(,)?) => {
        Names { rust: $rust, python: $py, node: $node, kotlin: $mobile, swift: $mobile, cli: $cli }
    };
}

/// Declares the settings and gathers them, in order, into [`ALL`].
macro_rules! table {
    ($($(#[doc = $doc:literal])* pub const $id:ident: Setting<$ty:ty> = $value:expr;)*) => {
        $($(#[doc = $doc])* pub const $id: Setting<$ty> = $value;)*
        /// Every setting, in the order of docs/settings.md.
        pub const ALL: &[Row] = &[$($id.row()),*];
    };
}

table! {
    /// Attempts that may end in a retryable failure.
    pub const MAX_ATTEMPTS: Setting<u32> = Setting {
        name: "maxAttempts",
        doc: "Attempts that may end in a retryable failure (429s are not counted)",
        unit: Unit::Count,
        min: 1,
        max: 100,
        default: Some(5),
        names: names!(rust: Some("max_attempts"), python: Some("max_attempts"), mobile: Some("maxAttempts"), node: Some("maxAttempts"), cli: Some("--max-attempts")),
    };
    /// 429 waits (and gate holds) one publish may make.
    pub const MAX_RATE_LIMIT_WAITS: Setting<u32> = Setting {
        name: "maxRateLimitWaits",
        doc: "429 waits (and rate-limit holds) one publish may make",
        unit: Unit::Count,
        min: 0,
        max: 1000,
        default: Some(20),
        names: names!(rust: Some("max_rate_limit_waits"), python: Some("max_rate_limit_waits"), mobile: Some("maxRateLimitWaits"), node: Some("maxRateLimitWaits"), cli: None),
    };
    /// The limit on one attempt, from sending to the end of the response.
    pub const TIMEOUT: Setting<Duration> = Setting {
        name: "timeout",
        doc: "The limit on each attempt, from sending to the end of the response",
        unit: Unit::Time,
        min: MS,
        max: Duration::from_secs(10 * 60),
        default: Some(Duration::from_secs(30)),
        names: names!(rust: Some("timeout"), python: Some("timeout"), mobile: Some("timeoutMs"), node: Some("timeoutMs"), cli: Some("--timeout-ms")),
    };
    /// The limit on opening a connection (TCP and TLS).
    pub const CONNECT_TIMEOUT: Setting<Duration> = Setting {
        name: "connectTimeout",
        doc: "The limit on opening a connection (TCP and TLS)",
        unit: Unit::Time,
        min: MS,
        max: Duration::from_secs(5 * 60),
        default: Some(Duration::from_secs(10)),
        names: names!(rust: Some("connect_timeout"), python: Some("connect_timeout"), mobile: Some("connectTimeoutMs"), node: Some("connectTimeoutMs"), cli: None),
    };
    /// The first backoff; each retryable failure doubles it.
    pub const BACKOFF_BASE: Setting<Duration> = Setting {
        name: "backoffBase",
        doc: "The first backoff; each retryable failure doubles it",
        unit: Unit::Time,
        min: Duration::ZERO,
        max: Duration::from_secs(10 * 60),
        default: Some(Duration::from_millis(500)),
        names: names!(rust: Some("backoff_base"), python: Some("backoff_base"), mobile: Some("backoffBaseMs"), node: Some("backoffBaseMs"), cli: Some("--backoff-base-ms")),
    };
    /// The largest backoff, before jitter.
    pub const BACKOFF_CAP: Setting<Duration> = Setting {
        name: "backoffCap",
        doc: "The largest backoff, before jitter",
        unit: Unit::Time,
        min: Duration::ZERO,
        max: HOUR,
        default: Some(Duration::from_secs(30)),
        names: names!(rust: Some("backoff_cap"), python: Some("backoff_cap"), mobile: Some("backoffCapMs"), node: Some("backoffCapMs"), cli: Some("--backoff-cap-ms")),
    };
    /// A limit on each whole publish, waits included: none unless given.
    pub const DEADLINE: Setting<Duration> = Setting {
        name: "deadline",
        doc: "A limit on each whole publish, waits included",
        unit: Unit::Time,
        min: MS,
        max: DAY,
        default: None,
        names: names!(rust: Some("deadline"), python: Some("deadline"), mobile: Some("deadlineMs"), node: Some("deadlineMs"), cli: Some("--deadline-ms")),
    };
    /// The longest wait a publish sits through (a Retry-After, a rate-limit hold, pacing or an
    /// empty retry budget): a longer Retry-After, hold or pace defers the post (with a store)
    /// or ends the publish `rate_limited`; a longer wait for the budget ends it `transient`.
    pub const MAX_RETRY_AFTER: Setting<Duration> = Setting {
        name: "maxRetryAfter",
        doc: "The longest wait a publish sits through (a Retry-After, a rate-limit hold, pacing, an empty retry budget); a longer Retry-After, hold or pace defers the post (with a store) or fails it `rate_limited`, a longer budget wait fails it `transient`",
        unit: Unit::Time,
        min: Duration::ZERO,
        max: HOUR,
        default: Some(MINUTE),
        names: names!(rust: Some("max_retry_after"), python: Some("max_retry_after"), mobile: Some("maxRetryAfterMs"), node: Some("maxRetryAfterMs"), cli: Some("--max-retry-after-ms")),
    };
    /// A publisher's claim on a business key lasts this long and is renewed while it publishes.
    pub const LEASE: Setting<Duration> = Setting {
        name: "lease",
        doc: "How long a claim on a post lasts before another run may take it over (renewed while publishing)",
        unit: Unit::Time,
        min: Duration::from_millis(100),
        max: HOUR,
        default: Some(MINUTE),
        names: names!(rust: Some("lease"), python: None, mobile: None, node: None, cli: Some("--lease-ms")),
    };
    /// How long the server keeps an idempotency key (and answers a repeat with the first
    /// answer). A publish sent longer ago whose outcome was never recorded is not sent again.
    pub const KEY_RETENTION: Setting<Duration> = Setting {
        name: "keyRetention",
        doc: "How long the API keeps idempotency keys: a post sent longer ago whose outcome was never recorded is not sent again",
        unit: Unit::Time,
        min: SECOND,
        max: Duration::from_secs(365 * 24 * 60 * 60),
        default: Some(DAY),
        names: names!(rust: Some("key_retention"), python: Some("key_retention"), mobile: Some("keyRetentionMs"), node: Some("keyRetentionMs"), cli: Some("--key-retention-hours")),
    };
    /// Requests in flight at once in a batch, `publish_many` and `publish_due` (a batch keeps
    /// more lines than that in flight: those in their store steps hold no request slot).
    pub const CONCURRENCY: Setting<u32> = Setting {
        name: "concurrency",
        doc: "Requests in flight at once",
        unit: Unit::Count,
        min: 1,
        max: 1024,
        default: Some(8),
        names: names!(rust: Some("concurrency"), python: Some("concurrency"), mobile: Some("concurrency"), node: Some("concurrency"), cli: Some("--concurrency")),
    };
    /// Connections in a PostgreSQL store's pool.
    pub const POOL_SIZE: Setting<u32> = Setting {
        name: "poolSize",
        doc: "Connections in a PostgreSQL store's pool",
        unit: Unit::Count,
        min: 1,
        max: 1024,
        default: Some(8),
        names: names!(rust: Some("pool_size"), python: Some("pool_size"), mobile: Some("poolSize"), node: Some("poolSize"), cli: None),
    };
    /// Dead letters one listing returns.
    pub const DEAD_LETTER_LIMIT: Setting<u32> = Setting {
        name: "limit",
        doc: "Dead letters one listing returns",
        unit: Unit::Count,
        min: 1,
        max: u32::MAX,
        default: Some(1000),
        names: names!(rust: Some("limit"), python: Some("limit"), mobile: Some("limit"), node: Some("limit"), cli: Some("--limit")),
    };
    /// Response bodies are read up to this size.
    pub const MAX_RESPONSE_BYTES: Setting<u32> = Setting {
        name: "maxResponseBytes",
        doc: "Response bodies are read up to this size",
        unit: Unit::Bytes,
        min: 1024,
        max: 64 * 1024 * 1024,
        default: Some(1024 * 1024),
        names: names!(rust: Some("max_response_bytes"), python: None, mobile: None, node: None, cli: None),
    };
}

impl<T: Copy> Setting<T> {
    /// The range a value must fall in.
    pub const fn range(&self) -> RangeInclusive<T> {
        RangeInclusive::new(self.min, self.max)
    }

    /// The default of a setting that has one (a setting without one fails to compile here).
    pub const fn default_value(&self) -> T {
        match self.default {
            Some(value) => value,
            None => panic!("this setting has no default"),
        }
    }
}

impl Setting<u32> {
    /// Checks a count against the range; the error names the setting.
    pub fn check(&self, value: u64) -> Result<(), ValidationError> {
        bounds::check_count(self.name, value, &self.range())
    }

    /// A count a language gave as a number (see [`bounds::count_from_f64`]); the error names
    /// the setting as that language's users write it.
    pub fn from_f64(&self, value: f64, units: Units) -> Result<u32, ValidationError> {
        match self.row().from_f64(value, units)? {
            Value::Count(n) | Value::Bytes(n) => Ok(n),
            Value::Time(_) => unreachable!("a count's row holds counts"),
        }
    }

    /// The setting as a row of [`ALL`].
    pub const fn row(&self) -> Row {
        Row {
            name: self.name,
            doc: self.doc,
            unit: self.unit,
            min: self.value(self.min),
            max: self.value(self.max),
            default: match self.default {
                Some(n) => Some(self.value(n)),
                None => None,
            },
            names: self.names,
        }
    }

    const fn value(&self, n: u32) -> Value {
        match self.unit {
            Unit::Bytes => Value::Bytes(n),
            _ => Value::Count(n),
        }
    }
}

impl Setting<Duration> {
    /// Checks a duration against the range; the error names the setting.
    pub fn check(&self, value: Duration) -> Result<(), ValidationError> {
        bounds::check_duration(self.name, value, &self.range())
    }

    /// A duration a language gave as a number of its units (seconds in Python, milliseconds
    /// elsewhere); the error names the setting as that language's users write it
    /// (`backoffBaseMs`) and says the unit.
    pub fn from_f64(&self, value: f64, units: Units) -> Result<Duration, ValidationError> {
        match self.row().from_f64(value, units)? {
            Value::Time(d) => Ok(d),
            Value::Count(_) | Value::Bytes(_) => unreachable!("a time's row holds times"),
        }
    }

    /// The setting as a row of [`ALL`].
    pub const fn row(&self) -> Row {
        Row {
            name: self.name,
            doc: self.doc,
            unit: self.unit,
            min: Value::Time(self.min),
            max: Value::Time(self.max),
            default: match self.default {
                Some(d) => Some(Value::Time(d)),
                None => None,
            },
            names: self.names,
        }
    }
}

/// How a language writes times, for the names its errors say. Errors name a setting in
/// camelCase, as every other error field is named (`backoffBase`), with `Ms` where the
/// language gives milliseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Units {
    /// Python: seconds.
    Seconds,
    /// Node, Kotlin and Swift: milliseconds.
    Millis,
}

impl Units {
    /// The name errors give `row`'s setting in this language: its camelCase name, or for the
    /// millisecond languages Node's (`backoffBaseMs`), which Kotlin and Swift share.
    pub fn error_name(self, row: &Row) -> &'static str {
        self.name(row.name, &row.names)
    }

    fn name(self, name: &'static str, names: &Names) -> &'static str {
        match self {
            Units::Seconds => name,
            Units::Millis => names.node.unwrap_or(name),
        }
    }

    fn time_unit(self) -> (f64, &'static str) {
        match self {
            Units::Seconds => (1.0, "seconds"),
            Units::Millis => (1000.0, "milliseconds"),
        }
    }

    /// A duration in this language's units.
    pub fn report(self, duration: Duration) -> f64 {
        duration.as_secs_f64() * self.time_unit().0
    }
}

/// A setting with its values as people read them: one row of [`ALL`].
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// See [`Setting::name`].
    pub name: &'static str,
    /// See [`Setting::doc`].
    pub doc: &'static str,
    /// See [`Setting::unit`].
    pub unit: Unit,
    /// The smallest value allowed.
    pub min: Value,
    /// The largest value allowed.
    pub max: Value,
    /// The default, if any.
    pub default: Option<Value>,
    /// Each surface's name for it.
    pub names: Names,
}

/// A number, a size or a duration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// A count.
    Count(u32),
    /// A size in bytes.
    Bytes(u32),
    /// A duration.
    Time(Duration),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Bytes(n) => f.write_str(&human_bytes(u64::from(*n))),
            Value::Time(d) => f.write_str(&human(*d)),
        }
    }
}

impl Row {
    /// A value a language gave as a number: a count within the bounds, or a time in the
    /// language's units (seconds in Python, milliseconds elsewhere); the error names the
    /// setting as that language's users write it (`backoffBaseMs`) and says the unit.
    pub fn from_f64(&self, value: f64, units: Units) -> Result<Value, ValidationError> {
        let name = units.name(self.name, &self.names);
        match (self.min, self.max) {
            (Value::Time(min), Value::Time(max)) => {
                let (per_second, unit) = units.time_unit();
                bounds::duration_from_f64(name, value, per_second, unit, &(min..=max)).map(Value::Time)
            }
            (Value::Bytes(min), Value::Bytes(max)) => {
                bounds::count_from_f64(name, value, &(min..=max)).map(Value::Bytes)
            }
            (Value::Count(min), Value::Count(max)) => {
                bounds::count_from_f64(name, value, &(min..=max)).map(Value::Count)
            }
            _ => unreachable!("a row's bounds are of one kind"),
        }
    }
}

/// The row of the setting named `name` (camelCase), if there is one.
pub fn find(name: &str) -> Option<&'static Row> {
    ALL.iter().find(|row| row.name == name)
}

/// The table of docs/settings.md, in Markdown: each setting, its bounds, its default and its
/// name in each language.
pub fn markdown_table() -> String {
    let mut text = String::from(
        "| setting | smallest | largest | default | Python | Node | Kotlin, Swift | CLI |\n|---|---|---|---|---|---|---|---|\n",
    );
    let name = |n: Option<&str>| n.map_or("—".to_owned(), |n| format!("`{n}`"));
    for row in ALL {
        let default = row.default.map_or("none".to_owned(), |d| d.to_string());
        text.push_str(&format!(
            "| `{}` | {} | {} | {} | {} | {} | {} | {} |\n",
            row.name,
            row.min,
            row.max,
            default,
            name(row.names.python),
            name(row.names.node),
            name(row.names.kotlin),
            name(row.names.cli),
        ));
    }
    text
}

/// The table as `tests/vectors/settings.json`: each setting's names, its bounds and its default,
/// times in milliseconds (each language's tests convert to its own units), beside the default
/// base URL.
pub fn vector_json() -> String {
    let number = |v: Value| match v {
        Value::Time(d) => format!("{}", d.as_millis()),
        Value::Count(n) | Value::Bytes(n) => format!("{n}"),
    };
    let name = |n: Option<&str>| n.map_or("null".to_owned(), |n| format!("\"{n}\""));
    let rows: Vec<String> = ALL
        .iter()
        .map(|row| {
            let unit = match row.unit {
                Unit::Count => "count",
                Unit::Bytes => "bytes",
                Unit::Time => "ms",
            };
            let n = row.names;
            format!(
                "  {{\"name\": \"{}\", \"unit\": \"{unit}\", \"min\": {}, \"max\": {}, \"default\": {}, \
                 \"rust\": {}, \"python\": {}, \"node\": {}, \"kotlin\": {}, \"swift\": {}, \"cli\": {}}}",
                row.name,
                number(row.min),
                number(row.max),
                row.default.map_or("null".to_owned(), number),
                name(n.rust),
                name(n.python),
                name(n.node),
                name(n.kotlin),
                name(n.swift),
                name(n.cli),
            )
        })
        .collect();
    format!("{{\n\"baseUrl\": \"{}\",\n\"settings\": [\n{}\n]\n}}\n", crate::defaults::BASE_URL, rows.join(",\n"))
}

/// A duration as people write it: `500 ms`, `30 s`, `10 min`, `24 h`, `365 days`.
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    let whole = |unit: Duration| ms.is_multiple_of(unit.as_millis());
    match ms {
        0 => "0".to_owned(),
        _ if ms == DAY.as_millis() => "1 day".to_owned(),
        _ if ms >= DAY.as_millis() && whole(DAY) => format!("{} days", ms / DAY.as_millis()),
        _ if ms >= HOUR.as_millis() && whole(HOUR) => format!("{} h", ms / HOUR.as_millis()),
        _ if ms >= MINUTE.as_millis() && whole(MINUTE) => format!("{} min", ms / MINUTE.as_millis()),
        _ if ms >= SECOND.as_millis() && whole(SECOND) => format!("{} s", ms / SECOND.as_millis()),
        _ if ms >= SECOND.as_millis() => format!("{:.3} s", d.as_secs_f64()),
        _ => format!("{ms} ms"),
    }
}

/// A size as people write it: `1 MiB`, `1 GiB`, `512 KiB`, `100 bytes`.
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} bytes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_spells_wire_names_as_rust_and_python_do() {
        assert_eq!(snake_case("accountId"), "account_id");
        assert_eq!(snake_case("maxRetryAfter"), "max_retry_after");
        assert_eq!(snake_case("content[1].text"), "content[1].text");
        assert_eq!(snake_case("POSTATO_API_KEY"), "POSTATO_API_KEY", "an environment variable as it is set");
    }

    #[test]
    fn every_default_is_within_its_bounds() {
        for row in ALL {
            let inside = match (row.min, row.max, row.default) {
                (Value::Count(min), Value::Count(max), Some(Value::Count(d))) => (min..=max).contains(&d),
                (Value::Bytes(min), Value::Bytes(max), Some(Value::Bytes(d))) => (min..=max).contains(&d),
                (Value::Time(min), Value::Time(max), Some(Value::Time(d))) => (min..=max).contains(&d),
                (_, _, None) => true,
                _ => false,
            };
            assert!(inside, "{} default outside its bounds", row.name);
        }
    }

    #[test]
    fn names_follow_each_languages_rules_and_are_unique() {
        for row in ALL {
            let n = row.names;
            let ms = if row.unit == Unit::Time { "Ms" } else { "" };
            if let Some(node) = n.node {
                assert!(node.ends_with(ms) && !node.contains('_'), "{}: node {node}", row.name);
            }
            if let Some(python) = n.python {
                assert!(!python.chars().any(|c| c.is_ascii_uppercase()), "{}: python {python}", row.name);
            }
            if let Some(cli) = n.cli {
                assert!(cli.starts_with("--") && !cli.contains('_'), "{}: cli {cli}", row.name);
                let unit = cli.ends_with("-ms") || cli.ends_with("-hours");
                assert_eq!(unit, row.unit == Unit::Time, "{}: a time's flag says its unit: {cli}", row.name);
            }
            // Units::Millis names errors by Node's name, which Kotlin and Swift share.
            assert_eq!((n.kotlin, n.swift), (n.node, n.node), "{}: Kotlin and Swift name it as Node does", row.name);
            assert_eq!(ALL.iter().filter(|other| other.name == row.name).count(), 1, "{} twice", row.name);
        }
    }

    /// `POSTATO_BLESS=1 cargo test -p postato-core settings` writes the table into the files
    /// that hold it; without it, a file that differs fails the test.
    fn holds(relative: &str, current: &str, expected: &str, whole_file: bool) {
        if std::env::var_os("POSTATO_BLESS").is_some() {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(relative);
            let text = if whole_file { expected.to_owned() } else { replace_table(current, expected) };
            std::fs::write(path, text).unwrap();
            return;
        }
        let held = if whole_file { current == expected } else { current.contains(expected) };
        assert!(
            held,
            "{relative} must hold this (POSTATO_BLESS=1 cargo test -p postato-core settings writes it):\n{expected}"
        );
    }

    /// `page` with its first Markdown table that starts `| setting |` replaced by `table`.
    fn replace_table(page: &str, table: &str) -> String {
        let start = page.find("| setting |").expect("a table that starts `| setting |`");
        let end = page[start..].find("\n\n").map_or(page.len(), |n| start + n + 1);
        format!("{}{}{}", &page[..start], table, &page[end..])
    }

    #[test]
    fn the_settings_page_holds_the_table() {
        holds("docs/settings.md", include_str!("../../../docs/settings.md"), &markdown_table(), false);
    }

    #[test]
    fn the_shared_vector_is_the_table() {
        holds(
            "tests/vectors/settings.json",
            include_str!("../../../tests/vectors/settings.json"),
            &vector_json(),
            true,
        );
    }
}
