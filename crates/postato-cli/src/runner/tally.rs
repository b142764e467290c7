//! The running tally of a run: lines done, published, already published, dead-lettered (by
//! kind), deferred (and until when) and results that could not be recorded. The publishing tasks add to it, the progress
//! display reads it, and at the end it becomes the [`Summary`].

use postato::{PublishError, Timestamp};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::summary::Summary;
use crate::signals::StopSignal;

#[derive(Default)]
pub(super) struct Tally {
    /// Lines finished with a result (published, already published or dead-lettered).
    pub done: AtomicU64,
    pub published: AtomicU64,
    pub already_published: AtomicU64,
    pub store_errors: AtomicU64,
    /// Lines whose publish failed inside postato (a panic): nothing recorded for them.
    pub failed: AtomicU64,
    dead_lettered: AtomicU64,
    dead_lettered_by_kind: Mutex<BTreeMap<String, u64>>,
    /// Lines deferred and not done since (by line number), with when each is due (not in
    /// `done`): a line deferred again replaces its time, a line done later leaves.
    deferred: Mutex<BTreeMap<u64, Timestamp>>,
    /// Whether the run waits for its deferred lines (`--wait`), shown in the progress line.
    pub waiting: std::sync::atomic::AtomicBool,
    /// The first setting a publish found wrong (an untrusted certificate): it holds for every
    /// post, so the run starts no other and ends with it.
    setting_error: Mutex<Option<PublishError>>,
}

impl Tally {
    /// Counts one dead letter of `kind`.
    pub fn count_dead_letter(&self, kind: &str) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        *self.dead_lettered_by_kind.lock().unwrap_or_else(|p| p.into_inner()).entry(kind.to_owned()).or_default() += 1;
    }

    /// Keeps the first setting error a publish met; the run stops starting lines.
    pub fn stop_for_setting(&self, error: PublishError) {
        self.setting_error.lock().unwrap_or_else(|p| p.into_inner()).get_or_insert(error);
    }

    /// Whether a publish met a setting error.
    pub fn has_setting_error(&self) -> bool {
        self.setting_error.lock().unwrap_or_else(|p| p.into_inner()).is_some()
    }

    /// Counts line `line` as deferred until `until`.
    pub fn count_deferred(&self, line: u64, until: Timestamp) {
        self.deferred_lines().insert(line, until);
    }

    /// Counts line `line` as done (published, already published or dead-lettered), no longer
    /// deferred if it was.
    pub fn count_done(&self, line: u64) {
        self.deferred_lines().remove(&line);
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    fn deferred_lines(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Timestamp>> {
        self.deferred.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Lines done or deferred: the progress bar's position.
    pub fn position(&self) -> u64 {
        self.done.load(Ordering::Relaxed) + self.deferred_lines().len() as u64
    }

    /// The progress line: counts so far, the rate since `started`, and what the run waits for.
    pub fn progress_line(&self, started: Instant) -> String {
        let done = self.done.load(Ordering::Relaxed);
        let deferred: Vec<Timestamp> = self.deferred_lines().values().copied().collect();
        let mut line = format!(
            "{done} done ({} published, {} already, {} dead-lettered), {:.0}/s",
            self.published.load(Ordering::Relaxed),
            self.already_published.load(Ordering::Relaxed),
            self.dead_lettered.load(Ordering::Relaxed),
            done as f64 / started.elapsed().as_secs_f64().max(1e-3)
        );
        if let (Some(next), Some(last)) = (deferred.iter().min(), deferred.iter().max()) {
            let verb = if self.waiting.load(Ordering::Relaxed) { "waiting for" } else { "deferred:" };
            line.push_str(&format!(
                ", {verb} {} deferred post(s), next due {}, last {}",
                deferred.len(),
                next.to_rfc3339(),
                last.to_rfc3339()
            ));
        }
        line
    }

    /// The run's summary from this tally.
    pub fn summary(&self, stopped_by: Option<StopSignal>, elapsed: Duration) -> Summary {
        let deferred: Vec<Timestamp> = self.deferred_lines().values().copied().collect();
        Summary {
            total: self.done.load(Ordering::Relaxed) + deferred.len() as u64,
            published: self.published.load(Ordering::Relaxed),
            already_published: self.already_published.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered_by_kind.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            store_errors: self.store_errors.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            deferred: deferred.len() as u64,
            deferred_until: deferred.iter().max().copied(),
            stopped_by,
            setting_error: self.setting_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            elapsed,
            dead_letter_hint: None,
        }
    }
}
