//! The range every setting a user can give must fall in, and the one check each surface calls
//! (the Rust builder, the CLI, every binding). A setting outside its range would make a
//! publish that cannot work (0 attempts) or that waits for ever (a backoff of 30 years), so
//! it is refused before anything is sent. The ranges are those of [`settings`], where each is
//! written once.

use std::ops::RangeInclusive;
use std::time::Duration;

use crate::settings;
use crate::validate::ValidationError;

pub use crate::settings::{human, human_bytes};

/// Attempts that may end in a retryable failure.
pub const MAX_ATTEMPTS: RangeInclusive<u32> = settings::MAX_ATTEMPTS.range();
/// 429 waits one publish may make.
pub const MAX_RATE_LIMIT_WAITS: RangeInclusive<u32> = settings::MAX_RATE_LIMIT_WAITS.range();
/// The limit on one attempt.
pub const TIMEOUT: RangeInclusive<Duration> = settings::TIMEOUT.range();
/// The limit on connecting.
pub const CONNECT_TIMEOUT: RangeInclusive<Duration> = settings::CONNECT_TIMEOUT.range();
/// The first backoff.
pub const BACKOFF_BASE: RangeInclusive<Duration> = settings::BACKOFF_BASE.range();
/// The largest backoff.
pub const BACKOFF_CAP: RangeInclusive<Duration> = settings::BACKOFF_CAP.range();
/// The limit on a whole publish.
pub const DEADLINE: RangeInclusive<Duration> = settings::DEADLINE.range();
/// The longest wait a publish makes before ending.
pub const MAX_RETRY_AFTER: RangeInclusive<Duration> = settings::MAX_RETRY_AFTER.range();
/// A publisher's claim on a business key.
pub const LEASE: RangeInclusive<Duration> = settings::LEASE.range();
/// How long the API keeps idempotency keys.
pub const KEY_RETENTION: RangeInclusive<Duration> = settings::KEY_RETENTION.range();
/// Publishes at once.
pub const CONCURRENCY: RangeInclusive<u32> = settings::CONCURRENCY.range();
/// Connections in a PostgreSQL store's pool.
pub const POOL_SIZE: RangeInclusive<u32> = settings::POOL_SIZE.range();
/// Dead letters one listing returns.
pub const DEAD_LETTER_LIMIT: RangeInclusive<u32> = settings::DEAD_LETTER_LIMIT.range();
/// The largest response body read.
pub const MAX_RESPONSE_BYTES: RangeInclusive<u32> = settings::MAX_RESPONSE_BYTES.range();
/// The largest campaign line (or `--file` post) read: the largest body the API accepts.
pub const MAX_POST_BYTES: usize = crate::defaults::MAX_POST_BYTES;

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
        assert!(duration_from_f64("timeout", -1.0, 1.0, "seconds", &TIMEOUT).is_err());
        assert!(duration_from_f64("timeout", 1e300, 1.0, "seconds", &TIMEOUT)
            .unwrap_err()
            .message
            .starts_with("is 1e300:"));
    }

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(human(Duration::from_millis(500)), "500 ms");
        assert_eq!(human(Duration::from_secs(30)), "30 s");
        assert_eq!(human(Duration::from_secs(600)), "10 min");
        assert_eq!(human(Duration::from_secs(24 * 60 * 60)), "1 day");
        assert_eq!(human(Duration::from_millis(1500)), "1.500 s");
    }
}
