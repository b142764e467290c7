//! `postato batch --events FILE`: the run's event log, one JSON object per line, which
//! `postato report` draws. Every line has `atMs` (ms since the Unix epoch) and `event`:
//!
//! - `run`: the first line: the campaign, the store (without credentials) and the settings;
//! - `attempt`: a request is sent (`businessKey`, `attempt`);
//! - `response`: its answer (`status`, `replayed`, `decision`: `published`, `retry` or the
//!   error kind it ended with); `transport_failed`: none came (`kind`);
//! - `wait`: a wait before a request (`reason`, as the metrics' `reason` label, and `delayMs`);
//! - `outcome`: what became of a campaign line (`line`, `businessKey`, `account` as
//!   `platform/accountId`, `outcome`: `published`, `already_published`, `dead_lettered`,
//!   `deferred` or `store_error`; `kind` of a dead letter, `attempts`, `untilMs` of a deferral,
//!   `recorded`: false for a publish whose result the store could not record); a line
//!   deferred, then published by a later pass, has both outcomes, the last one final;
//! - `end`: the last line: the run's summary, as `--output json` prints it.
//!
//! Nothing secret is written: no API key, no header, no post content or response body. A log
//! that cannot be written is said once on stderr; the run goes on without it.

use postato::postato_core::{Decision, Event};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::terminal;

/// An open event log.
pub struct EventLog {
    out: Mutex<std::io::BufWriter<std::fs::File>>,
    path: String,
    failed: AtomicBool,
}

/// What became of a campaign line, for its `outcome` line.
pub struct LineOutcome<'a> {
    pub line: u64,
    pub business_key: &'a str,
    /// `platform/accountId`, when the line was a post.
    pub account: Option<String>,
    pub outcome: &'static str,
    pub kind: Option<&'a str>,
    pub attempts: u32,
    pub until_ms: Option<u64>,
    /// False for a publish whose result the store could not record.
    pub recorded: bool,
}

impl EventLog {
    /// Creates (or truncates) the log at `path`.
    pub fn create(path: &str) -> Result<Arc<Self>, String> {
        let file = std::fs::File::create(path).map_err(|e| format!("--events: cannot create {path}: {e}"))?;
        Ok(Arc::new(EventLog {
            out: Mutex::new(std::io::BufWriter::with_capacity(1 << 16, file)),
            path: path.to_owned(),
            failed: AtomicBool::new(false),
        }))
    }

    /// The client's event hook ([`postato::ClientBuilder::on_event`]) that writes its events.
    pub fn hook(self: &Arc<Self>) -> impl Fn(&str, &Event) + Send + Sync + 'static {
        let log = Arc::clone(self);
        move |business_key, event| log.client_event(business_key, event)
    }

    fn client_event(&self, business_key: &str, event: &Event) {
        let line = match event {
            Event::AttemptStarted { attempt, .. } => {
                json!({"event": "attempt", "businessKey": business_key, "attempt": attempt})
            }
            Event::ResponseClassified { attempt, status, replayed, decision } => {
                let decision = match decision {
                    Decision::Published => "published",
                    Decision::Retry => "retry",
                    Decision::Fail(kind) => kind.as_str(),
                    _ => "other",
                };
                json!({"event": "response", "businessKey": business_key, "attempt": attempt, "status": status,
                       "replayed": replayed, "decision": decision})
            }
            Event::TransportFailed { attempt, kind, .. } => {
                json!({"event": "transport_failed", "businessKey": business_key, "attempt": attempt, "kind": kind.as_str()})
            }
            Event::Waiting { next_attempt, delay, reason } => json!({"event": "wait", "businessKey": business_key,
                "nextAttempt": next_attempt, "reason": reason.label(), "delayMs": delay.as_millis() as u64}),
            // The line's own outcome says how it ended.
            _ => return,
        };
        self.write(line);
    }

    /// The first line: the run's campaign, store and settings.
    pub fn run_started(&self, campaign: &str, store: &str, settings: Value) {
        self.write(json!({"event": "run", "campaign": campaign, "store": store, "settings": settings}));
    }

    /// A campaign line's outcome.
    pub fn outcome(&self, o: LineOutcome<'_>) {
        self.write(json!({"event": "outcome", "line": o.line, "businessKey": o.business_key, "account": o.account,
            "outcome": o.outcome, "kind": o.kind, "attempts": o.attempts, "untilMs": o.until_ms, "recorded": o.recorded}));
    }

    /// The last line, with the run's summary; then the log is flushed.
    pub fn run_ended(&self, summary: Value) {
        self.write(json!({"event": "end", "summary": summary}));
        let flushed = self.out.lock().unwrap_or_else(|p| p.into_inner()).flush();
        if let Err(e) = flushed {
            self.fail(&e);
        }
    }

    fn write(&self, mut line: Value) {
        if self.failed.load(Ordering::Relaxed) {
            return;
        }
        if let Value::Object(fields) = &mut line {
            fields.insert("atMs".to_owned(), json!(crate::now_ms()));
        }
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        let written =
            serde_json::to_writer(&mut *out, &line).map_err(std::io::Error::from).and_then(|()| out.write_all(b"\n"));
        drop(out);
        if let Err(e) = written {
            self.fail(&e);
        }
    }

    fn fail(&self, error: &std::io::Error) {
        if !self.failed.swap(true, Ordering::Relaxed) {
            terminal::eprintln(&format!(
                "warning: --events: cannot write {}: {error}; the run goes on without its event log",
                self.path
            ));
        }
    }
}
