//! Errors: each `PublishError` becomes the matching exception class of `postato.errors`
//! (defined in Python so they pickle), carrying its kind, status, body, attempts,
//! retry_after, field, and the answer's headers and request id. Messages never contain the API key.

use postato_bindings::{ErrorKind, PublishError};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn class_name(error: &PublishError) -> &'static str {
    if error.is_setting() {
        return "InvalidSettingError";
    }
    match error.kind() {
        ErrorKind::InvalidInput => "InvalidPostError",
        ErrorKind::Permanent => "PermanentPostError",
        ErrorKind::IdempotencyConflict => "IdempotencyConflictError",
        ErrorKind::BusinessKeyReused => "BusinessKeyReusedError",
        ErrorKind::RateLimited => "RateLimitedError",
        ErrorKind::Transient => "TransientPostError",
        ErrorKind::Deadline => "DeadlineExceededError",
        ErrorKind::InvalidResponse => "InvalidResponseError",
        ErrorKind::Cancelled => "PublishCancelledError",
        ErrorKind::OutcomeUnknown => "OutcomeUnknownError",
        ErrorKind::Deferred => "DeferredError",
        _ => "PostatoError",
    }
}

/// A field or setting as a Python caller passes it, with its wire name (the exception's
/// `field`) beside it where they differ: `business_key (businessKey)`, `max_retry_after
/// (maxRetryAfter)`, `content[1].text`. An environment variable (`POSTATO_API_KEY`) is named
/// as it is set.
pub fn python_name(field: &str) -> String {
    let name = postato_bindings::snake_case(field);
    if name == field {
        name
    } else {
        format!("{name} ({field})")
    }
}

/// The message, a field or setting named as Python code passes it.
fn message(error: &PublishError) -> String {
    match error {
        PublishError::InvalidInput(e) => e.named(&python_name(&e.field)),
        other => other.to_string(),
    }
}

fn build(py: Python<'_>, error: &PublishError) -> PyResult<PyErr> {
    let class = py.import("postato.errors")?.getattr(class_name(error))?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("message", message(error))?;
    kwargs.set_item("status", error.status())?;
    kwargs.set_item("body", error.body())?;
    kwargs.set_item("attempts", error.attempts())?;
    kwargs.set_item("retry_after", error.retry_after().map(|d| d.as_secs_f64()))?;
    kwargs.set_item("field", error.field())?;
    kwargs.set_item("headers", error.headers().map(|h| h.to_map()).unwrap_or_default())?;
    kwargs.set_item("request_id", error.request_id())?;
    if let Some(retry_at) = error.retry_at() {
        kwargs.set_item("retry_at_ms", retry_at.as_millis())?;
    }
    Ok(PyErr::from_value(class.call((), Some(&kwargs))?))
}

/// The Python exception for `error`.
pub fn to_py(error: &PublishError) -> PyErr {
    Python::attach(|py| {
        build(py, error).unwrap_or_else(|e| PyRuntimeError::new_err(format!("{error} (while raising: {e})")))
    })
}

/// A store or simulator failure, as a `PostatoError`.
pub fn other(message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| {
        py.import("postato.errors")
            .and_then(|m| m.getattr("PostatoError"))
            .and_then(|class| class.call1((message.clone(),)))
            .map(PyErr::from_value)
            .unwrap_or_else(|_| PyRuntimeError::new_err(message))
    })
}
