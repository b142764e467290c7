//! Parsing `Retry-After` (RFC 9110 §10.2.3): delta-seconds or an HTTP-date, in all three
//! date forms. Anything else is unreadable, and the caller falls back to its default.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::time::Timestamp;

/// Parses a `Retry-After` value into a delay.
///
/// `now` is the reference for HTTP-dates: pass the response's `Date` header when the server
/// sent one (so client clock skew does not matter), else the current time. A date in the
/// past means no wait. Fractional seconds (`1.5`) are accepted, as JavaScript's `Number`
/// does. Negative numbers and garbage give `None`. Huge values saturate rather than overflow.
///
/// ```
/// use postato_core::{parse_retry_after, Timestamp};
/// use std::time::Duration;
/// let now = Timestamp::from_millis(0);
/// assert_eq!(parse_retry_after("2", now), Some(Duration::from_secs(2)));
/// assert_eq!(parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", now), Some(Duration::from_secs(10)));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: Timestamp) -> Option<Duration> {
    let value = value.trim();
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: delta-seconds. Past u64 it is simply "longer than anyone will wait".
        return Some(value.parse::<u64>().map(Duration::from_secs).unwrap_or(Duration::MAX));
    }
    if let Some((whole, fraction)) = value.split_once('.') {
        if !whole.is_empty()
            && !fraction.is_empty()
            && whole.bytes().all(|b| b.is_ascii_digit())
            && fraction.bytes().all(|b| b.is_ascii_digit())
        {
            let seconds: f64 = value.parse().ok()?;
            return Some(Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX));
        }
        return None;
    }
    let date = httpdate::parse_http_date(value).ok()?;
    let reference = UNIX_EPOCH + Duration::from_millis(now.as_millis());
    Some(date.duration_since(reference).unwrap_or(Duration::ZERO))
}

/// Parses an HTTP `Date` header into a timestamp, if it is a valid HTTP-date.
pub fn parse_http_date(value: &str) -> Option<Timestamp> {
    httpdate::parse_http_date(value.trim()).ok().map(Timestamp::from_system_time)
}

/// Formats a time as an IMF-fixdate, for servers and tests.
pub fn format_http_date(at: Timestamp) -> String {
    httpdate::fmt_http_date(SystemTime::UNIX_EPOCH + Duration::from_millis(at.as_millis()))
}
