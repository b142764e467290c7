//! The scenario format shared by every test suite (files under the repository's
//! `tests/scenarios/`): the steps a server takes for one idempotency key and what must come
//! out. This module parses scenarios and checks results; [`run_on_virtual_clock`] runs one
//! through the machine alone.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::{PublishError, TransportFailure, TransportFailureKind};
use crate::event::{Event, WaitReason};
use crate::machine::{Action, PublishMachine, Published};
use crate::policy::RetryPolicy;
use crate::post::Post;
use crate::request::Request;
use crate::response::Response;
use crate::secret::ApiKey;
use crate::time::Timestamp;

/// One scenario file.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Scenario {
    /// A unique name (the file's stem).
    pub name: String,
    /// What it shows.
    pub description: String,
    /// Overrides of the default policy.
    #[serde(default)]
    pub policy: PolicyOverrides,
    /// Fields merged over the default post.
    #[serde(default)]
    pub post: Map<String, Value>,
    /// What the server does for each request, in order.
    pub steps: Vec<Step>,
    /// What must come out.
    pub expect: Expect,
}

/// Policy fields a scenario may set.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyOverrides {
    /// `max_attempts`.
    pub max_attempts: Option<u32>,
    /// `max_rate_limit_waits`.
    pub max_rate_limit_waits: Option<u32>,
    /// `timeout` in ms.
    pub timeout_ms: Option<u64>,
    /// `deadline` in ms.
    pub deadline_ms: Option<u64>,
}

/// What the server does for one request.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Step {
    /// 202 with `{id, status: "published"}`.
    Ok {
        /// Always true.
        ok: bool,
    },
    /// A given status, headers and body (JSON, or raw text).
    Respond {
        /// The status.
        respond: u16,
        /// Headers.
        #[serde(default)]
        headers: BTreeMap<String, String>,
        /// A JSON body.
        #[serde(default)]
        body: Option<Value>,
        /// A raw body.
        #[serde(default, rename = "bodyText")]
        body_text: Option<String>,
    },
    /// The connection is closed before processing.
    Reset {
        /// Always true.
        reset: bool,
    },
    /// Published, then the connection is closed with no answer.
    DropAfterCommit {
        /// Always true.
        #[serde(rename = "dropAfterCommit")]
        drop_after_commit: bool,
    },
    /// The replay of what was committed (automatic on a real server).
    Replay {
        /// Always true.
        replay: bool,
    },
    /// No answer within the attempt's timeout.
    Timeout {
        /// Always true.
        timeout: bool,
    },
}

impl Step {
    /// The body bytes of a `Respond` step.
    pub fn body_bytes(&self) -> Vec<u8> {
        match self {
            Step::Respond { body: Some(body), .. } => serde_json::to_vec(body).expect("JSON values serialise"),
            Step::Respond { body_text: Some(text), .. } => text.clone().into_bytes(),
            _ => Vec::new(),
        }
    }
}

/// A wait the machine must make.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ExpectedWait {
    /// `backoff` or `rateLimited`.
    pub reason: String,
    /// The exact wait in ms.
    pub ms: Option<u64>,
    /// A lower bound in ms.
    pub min_ms: Option<u64>,
}

/// The expected result.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// `published` or an error kind's name.
    pub result: String,
    /// Requests sent.
    pub attempts: u32,
    /// The error's status, if any.
    #[serde(default)]
    pub status: Option<u16>,
    /// Whether the success was a replay.
    #[serde(default)]
    pub replayed: Option<bool>,
    /// Genuine publishes the platform saw (simulator runs).
    #[serde(default)]
    pub platform_publishes: Option<u64>,
    /// The waits, in order (virtual-clock runs).
    #[serde(default)]
    pub waits: Option<Vec<ExpectedWait>>,
}

