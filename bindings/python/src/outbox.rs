//! `outbox_statement` and `outbox_error`: the enqueue that `postato.outbox` runs on the
//! application's own psycopg or SQLAlchemy connection.

use postato_bindings::Placeholders;
use pyo3::prelude::*;

use crate::client::parse_for_publish;
use crate::errors::to_py;

/// The enqueue statement in `style` (`format`: psycopg's `%s`; `named`: SQLAlchemy's
/// `:name`) and its values (business key, fingerprint, payload, not-before ms).
#[pyfunction]
#[pyo3(signature = (post_json, not_before_ms, style))]
pub fn outbox_statement(
    post_json: &str,
    not_before_ms: Option<f64>,
    style: &str,
) -> PyResult<(String, (String, String, String, i64))> {
    let placeholders = match style {
        "named" => Placeholders::Named,
        _ => Placeholders::Format,
    };
    let post = parse_for_publish(post_json)?;
    let s = postato_bindings::outbox_statement(&post, not_before_ms, placeholders).map_err(|e| to_py(&e))?;
    Ok((s.sql, (s.business_key, s.fingerprint, s.payload, s.not_before_ms)))
}

/// postato's exception for a driver's error about an enqueue (by its SQLSTATE, with its detail
/// or text for the stored fingerprint), or None.
#[pyfunction]
#[pyo3(signature = (sqlstate, detail, business_key, fingerprint))]
pub fn outbox_error(
    py: Python<'_>,
    sqlstate: Option<&str>,
    detail: Option<&str>,
    business_key: &str,
    fingerprint: &str,
) -> Option<Py<PyAny>> {
    postato_bindings::outbox_error(sqlstate, detail, business_key, fingerprint)
        .map(|e| to_py(&e).into_value(py).into_any())
}
