//! # postato-sim
//!
//! A real Postato API simulator: an HTTP/1.1 server on 127.0.0.1 with bearer auth, body
//! validation (the core's own), idempotency following the IETF draft "The Idempotency-Key
//! HTTP Header Field", per-workspace rate limits, and faults that are reproducible from a
//! seed or scripted per idempotency key. It counts every genuine publish per idempotency
//! key: that count is the ground truth for "published exactly once".
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use postato_sim::{ScriptAction, SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! sim.script_business_key("draft-1", vec![ScriptAction::DropAfterCommit, ScriptAction::Ok]);
//! println!("{} accepts {}", sim.base_url(), sim.api_key());
//! // … publish through a client …
//! assert!(sim.stats().duplicate_keys.is_empty());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]

mod accounts;
mod admin;
mod api;
mod config;
#[cfg(feature = "governed")]
pub mod governed;
pub mod kit;
mod reply;
mod script;
mod server;
mod state;
mod stats;

pub use config::{FaultRates, QuotaConfig, RateLimitConfig, SimConfig, DEFAULT_API_KEY};
pub use script::ScriptAction;
pub use stats::Stats;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

use state::State;

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The port could not be bound.
    #[error("could not listen on 127.0.0.1:{port}: {source}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// The cause.
        source: std::io::Error,
    },
    /// The configuration is invalid.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
}

/// Starts simulators.
pub struct Simulator;

impl Simulator {
    /// Starts a simulator on the current tokio runtime. It stops when the handle is dropped
    /// or [`SimulatorHandle::stop`] is called.
    pub async fn start(config: SimConfig) -> Result<SimulatorHandle, SimError> {
        config.faults.validate().map_err(SimError::Config)?;
        if config.api_keys.is_empty() {
            return Err(SimError::Config("no API keys: give at least one".into()));
        }
        let port = config.port;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .map_err(|source| SimError::Bind { port, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind { port, source })?;
        let api_key = config.api_keys[0].clone();
        let state = Arc::new(State::new(config));
        let (shutdown, shutdown_rx) = watch::channel(false);
        let task = tokio::spawn(server::serve(listener, Arc::clone(&state), shutdown_rx));
        Ok(SimulatorHandle { addr, api_key, state, shutdown, task: Some(task) })
    }
}

/// A running simulator.
pub struct SimulatorHandle {
    addr: SocketAddr,
    api_key: String,
    state: Arc<State>,
    shutdown: watch::Sender<bool>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for SimulatorHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatorHandle").field("base_url", &self.base_url()).finish_non_exhaustive()
    }
}

impl SimulatorHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The first configured API key (a test key).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        self.state.lock().snapshot()
    }

    /// Genuine publishes for one idempotency key.
    pub fn platform_publishes(&self, idempotency_key: &str) -> u64 {
        self.state.lock().platform.get(idempotency_key).copied().unwrap_or(0)
    }

    /// Genuine publishes for the idempotency key of a business key.
    pub fn platform_publishes_for(&self, business_key: &str) -> u64 {
        self.platform_publishes(&postato_core::idempotency_key(business_key))
    }

    /// When the first request under `idempotency_key` arrived (answered or not).
    pub fn first_request_at(&self, idempotency_key: &str) -> Option<std::time::Instant> {
        self.state.lock().first_seen.get(idempotency_key).copied()
    }

    /// Every idempotency key published, with its count.
    pub fn publishes(&self) -> std::collections::HashMap<String, u64> {
        self.state.lock().platform.clone()
    }

    /// Clears stored keys, posts, scripts, counters and outages; restarts the fault generator.
    pub fn reset(&self) {
        self.state.lock().reset();
    }

    /// Replaces the probabilistic faults.
    pub fn set_faults(&self, faults: FaultRates) -> Result<(), SimError> {
        faults.validate().map_err(SimError::Config)?;
        self.state.lock().config.faults = faults;
        Ok(())
    }

    /// Sets or removes the per-workspace rate limit.
    pub fn set_rate_limit(&self, limit: Option<RateLimitConfig>) {
        let mut s = self.state.lock();
        s.config.rate_limit = limit;
        s.buckets.clear();
    }

    /// Scripts the requests of one idempotency key.
    pub fn script(&self, idempotency_key: &str, actions: Vec<ScriptAction>) {
        self.state.lock().scripts.insert(idempotency_key.to_owned(), VecDeque::from(actions));
    }

    /// Scripts the requests of a business key's idempotency key.
    pub fn script_business_key(&self, business_key: &str, actions: Vec<ScriptAction>) {
        self.script(&postato_core::idempotency_key(business_key), actions);
    }

    /// Every request fails with 503 from `start_in` for `duration`.
    pub fn outage(&self, start_in: Duration, duration: Duration) {
        let start = Instant::now() + start_in;
        self.state.lock().outage = Some((start, start + duration));
    }

    /// Stops serving and waits for the server task to end.
    pub async fn stop(mut self) {
        let _ = self.shutdown.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for SimulatorHandle {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}
