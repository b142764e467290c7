//! The running tally of a run: lines done, published, already published, dead-lettered (by
//! kind) and results that could not be recorded. The publishing tasks add to it, the progress
//! display reads it, and at the end it becomes the [`Summary`].

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::summary::Summary;

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
}

impl Tally {
    /// Counts one dead letter of `kind`.
    pub fn count_dead_letter(&self, kind: &str) {
        self.dead_lettered.fetch_add(1, Ordering::Relaxed);
        *self.dead_lettered_by_kind.lock().unwrap_or_else(|p| p.into_inner()).entry(kind.to_owned()).or_default() += 1;
    }

    /// The progress line: counts so far and the rate since `started`.
    pub fn progress_line(&self, started: Instant) -> String {
        let done = self.done.load(Ordering::Relaxed);
        format!(
            "{done} done ({} published, {} already, {} dead-lettered), {:.0}/s",
            self.published.load(Ordering::Relaxed),
            self.already_published.load(Ordering::Relaxed),
            self.dead_lettered.load(Ordering::Relaxed),
            done as f64 / started.elapsed().as_secs_f64().max(1e-3)
        )
    }

    /// The run's summary from this tally.
    pub fn summary(&self, interrupted: bool, elapsed: Duration) -> Summary {
        Summary {
            total: self.done.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            already_published: self.already_published.load(Ordering::Relaxed),
            dead_lettered: self.dead_lettered_by_kind.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            store_errors: self.store_errors.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            interrupted,
            elapsed,
        }
    }
}
