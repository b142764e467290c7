//! `outboxStatement` and `outboxError`: the enqueue that `postato`'s `outbox.enqueue` runs on
//! the application's own `pg` client, in its transaction.

use napi_derive::napi;
use postato_bindings::Placeholders;

use crate::errors::{error_json, publish_error};

/// The enqueue statement (`$1…$4`) and its values, as JSON:
/// `{"sql": …, "values": [businessKey, fingerprint, payload, notBeforeMs]}`.
#[napi]
pub fn outbox_statement(post_json: String, not_before_ms: Option<f64>) -> napi::Result<String> {
    let post = postato_bindings::parse_post(&post_json).map_err(|e| publish_error(&e))?;
    let s = postato_bindings::outbox_statement(&post, not_before_ms, Placeholders::Numbered)
        .map_err(|e| publish_error(&e))?;
    Ok(serde_json::json!({
        "sql": s.sql,
        "values": [s.business_key, s.fingerprint, s.payload, s.not_before_ms],
    })
    .to_string())
}

/// postato's error (as JSON, for the wrapper's classes) for a driver's error about an enqueue,
/// read by its SQLSTATE (`code`; `detail` names the stored fingerprint), or null.
#[napi]
pub fn outbox_error(
    sqlstate: Option<String>,
    detail: Option<String>,
    business_key: String,
    fingerprint: String,
) -> Option<String> {
    postato_bindings::outbox_error(sqlstate.as_deref(), detail.as_deref(), &business_key, &fingerprint)
        .map(|e| error_json(&e).to_string())
}
