//! `NativeSimulator`: the Rust simulator in-process, behind `postato/testing`'s `Simulator`.
//! Configuration, scripts, faults and stats cross as JSON in the simulator's own format.

use napi_derive::napi;
use postato_sim::{FaultRates, RateLimitConfig, ScriptAction, SimConfig, Simulator, SimulatorHandle};
use std::sync::Mutex;
use std::time::Duration;

use crate::errors::other;

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> napi::Result<T> {
    serde_json::from_str(text).map_err(|e| other(format!("invalid simulator {what}: {e}")))
}

/// A running simulator.
#[napi]
pub struct NativeSimulator {
    handle: Mutex<Option<SimulatorHandle>>,
    base_url: String,
    api_key: String,
}

/// Starts a simulator with `config_json` (SimConfig, camelCase).
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub async fn start_simulator(config_json: String) -> napi::Result<NativeSimulator> {
    let config: SimConfig = json("config", &config_json)?;
    let handle = Simulator::start(config).await.map_err(other)?;
    Ok(NativeSimulator {
        base_url: handle.base_url(),
        api_key: handle.api_key().to_owned(),
        handle: Mutex::new(Some(handle)),
    })
}

impl NativeSimulator {
    fn with<T>(&self, f: impl FnOnce(&SimulatorHandle) -> T) -> napi::Result<T> {
        match self.handle.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(handle) => Ok(f(handle)),
            None => Err(other("the simulator is stopped")),
        }
    }
}

#[napi]
impl NativeSimulator {
    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }

    #[napi(getter)]
    pub fn api_key(&self) -> String {
        self.api_key.clone()
    }

    #[napi]
    pub fn stats_json(&self) -> napi::Result<String> {
        self.with(|h| serde_json::to_string(&h.stats()).unwrap_or_default())
    }

    #[napi]
    pub fn publishes_for(&self, business_key: String) -> napi::Result<u32> {
        self.with(|h| h.platform_publishes_for(&business_key) as u32)
    }

    #[napi]
    pub fn script(&self, business_key: String, actions_json: String) -> napi::Result<()> {
        let actions: Vec<ScriptAction> = json("script", &actions_json)?;
        self.with(|h| h.script_business_key(&business_key, actions))
    }

    #[napi]
    pub fn set_faults(&self, faults_json: String) -> napi::Result<()> {
        let faults: FaultRates = json("faults", &faults_json)?;
        self.with(|h| h.set_faults(faults))?.map_err(other)
    }

    #[napi]
    pub fn set_rate_limit(&self, rate_per_second: Option<f64>, burst: Option<u32>) -> napi::Result<()> {
        let limit =
            rate_per_second.map(|rate_per_second| RateLimitConfig { rate_per_second, burst: burst.unwrap_or(10) });
        self.with(|h| h.set_rate_limit(limit))
    }

    #[napi]
    pub fn outage(&self, start_in_ms: f64, duration_ms: f64) -> napi::Result<()> {
        let (start, duration) = (
            Duration::from_secs_f64(start_in_ms.max(0.0) / 1000.0),
            Duration::from_secs_f64(duration_ms.max(0.0) / 1000.0),
        );
        self.with(|h| h.outage(start, duration))
    }

    #[napi]
    pub fn reset(&self) -> napi::Result<()> {
        self.with(SimulatorHandle::reset)
    }

    #[napi]
    pub async fn stop(&self) -> napi::Result<()> {
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            handle.stop().await;
        }
        Ok(())
    }
}
