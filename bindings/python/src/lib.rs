//! The `postato._native` extension: a thin pyo3 layer over the Rust client. It converts
//! types and errors; every retry decision is made by `postato-core`.

mod client;
mod errors;
mod publisher;
mod runtime;
mod sim;

use pyo3::prelude::*;

/// The idempotency key of a business key.
#[pyfunction]
fn idempotency_key(business_key: &str) -> String {
    postato::idempotency_key(business_key)
}

/// The version of the Rust library.
#[pyfunction]
fn version() -> &'static str {
    postato_core::VERSION
}

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(idempotency_key, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::shutdown, m)?)?;
    m.add_function(wrap_pyfunction!(runtime::after_fork_in_child, m)?)?;
    m.add_class::<client::NativeClient>()?;
    m.add_class::<publisher::NativeStore>()?;
    m.add_class::<publisher::NativePublisher>()?;
    m.add_class::<sim::NativeSimulator>()?;
    Ok(())
}
