//! The range every setting a user can give must fall in, and the one check each surface calls
//! (the Rust builder, the CLI, every binding). A setting outside its range would make a
//! publish that cannot work (0 attempts) or that waits for ever (a backoff of 30 years), so
//! it is refused before anything is sent. [`table`] is the table of bounds in docs/settings.md.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::defaults;
use crate::validate::ValidationError;

const MS: Duration = Duration::from_millis(1);
const SECOND: Duration = Duration::from_secs(1);
const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(60 * 60);
const DAY: Duration = Duration::from_secs(24 * 60 * 60);

/// Attempts that may end in a retryable failure.
pub const MAX_ATTEMPTS: RangeInclusive<u32> = 1..=100;
/// 429 waits one publish may make.
pub const MAX_RATE_LIMIT_WAITS: RangeInclusive<u32> = 0..=1000;
/// The limit on one attempt.
pub const ATTEMPT_TIMEOUT: RangeInclusive<Duration> = MS..=Duration::from_secs(10 * 60);
/// The limit on connecting.
pub const CONNECT_TIMEOUT: RangeInclusive<Duration> = MS..=Duration::from_secs(5 * 60);
/// The first backoff.
pub const BACKOFF_BASE: RangeInclusive<Duration> = Duration::ZERO..=Duration::from_secs(10 * 60);
/// The largest backoff.
pub const BACKOFF_CAP: RangeInclusive<Duration> = Duration::ZERO..=HOUR;
/// The limit on a whole publish.
pub const DEADLINE: RangeInclusive<Duration> = MS..=DAY;
/// The longest wait a publish makes before ending.
pub const MAX_RETRY_AFTER: RangeInclusive<Duration> = Duration::ZERO..=HOUR;
/// A publisher's claim on a business key.
pub const LEASE: RangeInclusive<Duration> = Duration::from_millis(100)..=HOUR;
/// How long the API keeps idempotency keys.
pub const KEY_RETENTION: RangeInclusive<Duration> = SECOND..=Duration::from_secs(365 * 24 * 60 * 60);
/// Publishes at once in `postato batch`.
pub const CONCURRENCY: RangeInclusive<u32> = 1..=1024;
/// Connections in a PostgreSQL store's pool.
pub const POSTGRES_POOL_SIZE: RangeInclusive<u32> = 1..=1024;
/// The largest response body read.
pub const MAX_RESPONSE_BYTES: RangeInclusive<u32> = 1024..=64 * 1024 * 1024;
/// The largest campaign line (or `--file` post) read: the largest body the API accepts.
pub const MAX_POST_BYTES: usize = defaults::MAX_POST_BYTES;

/// One row of the table in docs/settings.md: a setting, its range and its default, as people read them.
#[derive(Clone, Copy, Debug)]
pub struct Row {
    /// The setting's camelCase name.
    pub setting: &'static str,
    /// The smallest value allowed.
    pub min: Value,
    /// The largest value allowed.
    pub max: Value,
    /// The default.
    pub default: Option<Value>,
}

/// A number or a duration, as the table shows it.
#[derive(Clone, Copy, Debug)]
pub enum Value {
    /// A count.
    Count(u32),
    /// A duration.
    Time(Duration),
}

impl std::fmt::Display for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Count(n) => write!(f, "{n}"),
            Value::Time(d) => f.write_str(&human(*d)),
        }
    }
}

fn counts(setting: &'static str, range: RangeInclusive<u32>, default: u32) -> Row {
    Row {
        setting,
        min: Value::Count(*range.start()),
        max: Value::Count(*range.end()),
        default: Some(Value::Count(default)),
    }
}

fn times(setting: &'static str, range: RangeInclusive<Duration>, default: Option<Duration>) -> Row {
    Row { setting, min: Value::Time(*range.start()), max: Value::Time(*range.end()), default: default.map(Value::Time) }
}

/// Every bounded setting: the table in docs/settings.md (a test keeps them equal).
pub fn table() -> Vec<Row> {
    vec![
        counts("maxAttempts", MAX_ATTEMPTS, defaults::MAX_ATTEMPTS),
        counts("maxRateLimitWaits", MAX_RATE_LIMIT_WAITS, defaults::MAX_RATE_LIMIT_WAITS),
        times("timeout", ATTEMPT_TIMEOUT, Some(defaults::ATTEMPT_TIMEOUT)),
        times("connectTimeout", CONNECT_TIMEOUT, Some(defaults::CONNECT_TIMEOUT)),
        times("backoffBase", BACKOFF_BASE, Some(defaults::BACKOFF_BASE)),
        times("backoffCap", BACKOFF_CAP, Some(defaults::BACKOFF_CAP)),
        times("deadline", DEADLINE, defaults::DEADLINE),
        times("maxRetryAfter", MAX_RETRY_AFTER, Some(defaults::MAX_RETRY_AFTER)),
        times("lease", LEASE, Some(defaults::LEASE)),
        times("keyRetention", KEY_RETENTION, Some(defaults::SERVER_KEY_RETENTION)),
        counts("concurrency", CONCURRENCY, defaults::CONCURRENCY),
        counts("poolSize", POSTGRES_POOL_SIZE, defaults::POSTGRES_POOL_SIZE as u32),
    ]
}

