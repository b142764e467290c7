//! [`Tally`]: metrics gathered for a language's own OpenTelemetry instruments. Clients record
//! into it as they publish (a lock and an add, no call into the language); the language takes
//! what gathered since it last looked ([`Tally::take_json`]) when its metric reader collects and
//! once a second, and adds it to instruments it made from [`metrics_table_json`], so every
//! language reports Rust's [`METRICS`] under the same names, units and labels. Python and Node
//! share one per process ([`process_tally`]): the metrics name no client, and a client that is
//! gone leaves what it recorded for the next take.

use postato::metrics::{MetricKind, Metrics, METRICS, WAIT_BUCKETS, WAIT_DURATION};
use serde::Serialize;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, TryLockError};

/// Wait durations kept between two takes; more are counted as dropped (a language that takes
/// once a second would need 100,000 waits a second to drop one; one whose application set no
/// meter provider takes none, and keeps at most these).
pub const MAX_WAITS: usize = 100_000;

/// The tally every client of this process that gathers metrics records into.
pub fn process_tally() -> Arc<Tally> {
    static TALLY: OnceLock<Arc<Tally>> = OnceLock::new();
    Arc::clone(TALLY.get_or_init(Arc::default))
}

/// What gathered since the last take.
#[derive(Debug, Default)]
struct Gathered {
    /// Each counter's increase, by name and label value, in the order they first came: a few
    /// dozen at most, found without allocating (a publish adds several).
    counts: Vec<(&'static str, Option<String>, u64)>,
    /// Each wait's reason and length in seconds, in order.
    waits: Vec<(String, f64)>,
    /// Waits past [`MAX_WAITS`].
    dropped: u64,
}

/// A client's metrics, gathered until a language takes them.
#[derive(Debug, Default)]
pub struct Tally(Mutex<Gathered>);

impl Metrics for Tally {
    fn add(&self, name: &'static str, value: u64, label: Option<&str>) {
        let mut gathered = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let counts = &mut gathered.counts;
        match counts.iter_mut().find(|(n, l, _)| *n == name && l.as_deref() == label) {
            Some((_, _, count)) => *count += value,
            None => counts.push((name, label.map(str::to_owned), value)),
        }
    }

    fn record(&self, name: &'static str, value: f64, label: Option<&str>) {
        if name != WAIT_DURATION {
            return;
        }
        let mut gathered = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if gathered.waits.len() < MAX_WAITS {
            gathered.waits.push((label.unwrap_or_default().to_owned(), value));
        } else {
            gathered.dropped += 1;
        }
    }
}

/// What a language adds to its instruments.
#[derive(Debug, Serialize)]
pub struct Taken {
    /// `[name, label value or null, increase]`.
    pub counts: Vec<(&'static str, Option<String>, u64)>,
    /// `[reason, seconds]`, recorded in `postato.wait.duration`.
    pub waits: Vec<(String, f64)>,
    /// Waits past [`MAX_WAITS`], not kept.
    pub dropped: u64,
}

impl Tally {
    /// The lock, unless it stays held: a fork's child inherits a lock that a thread of its
    /// parent held, and no thread of its own will release it.
    fn lock_briefly(&self) -> Option<MutexGuard<'_, Gathered>> {
        for _ in 0..1000 {
            match self.0.try_lock() {
                Ok(gathered) => return Some(gathered),
                Err(TryLockError::Poisoned(poisoned)) => return Some(poisoned.into_inner()),
                Err(TryLockError::WouldBlock) => std::thread::yield_now(),
            }
        }
        None
    }

    /// Forgets what gathered: a fork's child, whose parent reports it.
    pub fn discard(&self) {
        if let Some(mut gathered) = self.lock_briefly() {
            *gathered = Gathered::default();
        }
    }

    /// What gathered since the last take; `None` when nothing did (or the lock stayed held).
    pub fn take(&self) -> Option<Taken> {
        let gathered = std::mem::take(&mut *self.lock_briefly()?);
        if gathered.counts.is_empty() && gathered.waits.is_empty() && gathered.dropped == 0 {
            return None;
        }
        Some(Taken { counts: gathered.counts, waits: gathered.waits, dropped: gathered.dropped })
    }

    /// [`Tally::take`] as JSON (`{"counts": [[name, label, n]], "waits": [[reason, seconds]],
    /// "dropped": n}`).
    pub fn take_json(&self) -> Option<String> {
        serde_json::to_string(&self.take()?).ok()
    }
}

/// A metric's kind as the languages name it: `counter`, `histogram` or `gauge`.
pub fn kind_name(kind: MetricKind) -> &'static str {
    match kind {
        MetricKind::Counter => "counter",
        MetricKind::Histogram => "histogram",
        _ => "gauge",
    }
}

/// Rust's [`METRICS`] as the languages make their instruments of them: `{"metrics": [{name,
/// kind: counter|histogram|gauge, unit, help, label}], "waitBuckets": [seconds]}`.
pub fn metrics_table_json() -> String {
    let metrics: Vec<serde_json::Value> = METRICS
        .iter()
        .map(|m| {
            let kind = kind_name(m.kind);
            serde_json::json!({ "name": m.name, "kind": kind, "unit": m.unit, "help": m.help, "label": m.label })
        })
        .collect();
    serde_json::json!({ "metrics": metrics, "waitBuckets": WAIT_BUCKETS }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use postato::metrics::{ATTEMPTS, RETRIES};

    #[test]
    fn a_take_holds_what_gathered_since_the_last_and_then_nothing() {
        let tally = Tally::default();
        assert_eq!(tally.take_json(), None);
        tally.add(ATTEMPTS, 1, None);
        tally.add(ATTEMPTS, 2, None);
        tally.add(RETRIES, 1, Some("retryable_status"));
        tally.record(WAIT_DURATION, 0.25, Some("retryable_status"));
        let taken: serde_json::Value = serde_json::from_str(&tally.take_json().unwrap()).unwrap();
        assert_eq!(
            taken,
            serde_json::json!({
                "counts": [["postato.attempts", null, 3], ["postato.retries", "retryable_status", 1]],
                "waits": [["retryable_status", 0.25]],
                "dropped": 0,
            })
        );
        assert_eq!(tally.take_json(), None);
    }

    #[test]
    fn waits_past_the_cap_are_counted_as_dropped() {
        let tally = Tally::default();
        for _ in 0..MAX_WAITS + 3 {
            tally.record(WAIT_DURATION, 0.001, Some("pacing"));
        }
        let taken: serde_json::Value = serde_json::from_str(&tally.take_json().unwrap()).unwrap();
        assert_eq!((taken["waits"].as_array().unwrap().len(), taken["dropped"].as_u64()), (MAX_WAITS, Some(3)));
    }

    #[test]
    fn the_table_names_every_metric_with_its_kind() {
        let table: serde_json::Value = serde_json::from_str(&metrics_table_json()).unwrap();
        let kinds: Vec<(&str, &str)> = table["metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| (m["name"].as_str().unwrap(), m["kind"].as_str().unwrap()))
            .collect();
        assert_eq!(kinds.len(), METRICS.len());
        assert!(kinds.contains(&("postato.wait.duration", "histogram")));
        assert!(kinds.contains(&("postato.retry_budget.tokens", "gauge")));
        assert_eq!(table["waitBuckets"].as_array().unwrap().len(), WAIT_BUCKETS.len());
    }
}
