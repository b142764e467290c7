//! What a run did: the [`Summary`] of a run, its exit code, and how it is printed (text, or one
//! JSON line).

use postato::{ErrorKind, Timestamp};
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;

use crate::args::Output;
use crate::exit;
use crate::signals::StopSignal;

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Posts read (valid or not).
    pub total: u64,
    /// Published by this run.
    pub published: u64,
    /// Already published before this run (answered by the store).
    pub already_published: u64,
    /// Dead-lettered by this run, by error kind.
    pub dead_lettered: BTreeMap<String, u64>,
    /// Publishes whose result could not be recorded.
    pub store_errors: u64,
    /// Lines whose publish failed inside postato (a bug, logged): nothing was recorded for
    /// them, and running again is safe.
    pub failed: u64,
    /// Posts deferred by their rate limit and not published by this run (kept in the store).
    pub deferred: u64,
    /// When the last of them is due.
    pub deferred_until: Option<Timestamp>,
    /// The signal that stopped the run before the end (Ctrl-C, SIGTERM, SIGHUP), if one did.
    pub stopped_by: Option<StopSignal>,
    /// The setting that stopped the run (an untrusted certificate: no post could be sent).
    pub setting_error: Option<postato::PublishError>,
    /// What to run to see (and requeue) the run's dead letters: printed under them
    /// ([`Summary::hint_dead_letters_in`]).
    pub dead_letter_hint: Option<String>,
    /// How long it took.
    pub elapsed: Duration,
}

impl Summary {
    /// Says, under the dead letters, how to list them in the store at `location` and, if
    /// `requeue`, how to requeue them (the store named as `args::store_flag` names it).
    pub fn hint_dead_letters_in(&mut self, location: &str, requeue: bool) {
        let store = crate::args::store_flag(location);
        let mut hint = format!("inspect them with `postato dlq list{store}`");
        if requeue {
            hint.push_str(&format!(", requeue with `postato dlq retry{store}` (and the same connection settings)"));
        }
        self.dead_letter_hint = Some(hint);
    }

    /// Whether a signal stopped the run before the end.
    pub fn interrupted(&self) -> bool {
        self.stopped_by.is_some()
    }

    fn dead_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }

    /// 0: all published; 1: lines that failed inside postato, or results the store could not
    /// record (run again to record them); 3: dead letters that need a fix; 6: dead letters whose
    /// outcome is unknown (and none that needs a fix); 4: only dead letters worth retrying
    /// later; 5: nothing failed, but posts are deferred; 130, 143, 129:
    /// stopped by Ctrl-C, SIGTERM or SIGHUP.
    pub fn exit_code(&self) -> u8 {
        if let Some(signal) = self.stopped_by {
            return signal.exit_code();
        }
        if self.setting_error.is_some() {
            return exit::INVALID_INPUT;
        }
        if self.failed > 0 || self.store_errors > 0 {
            return exit::FAILURE;
        }
        let kinds: Vec<ErrorKind> = self.dead_lettered.keys().filter_map(|k| ErrorKind::parse(k)).collect();
        let unknown = |k: &ErrorKind| exit::for_kind(*k) == exit::UNKNOWN_OUTCOME;
        if kinds.iter().any(|k| !k.is_retryable_later() && !unknown(k)) {
            exit::PERMANENT
        } else if kinds.iter().any(unknown) {
            exit::UNKNOWN_OUTCOME
        } else if kinds.is_empty() && self.deferred > 0 {
            exit::DEFERRED
        } else if kinds.is_empty() {
            exit::SUCCESS
        } else {
            exit::TRANSIENT
        }
    }

    /// The summary as `--output json` prints it (and the event log's `end` line holds it).
    pub fn to_json(&self) -> serde_json::Value {
        json!({
            "ok": self.exit_code() == exit::SUCCESS,
            "total": self.total,
            "published": self.published,
            "alreadyPublished": self.already_published,
            "deadLettered": self.dead_total(),
            "deadLetteredByKind": self.dead_lettered,
            "storeErrors": self.store_errors,
            "failed": self.failed,
            "deferred": self.deferred,
            "deferredUntil": self.deferred_until.map(Timestamp::to_rfc3339),
            "interrupted": self.interrupted(),
            "signal": self.stopped_by.map(StopSignal::name),
            "error": self.setting_error.as_ref().map(crate::report::error_object),
            "elapsedMs": self.elapsed.as_millis() as u64,
        })
    }

    /// Prints the summary.
    pub fn print(&self, output: Output) {
        let rate = self.total as f64 / self.elapsed.as_secs_f64().max(1e-3);
        match output {
            Output::Json => outln!("{}", self.to_json()),
            Output::Text => {
                outln!(
                    "{} posts in {:.1} s ({rate:.0}/s): {} published, {} already published, {} dead-lettered, {} deferred",
                    self.total,
                    self.elapsed.as_secs_f64(),
                    self.published,
                    self.already_published,
                    self.dead_total(),
                    self.deferred
                );
                if let Some(error) = &self.setting_error {
                    crate::report::failed(output, error);
                    outln!(
                        "  stopped: no post can be sent until that setting is fixed; run the same command again then"
                    );
                }
                if let Some(until) = self.deferred_until {
                    outln!(
                        "  deferred until {} at the latest (rate limited): run the same command again after then to \
                         publish them, or with --wait (nothing is sent for them before their time)",
                        until.to_rfc3339()
                    );
                }
                for (kind, n) in &self.dead_lettered {
                    outln!("  dead-lettered ({kind}): {n}");
                }
                if let Some(hint) = self.dead_letter_hint.as_ref().filter(|_| self.dead_total() > 0) {
                    outln!("  {hint}");
                }
                if self.store_errors > 0 {
                    outln!(
                        "  {} published posts could not be recorded: run the same command again to record them \
                         (nothing is published twice)",
                        self.store_errors
                    );
                }
                if self.failed > 0 {
                    outln!("  {} posts failed inside postato (see the log); running again is safe", self.failed);
                }
                if let Some(signal) = self.stopped_by {
                    outln!(
                        "  interrupted ({}): run the same command again to finish (nothing is published twice)",
                        signal.name()
                    );
                }
            }
        }
    }
}
