//! Errors cross to JavaScript as a JSON reason (`{"postato": true, "kind", "message", …}`);
//! the JS wrapper turns it into the matching `PostatoError` subclass. Messages never contain
//! the API key.

use postato_bindings::PublishError;
use serde_json::json;

/// The napi error for a publish error.
pub fn publish_error(error: &PublishError) -> napi::Error {
    napi::Error::from_reason(error_json(error).to_string())
}

/// What the wrapper's `fromNative` reads to rebuild the error in JavaScript.
pub fn error_json(error: &PublishError) -> serde_json::Value {
    json!({
        "postato": true,
        "kind": error.kind().as_str(),
        "setting": error.is_setting(),
        "message": error.to_string(),
        "status": error.status(),
        "body": error.body(),
        "attempts": error.attempts(),
        "retryAfterMs": error.retry_after().map(|d| d.as_millis() as u64),
        "field": error.field(),
        "headers": error.headers().map(|h| h.to_map()).unwrap_or_default(),
        "requestId": error.request_id(),
        "retryAtMs": error.retry_at().map(|t| t.as_millis()),
    })
}

/// A store or simulator failure, as a plain `PostatoError`.
pub fn other(message: impl std::fmt::Display) -> napi::Error {
    napi::Error::from_reason(json!({"postato": true, "kind": "error", "message": message.to_string()}).to_string())
}
