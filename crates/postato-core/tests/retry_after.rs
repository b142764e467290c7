//! Retry-After parsing: delta-seconds, the three HTTP-date forms, garbage, negative, huge.
use postato_core::{parse_retry_after, Timestamp};
use std::time::Duration;

// 1994-11-06T08:49:37Z, the RFC's example date.
const RFC_DATE: Timestamp = Timestamp::from_millis(784_111_777_000);

#[test]
fn delta_seconds() {
    assert_eq!(parse_retry_after("0", RFC_DATE), Some(Duration::ZERO));
    assert_eq!(parse_retry_after("120", RFC_DATE), Some(Duration::from_secs(120)));
    assert_eq!(parse_retry_after("  5 ", RFC_DATE), Some(Duration::from_secs(5)));
    assert_eq!(parse_retry_after("1.5", RFC_DATE), Some(Duration::from_millis(1500)));
}

#[test]
fn all_three_http_date_forms() {
    let earlier = Timestamp::from_millis(RFC_DATE.as_millis() - 30_000);
    for form in ["Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994"] {
        assert_eq!(parse_retry_after(form, earlier), Some(Duration::from_secs(30)), "{form}");
        assert_eq!(parse_retry_after(form, RFC_DATE), Some(Duration::ZERO), "{form}: now is not a wait");
    }
}

#[test]
fn a_date_in_the_past_means_no_wait() {
    let later = Timestamp::from_millis(RFC_DATE.as_millis() + 86_400_000);
    assert_eq!(parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", later), Some(Duration::ZERO));
}

#[test]
fn garbage_and_negative_are_unreadable() {
    for value in
        ["", " ", "-1", "-0.5", "soon", "1e3", "0x10", "1.", ".5", "1.2.3", "Sun, 32 Nov 1994 08:49:37 GMT", "５"]
    {
        assert_eq!(parse_retry_after(value, RFC_DATE), None, "{value:?}");
    }
}

#[test]
fn huge_values_saturate_instead_of_overflowing() {
    assert_eq!(parse_retry_after("1000000000000", RFC_DATE), Some(Duration::from_secs(1_000_000_000_000)));
    assert_eq!(parse_retry_after("18446744073709551616", RFC_DATE), Some(Duration::MAX));
    assert_eq!(parse_retry_after("99999999999999999999999999999999.9", RFC_DATE), Some(Duration::MAX));
}
