//! `NativeSimulator`: the Rust simulator in-process, for `postato.testing.Simulator`.
//! Configuration, scripts, faults and stats cross as JSON in the simulator's own format.

use postato_sim::{FaultRates, RateLimitConfig, ScriptAction, SimConfig, Simulator, SimulatorHandle};
use pyo3::prelude::*;
use std::sync::Mutex;
use std::time::Duration;

use crate::errors::other;
use crate::runtime;

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> PyResult<T> {
    serde_json::from_str(text).map_err(|e| other(format!("invalid simulator {what}: {e}")))
}

/// A running simulator.
#[pyclass(module = "postato._native", frozen)]
pub struct NativeSimulator {
    handle: Mutex<Option<SimulatorHandle>>,
    base_url: String,
    api_key: String,
}

impl NativeSimulator {
    fn with<T>(&self, f: impl FnOnce(&SimulatorHandle) -> T) -> PyResult<T> {
        match self.handle.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(handle) => Ok(f(handle)),
            None => Err(other("the simulator is stopped")),
        }
    }
}

#[pymethods]
impl NativeSimulator {
    /// Starts a simulator with `config_json` (the simulator's SimConfig in camelCase JSON).
    #[new]
    fn new(py: Python<'_>, config_json: &str) -> PyResult<Self> {
        let config: SimConfig = json("config", config_json)?;
        let handle = runtime::block_on(py, Simulator::start(config))?.map_err(|e| other(e.to_string()))?;
        Ok(NativeSimulator {
            base_url: handle.base_url(),
            api_key: handle.api_key().to_owned(),
            handle: Mutex::new(Some(handle)),
        })
    }

    #[getter]
    fn base_url(&self) -> String {
        self.base_url.clone()
    }

    #[getter]
    fn api_key(&self) -> String {
        self.api_key.clone()
    }

    /// The counters as JSON.
    fn stats_json(&self) -> PyResult<String> {
        self.with(|h| serde_json::to_string(&h.stats()).unwrap_or_default())
    }

    /// Genuine publishes for a business key.
    fn publishes_for(&self, business_key: &str) -> PyResult<u64> {
        self.with(|h| h.platform_publishes_for(business_key))
    }

    /// Scripts a business key's requests (a JSON list of actions).
    fn script(&self, business_key: &str, actions_json: &str) -> PyResult<()> {
        let actions: Vec<ScriptAction> = json("script", actions_json)?;
        self.with(|h| h.script_business_key(business_key, actions))
    }

    /// Replaces the probabilistic faults (JSON).
    fn set_faults(&self, faults_json: &str) -> PyResult<()> {
        let faults: FaultRates = json("faults", faults_json)?;
        self.with(|h| h.set_faults(faults))?.map_err(|e| other(e.to_string()))
    }

    /// Sets (or, with None, removes) the rate limit.
    #[pyo3(signature = (rate_per_second=None, burst=10))]
    fn set_rate_limit(&self, rate_per_second: Option<f64>, burst: u32) -> PyResult<()> {
        self.with(|h| {
            h.set_rate_limit(rate_per_second.map(|rate_per_second| RateLimitConfig { rate_per_second, burst }))
        })
    }

    /// Every request fails with 503 from `start_in` for `duration` seconds.
    fn outage(&self, start_in: f64, duration: f64) -> PyResult<()> {
        let (start_in, duration) =
            (Duration::from_secs_f64(start_in.max(0.0)), Duration::from_secs_f64(duration.max(0.0)));
        self.with(|h| h.outage(start_in, duration))
    }

    /// Clears everything but the configuration.
    fn reset(&self) -> PyResult<()> {
        self.with(SimulatorHandle::reset)
    }

    /// Stops serving.
    fn stop(&self, py: Python<'_>) -> PyResult<()> {
        if let Some(handle) = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take() {
            runtime::block_on(py, handle.stop())?;
        }
        Ok(())
    }
}
