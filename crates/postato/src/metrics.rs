//! Metrics: what a team graphs about its publishing (requests, retries by reason, waits by
//! reason and how long they took, outcomes by kind, the retry budget's level), fed from the
//! core's events. Every name is written once, in [`METRICS`]; a [`Metrics`] sink records them:
//! the `opentelemetry` feature gives one over an OpenTelemetry `Meter`
//! (`ClientBuilder::meter`), and `postato batch --metrics <addr>` serves them as Prometheus
//! text (dots become underscores, counters end in `_total`).

use postato_core::Event;

/// Requests sent (every attempt).
pub const ATTEMPTS: &str = "postato.attempts";
/// Retries, by `reason` (`retryable_status`, `transport_failure`, `rate_limited`).
pub const RETRIES: &str = "postato.retries";
/// Waits before an attempt, by `reason`: the retries' and the shared limits' (`rate_limit_gate`
/// holds, `probe`, `pacing`, `retry_budget`).
pub const WAITS: &str = "postato.waits";
/// How long each wait was, in seconds, by `reason`.
pub const WAIT_DURATION: &str = "postato.wait.duration";
/// Finished publishes, by `outcome`: `published` or the error's kind (`transient`, …).
pub const PUBLISHES: &str = "postato.publishes";
/// Tokens left in the client's shared retry budget.
pub const RETRY_BUDGET_TOKENS: &str = "postato.retry_budget.tokens";
/// Dead letters recorded in a result store, by `kind` (the error's kind; `invalid_input` for
/// a campaign line that is not a post).
pub const DEAD_LETTERS: &str = "postato.dead_letters";

/// The bucket bounds of [`WAIT_DURATION`], in seconds: 1 ms to about 4.4 min (a pacing gap to
/// a long Retry-After), each 4 times the last.
pub const WAIT_BUCKETS: [f64; 10] = [0.001, 0.004, 0.016, 0.064, 0.256, 1.024, 4.096, 16.384, 65.536, 262.144];

/// The label of [`RETRIES`], [`WAITS`] and [`WAIT_DURATION`].
pub const REASON: &str = "reason";
/// The label of [`PUBLISHES`].
pub const OUTCOME: &str = "outcome";
/// The label of [`DEAD_LETTERS`].
pub const KIND: &str = "kind";

/// How a metric is recorded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// A distribution of values.
    Histogram,
    /// A level read when the metric is collected.
    Gauge,
}

/// A metric as documented.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct MetricInfo {
    /// Its name.
    pub name: &'static str,
    /// How it is recorded.
    pub kind: MetricKind,
    /// Its unit (UCUM, as OpenTelemetry writes them).
    pub unit: &'static str,
    /// What it counts.
    pub help: &'static str,
    /// Its label, if it has one.
    pub label: Option<&'static str>,
}

/// Every metric postato records.
pub const METRICS: [MetricInfo; 7] = [
    MetricInfo { name: ATTEMPTS, kind: MetricKind::Counter, unit: "{request}", help: "Requests sent", label: None },
    MetricInfo {
        name: RETRIES,
        kind: MetricKind::Counter,
        unit: "{retry}",
        help: "Retries of failed attempts, by reason",
        label: Some(REASON),
    },
    MetricInfo {
        name: WAITS,
        kind: MetricKind::Counter,
        unit: "{wait}",
        help: "Waits before an attempt (retries, rate-limit gate holds, pacing, an empty retry budget), by reason",
        label: Some(REASON),
    },
    MetricInfo {
        name: WAIT_DURATION,
        kind: MetricKind::Histogram,
        unit: "s",
        help: "How long each wait before an attempt was, by reason",
        label: Some(REASON),
    },
    MetricInfo {
        name: PUBLISHES,
        kind: MetricKind::Counter,
        unit: "{publish}",
        help: "Finished publishes, by outcome (published or the error's kind)",
        label: Some(OUTCOME),
    },
    MetricInfo {
        name: DEAD_LETTERS,
        kind: MetricKind::Counter,
        unit: "{letter}",
        help: "Dead letters recorded in a result store, by kind",
        label: Some(KIND),
    },
    MetricInfo {
        name: RETRY_BUDGET_TOKENS,
        kind: MetricKind::Gauge,
        unit: "{token}",
        help: "Tokens left in the client's shared retry budget",
        label: None,
    },
];