impl Scenario {
    /// Parses a scenario file's text.
    pub fn from_json(text: &str) -> Result<Scenario, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The post, with `business_key_prefix` before the default or given business key (an
    /// empty given key stays empty, so invalid-input scenarios stay invalid).
    pub fn post(&self, business_key_prefix: &str) -> Result<Post, serde_json::Error> {
        let mut fields = Map::new();
        fields.insert("businessKey".into(), Value::from(format!("scenario-{}", self.name)));
        fields.insert("platform".into(), Value::from("x"));
        fields.insert("accountId".into(), Value::from("acc_1"));
        fields.insert("postType".into(), Value::from("post"));
        fields.insert("content".into(), Value::from(format!("hello from {}", self.name)));
        fields.extend(self.post.clone());
        // No status: the one its schedule implies, as every language reads a post.
        if !fields.contains_key("status") {
            let status = crate::PostStatus::implied(fields.contains_key("scheduledAt"));
            fields.insert("status".into(), Value::from(status.as_str()));
        }
        if let Some(Value::String(key)) = fields.get_mut("businessKey") {
            if !key.is_empty() {
                *key = format!("{business_key_prefix}{key}");
            }
        }
        serde_json::from_value(Value::Object(fields))
    }

    /// The default policy with this scenario's overrides.
    pub fn policy(&self) -> RetryPolicy {
        let mut policy = RetryPolicy::default();
        let o = &self.policy;
        if let Some(v) = o.max_attempts {
            policy.max_attempts = v;
        }
        if let Some(v) = o.max_rate_limit_waits {
            policy.max_rate_limit_waits = v;
        }
        if let Some(v) = o.timeout_ms {
            policy.timeout = Duration::from_millis(v);
        }
        if let Some(v) = o.deadline_ms {
            policy.deadline = Some(Duration::from_millis(v));
        }
        policy
    }

    /// Checks a result against `expect` (waits aside: see [`Scenario::check_waits`]).
    pub fn check_result(&self, result: &Result<Published, PublishError>) -> Result<(), String> {
        let e = &self.expect;
        let (name, attempts, status) = match result {
            Ok(p) => ("published", p.attempts, None),
            Err(err) => (err.kind().as_str(), err.attempts(), err.status()),
        };
        let mut problems = Vec::new();
        if name != e.result {
            problems.push(format!("result {name} (expected {}): {result:?}", e.result));
        }
        if attempts != e.attempts {
            problems.push(format!("attempts {attempts} (expected {})", e.attempts));
        }
        if result.is_err() && status != e.status {
            problems.push(format!("status {status:?} (expected {:?})", e.status));
        }
        if let (Ok(p), Some(replayed)) = (result, e.replayed) {
            if p.replayed != replayed {
                problems.push(format!("replayed {} (expected {replayed})", p.replayed));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(format!("scenario {}: {}", self.name, problems.join("; ")))
        }
    }

    /// Checks the waits the machine announced (its `Waiting` events) against `expect.waits`.
    pub fn check_waits(&self, events: &[Event]) -> Result<(), String> {
        let Some(expected) = &self.expect.waits else { return Ok(()) };
        let actual: Vec<(String, u64)> = events
            .iter()
            .filter_map(|event| match event {
                Event::Waiting { delay, reason, .. } if reason.is_retry() => {
                    let name = if *reason == WaitReason::RateLimited { "rateLimited" } else { "backoff" };
                    Some((name.to_owned(), delay.as_millis() as u64))
                }
                _ => None,
            })
            .collect();
        let fits = actual.len() == expected.len()
            && actual.iter().zip(expected).all(|((reason, ms), want)| {
                *reason == want.reason && want.ms.is_none_or(|w| w == *ms) && want.min_ms.is_none_or(|m| *ms >= m)
            });
        if fits {
            Ok(())
        } else {
            Err(format!("scenario {}: waits {actual:?}, expected {expected:?}", self.name))
        }
    }
}

/// Runs a scenario through the machine alone, on a virtual clock starting at
/// 2026-12-01T09:00:00Z, with the given jitter seed. Returns the result and every event.
pub fn run_on_virtual_clock(scenario: &Scenario, seed: u64) -> (Result<Published, PublishError>, Vec<Event>) {
    let post = scenario.post("").expect("scenario posts parse");
    let request = match Request::new(&post, "ws_scenarios", &ApiKey::new("sk_test"), "rust") {
        Ok(request) => request,
        Err(e) => return (Err(e.into()), Vec::new()),
    };
    let policy = scenario.policy();
    let mut now = Timestamp::from_millis(1_796_115_600_000);
    let mut machine = PublishMachine::new(request, policy.clone(), seed, now);
    let mut steps = scenario.steps.iter();
    let mut events = Vec::new();
    let mut committed_id = None;
    let result = loop {
        let action = machine.poll(now);
        events.extend(std::iter::from_fn(|| machine.poll_event()));
        match action {
            Action::Done(result) => break result,
            Action::Wait { until } => now = until,
            Action::AwaitingOutcome => unreachable!("every send is answered below"),
            Action::Send(_) => {
                let Some(step) = steps.next() else {
                    panic!("scenario {}: the machine sent more requests than there are steps", scenario.name)
                };
                let published = |id: &str| format!(r#"{{"id":"{id}","status":"published"}}"#);
                match step {
                    Step::Ok { .. } => machine.handle_response(now, &Response::new(202, published("post_1"))),
                    Step::Respond { respond, headers, .. } => {
                        let mut response = Response::new(*respond, step.body_bytes());
                        response.headers = headers.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        machine.handle_response(now, &response);
                    }
                    Step::Reset { .. } => machine.handle_transport_failure(
                        now,
                        TransportFailure::new(TransportFailureKind::Io, "connection reset"),
                    ),
                    Step::DropAfterCommit { .. } => {
                        committed_id = Some("post_committed");
                        machine.handle_transport_failure(
                            now,
                            TransportFailure::new(TransportFailureKind::Io, "connection closed"),
                        )
                    }
                    Step::Replay { .. } => {
                        let id = committed_id.expect("a replay follows a commit");
                        let response = Response::new(202, published(id)).with_header("Idempotent-Replayed", "true");
                        machine.handle_response(now, &response);
                    }
                    Step::Timeout { .. } => {
                        now = now.saturating_add(policy.timeout);
                        machine.handle_transport_failure(
                            now,
                            TransportFailure::new(TransportFailureKind::Timeout, "timed out"),
                        )
                    }
                }
            }
        }
    };
    events.extend(std::iter::from_fn(|| machine.poll_event()));
    (result, events)
}
