//! The `postato-testing` Node addon: the Postato API simulator in-process, behind the
//! package's `Simulator`. An addon of its own, so that the simulator is never linked into
//! the `postato` addon that production code loads. It converts types and errors;
//! `postato_sim::kit` does the rest.
#![deny(clippy::all)]

use napi_derive::napi;
use postato_sim::kit::{KitError, KitSimulator};

fn to_js(e: KitError) -> napi::Error {
    napi::Error::from_reason(e.to_string())
}

/// A running simulator.
#[napi]
pub struct NativeSimulator(KitSimulator);

/// Starts a simulator with `config_json` (SimConfig, camelCase).
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub async fn start_simulator(config_json: String) -> napi::Result<NativeSimulator> {
    Ok(NativeSimulator(KitSimulator::start(&config_json).await.map_err(to_js)?))
}

#[napi]
impl NativeSimulator {
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.0.base_url().to_owned()
    }

    #[napi(getter)]
    pub fn api_key(&self) -> String {
        self.0.api_key().to_owned()
    }

    /// The counters as JSON.
    #[napi]
    pub fn stats_json(&self) -> napi::Result<String> {
        self.0.stats_json().map_err(to_js)
    }

    /// Genuine publishes of a business key.
    #[napi]
    pub fn publishes_for(&self, business_key: String) -> napi::Result<u32> {
        Ok(u32::try_from(self.0.publishes(&business_key).map_err(to_js)?).unwrap_or(u32::MAX))
    }

    /// Scripts a business key's requests (a JSON list of actions).
    #[napi]
    pub fn script(&self, business_key: String, actions_json: String) -> napi::Result<()> {
        self.0.script(&business_key, &actions_json).map_err(to_js)
    }

    /// Replaces the probabilistic faults (JSON).
    #[napi]
    pub fn set_faults(&self, faults_json: String) -> napi::Result<()> {
        self.0.set_faults(&faults_json).map_err(to_js)
    }

    /// Sets (or, without a rate, removes) the rate limit.
    #[napi]
    pub fn set_rate_limit(&self, rate_per_second: Option<f64>, burst: Option<u32>) -> napi::Result<()> {
        self.0.set_rate_limit(rate_per_second, burst).map_err(to_js)
    }

    /// Every request fails with 503 from `start_in_ms` for `duration_ms`.
    #[napi]
    pub fn outage(&self, start_in_ms: f64, duration_ms: f64) -> napi::Result<()> {
        self.0.outage(start_in_ms / 1000.0, duration_ms / 1000.0).map_err(to_js)
    }

    /// Clears everything but the configuration.
    #[napi]
    pub fn reset(&self) -> napi::Result<()> {
        self.0.reset().map_err(to_js)
    }

    /// Stops serving.
    #[napi]
    pub async fn stop(&self) {
        self.0.stop().await;
    }
}
