//! [`KitSimulator`]: the simulator as the language test kits drive it (Python
//! `postato_testing`, npm `postato-testing`, Kotlin `com.postato.testing`). Configuration,
//! scripts and faults arrive as JSON in the simulator's own camelCase format, counters leave
//! as JSON, and every call after `stop` is a clear error. The kits' native modules only
//! convert their language's types to and from this.

use std::sync::Mutex;
use std::time::Duration;

use crate::{FaultRates, RateLimitConfig, ScriptAction, SimConfig, Simulator, SimulatorHandle};

/// The burst of a rate limit set without one.
pub const DEFAULT_BURST: u32 = 10;

/// A kit's mistake or a stopped simulator, as a message for the kit's exception.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct KitError(String);

fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, KitError> {
    serde_json::from_str(text).map_err(|e| KitError(format!("invalid simulator {what}: {e}")))
}

/// A running simulator, stopped once.
pub struct KitSimulator {
    handle: Mutex<Option<SimulatorHandle>>,
    base_url: String,
    api_key: String,
}

impl KitSimulator {
    /// Starts a simulator with `config_json` (its [`SimConfig`] in camelCase; `{}` for defaults).
    pub async fn start(config_json: &str) -> Result<Self, KitError> {
        let config: SimConfig = json("config", config_json)?;
        let handle = Simulator::start(config).await.map_err(|e| KitError(e.to_string()))?;
        Ok(KitSimulator {
            base_url: handle.base_url(),
            api_key: handle.api_key().to_owned(),
            handle: Mutex::new(Some(handle)),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&SimulatorHandle) -> T) -> Result<T, KitError> {
        match self.handle.lock().unwrap_or_else(|p| p.into_inner()).as_ref() {
            Some(handle) => Ok(f(handle)),
            None => Err(KitError("the simulator is stopped".into())),
        }
    }

    /// Its URL, such as `http://127.0.0.1:41234`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The API key it accepts.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The counters as JSON (`platformPublishes` is the ground truth of real publishes).
    pub fn stats_json(&self) -> Result<String, KitError> {
        self.with(|h| serde_json::to_string(&h.stats()).unwrap_or_default())
    }

    /// Genuine publishes of a business key (exactly 1 for a post published once).
    pub fn publishes(&self, business_key: &str) -> Result<u64, KitError> {
        self.with(|h| h.platform_publishes_for(business_key))
    }

    /// Scripts a business key's requests: a JSON list of actions, consumed in order.
    pub fn script(&self, business_key: &str, actions_json: &str) -> Result<(), KitError> {
        let actions: Vec<ScriptAction> = json("script", actions_json)?;
        self.with(|h| h.script_business_key(business_key, actions))
    }

    /// Replaces the probabilistic faults (JSON).
    pub fn set_faults(&self, faults_json: &str) -> Result<(), KitError> {
        let faults: FaultRates = json("faults", faults_json)?;
        self.with(|h| h.set_faults(faults))?.map_err(|e| KitError(e.to_string()))
    }

    /// Sets (or, with `None`, removes) the rate limit; `burst` defaults to [`DEFAULT_BURST`].
    pub fn set_rate_limit(&self, rate_per_second: Option<f64>, burst: Option<u32>) -> Result<(), KitError> {
        let burst = burst.unwrap_or(DEFAULT_BURST);
        self.with(|h| {
            h.set_rate_limit(rate_per_second.map(|rate_per_second| RateLimitConfig { rate_per_second, burst }))
        })
    }

    /// Every request fails with 503 from `start_in_secs` for `duration_secs` (seconds).
    pub fn outage(&self, start_in_secs: f64, duration_secs: f64) -> Result<(), KitError> {
        let (start_in, duration) = (seconds("start_in", start_in_secs)?, seconds("duration", duration_secs)?);
        self.with(|h| h.outage(start_in, duration))
    }

    /// Clears everything but the configuration.
    pub fn reset(&self) -> Result<(), KitError> {
        self.with(SimulatorHandle::reset)
    }

    /// Stops serving; later calls are errors, and a second stop does nothing.
    pub async fn stop(&self) {
        let handle = self.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(handle) = handle {
            handle.stop().await;
        }
    }
}

fn seconds(name: &str, value: f64) -> Result<Duration, KitError> {
    Duration::try_from_secs_f64(value)
        .map_err(|_| KitError(format!("outage {name} is {value}: give a non-negative number of seconds")))
}
