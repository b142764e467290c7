//! `Simulator`: the Rust simulator in-process, for tests. Configuration, scripts, faults and
//! stats cross as JSON in the simulator's own format.

use postato_sim::{FaultRates, ScriptAction, SimConfig, SimulatorHandle};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::errors::PostatoError;
use crate::runtime;

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, PostatoError> {
    serde_json::from_str(text).map_err(|e| PostatoError::store(format!("invalid simulator {what}: {e}")))
}

/// A running simulator.
#[derive(uniffi::Object)]
pub struct Simulator {
    handle: Mutex<Option<SimulatorHandle>>,
    base_url: String,
    api_key: String,
}

/// Starts a simulator; `config_json` is its SimConfig in camelCase JSON (`{}` for defaults).
#[uniffi::export]
pub async fn start_simulator(config_json: String) -> Result<Arc<Simulator>, PostatoError> {
    let config: SimConfig = json("config", &config_json)?;
    let handle = runtime::run(postato_sim::Simulator::start(config))
        .await
        .map_err(PostatoError::internal)?
        .map_err(PostatoError::store)?;
    Ok(Arc::new(Simulator {
        base_url: handle.base_url(),
        api_key: handle.api_key().to_owned(),
        handle: Mutex::new(Some(handle)),
    }))
}

impl Simulator {
    fn with<T>(&self, f: impl FnOnce(&SimulatorHandle) -> T) -> Result<T, PostatoError> {
        match self.handle.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(handle) => Ok(f(handle)),
            None => Err(PostatoError::store("the simulator is stopped")),
        }
    }
}

#[uniffi::export]
impl Simulator {
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    pub fn api_key(&self) -> String {
        self.api_key.clone()
    }

    /// The counters as JSON (`platformPublishes` is the ground truth).
    pub fn stats_json(&self) -> Result<String, PostatoError> {
        self.with(|h| serde_json::to_string(&h.stats()).unwrap_or_default())
    }

    /// Genuine publishes of a business key.
    pub fn publishes(&self, business_key: String) -> Result<u64, PostatoError> {
        self.with(|h| h.platform_publishes_for(&business_key))
    }

    /// Scripts a business key's requests: a JSON list of actions.
    pub fn script(&self, business_key: String, actions_json: String) -> Result<(), PostatoError> {
        let actions: Vec<ScriptAction> = json("script", &actions_json)?;
        self.with(|h| h.script_business_key(&business_key, actions))
    }

    pub fn set_faults(&self, faults_json: String) -> Result<(), PostatoError> {
        let faults: FaultRates = json("faults", &faults_json)?;
        self.with(|h| h.set_faults(faults))?.map_err(PostatoError::store)
    }

    pub fn outage(&self, start_in_ms: u64, duration_ms: u64) -> Result<(), PostatoError> {
        self.with(|h| h.outage(Duration::from_millis(start_in_ms), Duration::from_millis(duration_ms)))
    }

    pub fn reset(&self) -> Result<(), PostatoError> {
        self.with(SimulatorHandle::reset)
    }

    pub async fn stop(&self) {
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            let _ = runtime::run(handle.stop()).await;
        }
    }
}
