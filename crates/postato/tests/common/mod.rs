//! Helpers for the client's tests: a simulator and clients pointed at it.
#![allow(dead_code)]

pub mod stand_in;

use postato::{Client, ClientBuilder, Post, PostStatus};
use postato_sim::{SimConfig, Simulator, SimulatorHandle};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub async fn sim() -> SimulatorHandle {
    Simulator::start(SimConfig::default()).await.unwrap()
}

/// A builder for `sim` whose waits fast-forward (no real sleeping) and whose timeouts are short.
pub fn builder(sim: &SimulatorHandle) -> ClientBuilder {
    Client::builder()
        .api_key(sim.api_key())
        .workspace_id("ws_1")
        .base_url(sim.base_url())
        .timeout(Duration::from_secs(5))
        .fast_forward_waits(true)
}

pub fn client(sim: &SimulatorHandle) -> Client {
    builder(sim).build().unwrap()
}

/// A business key unique within the test process.
pub fn key(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!("{prefix}-{}-{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn post(business_key: &str) -> Post {
    Post::new(business_key, "x", "acc_1", PostStatus::Publish, "post", format!("hello from {business_key}"))
}

pub fn respond(status: u16) -> postato_sim::ScriptAction {
    postato_sim::ScriptAction::Respond { status, headers: Default::default(), body: None, body_text: None }
}
