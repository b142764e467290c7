//! The `postato._native` extension: a thin pyo3 layer over the Rust client. It converts
//! types and errors; every retry decision is made by `postato-core`.

mod bridge;
mod client;
mod errors;
mod outbox;
mod publisher;
mod runtime;

use pyo3::prelude::*;

/// The level `POSTATO_LOG` (or `filter`) gives the `postato` logger; `None` when unset.
#[pyfunction]
#[pyo3(signature = (filter=None))]
fn log_level(filter: Option<String>) -> Option<String> {
    postato_bindings::log_level(filter)
}

/// The idempotency key of a business key.
#[pyfunction]
fn idempotency_key(business_key: &str) -> PyResult<String> {
    postato_bindings::checked_idempotency_key(business_key).map_err(|e| errors::to_py(&e.into()))
}

/// The version of the Rust library.
#[pyfunction]
fn version() -> &'static str {
    postato_bindings::VERSION
}

/// The bounded client settings as `(Python name, the name errors give it)`, for `Client`.
#[pyfunction]
fn client_settings() -> Vec<(&'static str, &'static str)> {
    postato_bindings::client_settings(|n| n.python, postato_bindings::Units::Seconds)
}

/// The per-call options as `(Python name, the name errors give it)`, for `publish` and
/// `with_options`.
#[pyfunction]
fn call_settings() -> Vec<(&'static str, &'static str)> {
    postato_bindings::call_settings(client::CALL.1, client::CALL.0)
}

/// Rust's metrics as `postato._telemetry` makes its OpenTelemetry instruments of them.
#[pyfunction]
fn metrics_table_json() -> String {
    postato_bindings::metrics_table_json()
}

/// The metrics the process's clients gathered since the last call, as JSON
/// (`Tally::take_json`); `None` when none did.
#[pyfunction]
fn take_metrics() -> Option<String> {
    postato_bindings::process_tally().take_json()
}

/// The client's defaults as JSON, keyed by the Python names (times in seconds), for
/// `postato.DEFAULTS`.
#[pyfunction]
fn client_defaults_json() -> String {
    postato_bindings::ClientDefaults::new(postato_bindings::Units::Seconds).json_in(|n| n.python, "base_url")
}

/// A field or setting as a Python caller passes it, as errors name it (`business_key
/// (businessKey)`), for the type checks made in Python before a call crosses.
#[pyfunction]
fn python_name(field: &str) -> String {
    errors::python_name(field)
}

fn check_test_panics() -> PyResult<()> {
    if std::env::var("POSTATO_TEST_PANIC").as_deref() != Ok("1") {
        return Err(pyo3::exceptions::PyRuntimeError::new_err("test panics are off: set POSTATO_TEST_PANIC=1"));
    }
    Ok(())
}

/// For FFI-safety tests: panics inside Rust (when `POSTATO_TEST_PANIC=1`); the panic arrives
/// as a Python exception and the interpreter lives on.
#[pyfunction]
fn test_panic() -> PyResult<()> {
    check_test_panics()?;
    panic!("deliberate test panic");
}

/// The same, inside a publish's future: on the runtime, through the asyncio bridge every
/// async call takes.
#[pyfunction]
fn test_panic_async<'py>(
    event_loop: &Bound<'py, PyAny>,
    completions: &Bound<'py, bridge::Completions>,
) -> PyResult<Bound<'py, PyAny>> {
    check_test_panics()?;
    bridge::spawn(event_loop, completions, async { panic!("deliberate test panic") }, |py, ()| Ok(py.None()))
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    runtime::init(m.py())?;
    m.add_function(wrap_pyfunction!(idempotency_key, m)?)?;
    m.add_function(wrap_pyfunction!(outbox::outbox_statement, m)?)?;
    m.add_function(wrap_pyfunction!(outbox::outbox_error, m)?)?;
    m.add("OUTBOX_PARAMETERS", postato_bindings::OUTBOX_PARAMETERS.to_vec())?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(log_level, m)?)?;
    m.add_function(wrap_pyfunction!(client_defaults_json, m)?)?;
    m.add_function(wrap_pyfunction!(client_settings, m)?)?;
    m.add_function(wrap_pyfunction!(call_settings, m)?)?;
    m.add_function(wrap_pyfunction!(metrics_table_json, m)?)?;
    m.add_function(wrap_pyfunction!(take_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(python_name, m)?)?;
    m.add_function(wrap_pyfunction!(test_panic, m)?)?;
    m.add_function(wrap_pyfunction!(test_panic_async, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::after_fork_in_child, m)?)?;
    m.add_class::<bridge::Completions>()?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<publisher::NativeStore>()?;
    m.add_class::<publisher::NativePublisher>()?;
    Ok(())
}
