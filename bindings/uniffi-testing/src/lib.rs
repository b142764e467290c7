//! The Kotlin and Swift test kit: the Postato API simulator in-process, as a library of its
//! own (`com.postato.testing`, `PostatoTesting`), so that the simulator is never linked into
//! the `postato_uniffi` library that production code loads. It converts types and errors;
//! `postato_sim::kit` does the rest.

use postato_sim::kit::{KitError, KitSimulator};
use std::future::Future;
use std::sync::{Arc, OnceLock};

uniffi::setup_scaffolding!();

/// A mistake in a simulator call, or a stopped simulator.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum SimulatorError {
    /// What went wrong.
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<KitError> for SimulatorError {
    fn from(e: KitError) -> Self {
        SimulatorError::Failed { reason: e.to_string() }
    }
}

/// Runs `future` on the kit's tokio runtime (the simulator's server lives there).
async fn on_runtime<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Result<T, SimulatorError> {
    static RUNTIME: OnceLock<std::io::Result<tokio::runtime::Runtime>> = OnceLock::new();
    let runtime = RUNTIME
        .get_or_init(|| postato_bindings::multi_thread_runtime("postato-testing"))
        .as_ref()
        .map_err(|e| SimulatorError::Failed { reason: format!("the simulator's runtime could not start: {e}") })?;
    runtime
        .spawn(future)
        .await
        .map_err(|e| SimulatorError::Failed { reason: format!("the simulator task failed: {e}") })
}

/// A running simulator.
#[derive(uniffi::Object)]
pub struct Simulator(KitSimulator);

/// Starts a simulator; `config_json` is its SimConfig in camelCase JSON (`{}` for defaults).
#[uniffi::export]
pub async fn start_simulator(config_json: String) -> Result<Arc<Simulator>, SimulatorError> {
    let kit = on_runtime(async move { KitSimulator::start(&config_json).await }).await??;
    Ok(Arc::new(Simulator(kit)))
}

#[uniffi::export]
impl Simulator {
    pub fn base_url(&self) -> String {
        self.0.base_url().to_owned()
    }

    pub fn api_key(&self) -> String {
        self.0.api_key().to_owned()
    }

    /// The counters as JSON (`platformPublishes` is the ground truth).
    pub fn stats_json(&self) -> Result<String, SimulatorError> {
        Ok(self.0.stats_json()?)
    }

    /// Genuine publishes of a business key.
    pub fn publishes(&self, business_key: String) -> Result<u64, SimulatorError> {
        Ok(self.0.publishes(&business_key)?)
    }

    /// Scripts a business key's requests: a JSON list of actions.
    pub fn script(&self, business_key: String, actions_json: String) -> Result<(), SimulatorError> {
        Ok(self.0.script(&business_key, &actions_json)?)
    }

    pub fn set_faults(&self, faults_json: String) -> Result<(), SimulatorError> {
        Ok(self.0.set_faults(&faults_json)?)
    }

    /// Sets (or, with a null rate, removes) the rate limit; a null burst is the default.
    pub fn set_rate_limit(&self, rate_per_second: Option<f64>, burst: Option<u32>) -> Result<(), SimulatorError> {
        Ok(self.0.set_rate_limit(rate_per_second, burst)?)
    }

    pub fn outage(&self, start_in_ms: u64, duration_ms: u64) -> Result<(), SimulatorError> {
        Ok(self.0.outage(start_in_ms as f64 / 1000.0, duration_ms as f64 / 1000.0)?)
    }

    pub fn reset(&self) -> Result<(), SimulatorError> {
        Ok(self.0.reset()?)
    }

    pub async fn stop(self: Arc<Self>) {
        let _ = on_runtime(async move { self.0.stop().await }).await;
    }
}
