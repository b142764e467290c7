//! The `postato_testing._native` extension: the Postato API simulator in-process, for the
//! `postato-testing` package's `Simulator`. A module of its own, so that the simulator is
//! never linked into the `postato` extension that production code loads. It converts types
//! and errors; `postato_sim::kit` does the rest.

use postato_sim::kit::{KitError, KitSimulator};
use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::OnceLock;

fn to_py(e: KitError) -> PyErr {
    PyRuntimeError::new_err(e.to_string())
}

/// Runs `future` on the kit's runtime with the GIL released.
fn block_on<T: Send>(py: Python<'_>, future: impl Future<Output = T> + Send) -> PyResult<T> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME
        .get_or_init(|| postato_bindings::multi_thread_runtime("postato-testing"))
        .as_ref()
        .map_err(|e| PyRuntimeError::new_err(format!("the simulator's runtime could not start: {e}")))?;
    Ok(py.detach(|| runtime.block_on(future)))
}

/// A running simulator.
#[pyclass(module = "postato_testing._native", frozen)]
pub struct NativeSimulator(KitSimulator);

#[pymethods]
impl NativeSimulator {
    /// Starts a simulator with `config_json` (the simulator's SimConfig in camelCase JSON).
    #[new]
    fn new(py: Python<'_>, config_json: &str) -> PyResult<Self> {
        Ok(NativeSimulator(block_on(py, KitSimulator::start(config_json))?.map_err(to_py)?))
    }

    #[getter]
    fn base_url(&self) -> &str {
        self.0.base_url()
    }

    #[getter]
    fn api_key(&self) -> &str {
        self.0.api_key()
    }

    fn stats_json(&self) -> PyResult<String> {
        self.0.stats_json().map_err(to_py)
    }

    fn publishes_for(&self, business_key: &str) -> PyResult<u64> {
        self.0.publishes(business_key).map_err(to_py)
    }

    fn script(&self, business_key: &str, actions_json: &str) -> PyResult<()> {
        self.0.script(business_key, actions_json).map_err(to_py)
    }

    fn set_faults(&self, faults_json: &str) -> PyResult<()> {
        self.0.set_faults(faults_json).map_err(to_py)
    }

    #[pyo3(signature = (rate_per_second=None, burst=None))]
    fn set_rate_limit(&self, rate_per_second: Option<f64>, burst: Option<u32>) -> PyResult<()> {
        self.0.set_rate_limit(rate_per_second, burst).map_err(to_py)
    }

    fn outage(&self, start_in: f64, duration: f64) -> PyResult<()> {
        self.0.outage(start_in, duration).map_err(to_py)
    }

    fn reset(&self) -> PyResult<()> {
        self.0.reset().map_err(to_py)
    }

    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        block_on(py, self.0.stop())
    }
}

#[pymodule]
#[pyo3(name = "_native")]
fn postato_testing_python(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeSimulator>()
}
