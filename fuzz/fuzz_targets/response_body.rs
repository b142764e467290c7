//! Classifying any response (any status, any body, any headers) never panics.
#![no_main]
use libfuzzer_sys::fuzz_target;
use postato_core::{classify, parse_published_body, Response, RetryPolicy, Timestamp};

fuzz_target!(|data: &[u8]| {
    let status = data.first().map_or(200, |b| 100 + u16::from(*b) * 2);
    let body = data.get(1..).unwrap_or_default().to_vec();
    let _ = parse_published_body(&body);
    let response = Response::new(status, body).with_header("Retry-After", "1");
    let _ = classify(&response, &RetryPolicy::default(), Timestamp::from_millis(0));
});