/// Where a client's metrics go. Called on the publishing task: keep it quick (an atomic add).
/// The gauge [`RETRY_BUDGET_TOKENS`] is not pushed: read it with
/// `Client::retry_budget_tokens` when the metrics are collected.
pub trait Metrics: Send + Sync {
    /// Adds `value` to counter `name`, with its label's value if it has one.
    fn add(&self, name: &'static str, value: u64, label: Option<&str>);
    /// Records `value` in histogram `name`.
    fn record(&self, name: &'static str, value: f64, label: Option<&str>);
}

/// Records what `event` means for the metrics.
pub(crate) fn record(metrics: &dyn Metrics, event: &Event) {
    match event {
        Event::AttemptStarted { .. } => metrics.add(ATTEMPTS, 1, None),
        Event::Waiting { delay, reason, .. } => {
            if reason.is_retry() {
                metrics.add(RETRIES, 1, Some(reason.label()));
            }
            metrics.add(WAITS, 1, Some(reason.label()));
            metrics.record(WAIT_DURATION, delay.as_secs_f64(), Some(reason.label()));
        }
        Event::Finished { result, .. } => {
            metrics.add(PUBLISHES, 1, Some(result.err().map_or("published", |kind| kind.as_str())))
        }
        _ => {}
    }
}

#[cfg(feature = "opentelemetry")]
pub use otel::OpenTelemetryMetrics;

#[cfg(feature = "opentelemetry")]
mod otel {
    use opentelemetry::metrics::{Counter, Histogram, Meter};
    use opentelemetry::KeyValue;
    use std::collections::HashMap;

    use super::{MetricInfo, MetricKind, Metrics, METRICS};

    /// [`Metrics`] as OpenTelemetry instruments of `meter` (the exporter is the application's
    /// choice: OTLP, Prometheus, …).
    pub struct OpenTelemetryMetrics {
        counters: HashMap<&'static str, (Counter<u64>, Option<&'static str>)>,
        histograms: HashMap<&'static str, (Histogram<f64>, Option<&'static str>)>,
    }

    impl OpenTelemetryMetrics {
        /// The instruments of every counter and histogram of [`METRICS`] on `meter`.
        pub fn new(meter: &Meter) -> Self {
            let described = |info: &MetricInfo| (info.name, info.unit, info.help);
            let mut counters = HashMap::new();
            let mut histograms = HashMap::new();
            for info in METRICS.iter() {
                let (name, unit, help) = described(info);
                match info.kind {
                    MetricKind::Counter => {
                        let counter = meter.u64_counter(name).with_unit(unit).with_description(help).build();
                        counters.insert(name, (counter, info.label));
                    }
                    MetricKind::Histogram => {
                        let histogram = meter
                            .f64_histogram(name)
                            .with_unit(unit)
                            .with_description(help)
                            .with_boundaries(super::WAIT_BUCKETS.to_vec())
                            .build();
                        histograms.insert(name, (histogram, info.label));
                    }
                    MetricKind::Gauge => {}
                }
            }
            OpenTelemetryMetrics { counters, histograms }
        }
    }

    fn attributes(label: Option<&'static str>, value: Option<&str>) -> Vec<KeyValue> {
        match (label, value) {
            (Some(label), Some(value)) => vec![KeyValue::new(label, value.to_owned())],
            _ => Vec::new(),
        }
    }

    impl Metrics for OpenTelemetryMetrics {
        fn add(&self, name: &'static str, value: u64, label: Option<&str>) {
            if let Some((counter, key)) = self.counters.get(name) {
                counter.add(value, &attributes(*key, label));
            }
        }

        fn record(&self, name: &'static str, value: f64, label: Option<&str>) {
            if let Some((histogram, key)) = self.histograms.get(name) {
                histogram.record(value, &attributes(*key, label));
            }
        }
    }
}