/// The table of docs/settings.md, in Markdown.
pub fn markdown_table() -> String {
    let mut text = String::from("| setting | smallest | largest | default |\n|---|---|---|---|\n");
    for row in table() {
        let default = row.default.map_or("none".to_owned(), |d| d.to_string());
        text.push_str(&format!("| `{}` | {} | {} | {} |\n", row.setting, row.min, row.max, default));
    }
    text
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

/// A number as a message echoes it: short, never 300 digits (`1e300`, `4294967299`, `2.5`).
pub fn show_number(value: f64) -> String {
    if value.is_nan() {
        "not a number".to_owned()
    } else if value.is_infinite() {
        (if value > 0.0 { "infinite" } else { "minus infinity" }).to_owned()
    } else if value.abs() >= 1e17 || (value != 0.0 && value.abs() < 1e-6) {
        format!("{value:e}")
    } else {
        format!("{value}")
    }
}

/// Checks a duration setting against its range.
pub fn check_duration(setting: &str, value: Duration, range: &RangeInclusive<Duration>) -> Result<(), ValidationError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(ValidationError::setting(
        setting,
        format!("is {}: give a time from {} to {}", human(value), human(*range.start()), human(*range.end())),
    ))
}

/// Checks a count setting against its range.
pub fn check_count(setting: &str, value: u64, range: &RangeInclusive<u32>) -> Result<(), ValidationError> {
    if (u64::from(*range.start())..=u64::from(*range.end())).contains(&value) {
        return Ok(());
    }
    Err(ValidationError::setting(
        setting,
        format!("is {value}: give a whole number from {} to {}", range.start(), range.end()),
    ))
}

/// A count a language gave as a floating-point number (JavaScript's only number, a Python
/// float or a huge int): a whole number within `range`, or an error that names `setting` and
/// never echoes 300 digits.
pub fn count_from_f64(setting: &str, value: f64, range: &RangeInclusive<u32>) -> Result<u32, ValidationError> {
    let allowed = format!("give a whole number from {} to {}", range.start(), range.end());
    if value.fract() != 0.0 || !value.is_finite() {
        return Err(ValidationError::setting(setting, format!("is {}: {allowed}", show_number(value))));
    }
    if value < f64::from(*range.start()) || value > f64::from(*range.end()) {
        return Err(ValidationError::setting(setting, format!("is {}: {allowed}", show_number(value))));
    }
    Ok(value as u32)
}

/// A duration a language gave as a number of `unit`s (`seconds`, `milliseconds`), checked
/// against `range`; the message names `setting` and the unit the caller used.
pub fn duration_from_f64(
    setting: &str,
    value: f64,
    per_second: f64,
    unit: &str,
    range: &RangeInclusive<Duration>,
) -> Result<Duration, ValidationError> {
    let in_units = |d: &Duration| show_number(d.as_secs_f64() * per_second);
    let allowed = format!("give a number of {unit} from {} to {}", in_units(range.start()), in_units(range.end()));
    let seconds = value / per_second;
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if range.contains(&d) => Ok(d),
        _ => Err(ValidationError::setting(setting, format!("is {}: {allowed}", show_number(value)))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_default_is_within_its_bounds() {
        for row in table() {
            let inside = match (row.min, row.max, row.default) {
                (Value::Count(min), Value::Count(max), Some(Value::Count(d))) => (min..=max).contains(&d),
                (Value::Time(min), Value::Time(max), Some(Value::Time(d))) => (min..=max).contains(&d),
                (_, _, None) => true,
                _ => false,
            };
            assert!(inside, "{} default outside its bounds", row.setting);
        }
    }

    #[test]
    fn the_settings_page_holds_the_table_of_bounds() {
        let page = include_str!("../../../docs/settings.md");
        assert!(page.contains(&markdown_table()), "docs/settings.md must hold this table:\n{}", markdown_table());
    }

    #[test]
    fn numbers_are_echoed_short_and_named() {
        assert_eq!(show_number(1e300), "1e300");
        assert_eq!(show_number(2.5), "2.5");
        assert_eq!(show_number(4294967299.0), "4294967299");
        let e = count_from_f64("maxAttempts", 4294967299.0, &MAX_ATTEMPTS).unwrap_err();
        assert_eq!(e.to_string(), "invalid setting: maxAttempts: is 4294967299: give a whole number from 1 to 100");
        assert!(count_from_f64("maxAttempts", 2.5, &MAX_ATTEMPTS).is_err());
        assert!(count_from_f64("maxAttempts", f64::NAN, &MAX_ATTEMPTS).unwrap_err().message.contains("not a number"));
        assert_eq!(count_from_f64("maxAttempts", 3.0, &MAX_ATTEMPTS).unwrap(), 3);
        let e = duration_from_f64("backoffBase", 1e9, 1.0, "seconds", &BACKOFF_BASE).unwrap_err();
        assert_eq!(e.message, "is 1000000000: give a number of seconds from 0 to 600");
        let e = duration_from_f64("backoffBaseMs", 2f64.powi(53), 1000.0, "milliseconds", &BACKOFF_BASE).unwrap_err();
        assert_eq!(e.message, "is 9007199254740992: give a number of milliseconds from 0 to 600000");
        assert!(duration_from_f64("timeout", -1.0, 1.0, "seconds", &ATTEMPT_TIMEOUT).is_err());
        assert!(duration_from_f64("timeout", 1e300, 1.0, "seconds", &ATTEMPT_TIMEOUT)
            .unwrap_err()
            .message
            .starts_with("is 1e300:"));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::from_millis(500)), "500 ms");
        assert_eq!(human(Duration::from_secs(30)), "30 s");
        assert_eq!(human(Duration::from_secs(600)), "10 min");
        assert_eq!(human(DAY), "1 day");
        assert_eq!(human(Duration::from_millis(1500)), "1.500 s");
    }
}
