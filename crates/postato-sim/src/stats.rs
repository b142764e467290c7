//! What the simulator saw: request counts, faults, and the platform's ground truth of
//! publishes per idempotency key.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A snapshot of the simulator's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Requests received on the public API.
    pub requests: u64,
    /// Answers written, by status.
    pub by_status: BTreeMap<u16, u64>,
    /// Stored answers replayed (`Idempotent-Replayed: true`).
    pub replays: u64,
    /// 409 answers: the key was still in progress.
    pub in_progress_conflicts: u64,
    /// 422 answers: the key was reused with a different body.
    pub key_reused_conflicts: u64,
    /// 429 answers (rate limit, fault or script).
    pub rate_limited: u64,
    /// Faults injected (probabilistic, scripted, or by an outage).
    pub faults_injected: u64,
    /// Connections closed before processing.
    pub resets: u64,
    /// Publishes whose answer was dropped.
    pub drops_after_commit: u64,
    /// Slow commits started.
    pub slow_commits: u64,
    /// Genuine publishes to the underlying network: the ground truth.
    pub platform_publishes: u64,
    /// Distinct idempotency keys published at least once.
    pub published_keys: u64,
    /// Idempotency keys published more than once: must stay empty.
    pub duplicate_keys: Vec<String>,
    /// The most publish requests the API was answering at once.
    #[serde(default)]
    pub peak_in_flight: u64,
}
