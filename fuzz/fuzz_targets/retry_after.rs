//! Retry-After parsing never panics, whatever the header holds and whatever the clock says.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postato_core::{parse_retry_after, Response, Timestamp};

fuzz_target!(|data: &[u8]| {
    let (clock, value) = data.split_at(data.len().min(8));
    let mut now = [0u8; 8];
    now[..clock.len()].copy_from_slice(clock);
    let now = Timestamp::from_millis(u64::from_le_bytes(now));
    let value = String::from_utf8_lossy(value);
    let _ = parse_retry_after(&value, now);
    let _ = Response::new(429, "").with_header("Retry-After", &value).with_header("Date", &value).retry_after(now);
});
