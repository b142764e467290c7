//! Scripted faults: a list of actions for the requests of one idempotency key, consumed in
//! order, and their derivation from the shared scenario files.

use postato_core::scenario::Step;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// What the simulator does with one request of a scripted key (a request for a key that
/// already completed is replayed without consuming the script).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase")]
pub enum ScriptAction {
    /// Process normally: publish and answer 202.
    Ok,
    /// Answer this status, headers and body without publishing. 2xx and 4xx answers other
    /// than 408, 409 and 429 are stored and replayed, as any completed answer.
    #[serde(rename_all = "camelCase")]
    Respond {
        /// The status.
        status: u16,
        /// Extra headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// A JSON body.
        #[serde(default)]
        body: Option<Value>,
        /// A raw body (used when `body` is absent).
        #[serde(default)]
        body_text: Option<String>,
    },
    /// Close the connection before processing.
    Reset,
    /// Publish and store the answer, then close the connection without answering.
    DropAfterCommit,
    /// Publish after `ms`, holding the key in progress meanwhile.
    SlowCommit {
        /// How long processing takes.
        ms: u64,
    },
    /// Do nothing for `ms`, then close the connection (a client times out first).
    Hang {
        /// How long to hang.
        ms: u64,
    },
    /// Wait `ms`, then process normally.
    Latency {
        /// The extra latency.
        ms: u64,
    },
}

/// How long a scenario's `timeout` step hangs: longer than any scenario's attempt timeout.
const SCENARIO_HANG_MS: u64 = 10_000;

impl ScriptAction {
    /// The script that stages a scenario's steps on the simulator. `replay` steps need no
    /// action: the simulator replays a completed key by itself.
    pub fn from_scenario(steps: &[Step]) -> Vec<ScriptAction> {
        steps
            .iter()
            .filter_map(|step| match step {
                Step::Ok { .. } => Some(ScriptAction::Ok),
                Step::Respond { respond, headers, body, body_text } => Some(ScriptAction::Respond {
                    status: *respond,
                    headers: headers.clone(),
                    body: body.clone(),
                    body_text: body_text.clone(),
                }),
                Step::Reset { .. } => Some(ScriptAction::Reset),
                Step::DropAfterCommit { .. } => Some(ScriptAction::DropAfterCommit),
                Step::Replay { .. } => None,
                Step::Timeout { .. } => Some(ScriptAction::Hang { ms: SCENARIO_HANG_MS }),
            })
            .collect()
    }
}
