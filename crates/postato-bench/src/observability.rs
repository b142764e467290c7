//! Scenario 9, what observability costs: publishes/s of our client with its spans exported
//! (`tracing-opentelemetry` into the OpenTelemetry SDK's batch processor, with an exporter
//! that drops what it is given), with its metrics recorded (`ClientBuilder::meter`, the SDK's
//! instruments), and with both, each beside the same client with neither (the spans' filter
//! switched off, so every callsite is disabled as with no subscriber), in the same run, after
//! a warm-up, in rounds that alternate which side goes first, best of 5 each. The last row
//! runs both against answers that come 20 ms late, as an API's do.

use opentelemetry::metrics::MeterProvider as _;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use postato::Client;
use postato_sim::{FaultRates, SimConfig, SimulatorHandle};
use std::sync::atomic::{AtomicU64, Ordering};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::Layer;

use crate::results::{Baseline, Bound, Figures, Metric, Overhead, OverheadParameters, Rate, Scenario, Target};
use crate::workload::{post, run, simulator};

const CONCURRENCY: usize = 64;
const ROUNDS: usize = 5;
/// How late every answer is in the last row.
const LATE_MS: u64 = 20;
/// With spans and metrics on, at least this share of the client's throughput without them.
const MIN_RATIO: f64 = 0.95;

/// What a run records.
#[derive(Clone, Copy, PartialEq)]
enum Recording {
    Spans,
    Metrics,
    Both,
}

/// An exporter that drops every span: the cost measured is the client's and the SDK's, not a
/// network's.
#[derive(Debug)]
struct Dropping;

/// The spans exported, to check that the spans' runs recorded them.
static EXPORTED: AtomicU64 = AtomicU64::new(0);

impl SpanExporter for Dropping {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        EXPORTED.fetch_add(batch.len() as u64, Ordering::Relaxed);
        Ok(())
    }
}

pub async fn observability(posts: usize) -> Vec<Scenario> {
    let tracer = SdkTracerProvider::builder().with_batch_exporter(Dropping).build();
    let meter = SdkMeterProvider::builder()
        .with_reader(PeriodicReader::builder(InMemoryMetricExporter::default()).build())
        .build();
    // The spans' layer behind a filter switched per run: off, every callsite is disabled, as
    // with no subscriber at all. The process's global subscriber from here on (this group
    // runs last).
    let (filter, spans) = tracing_subscriber::reload::Layer::new(LevelFilter::OFF);
    let layer = tracing_opentelemetry::layer().with_tracer(tracer.tracer("bench")).with_filter(filter);
    if tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer)).is_err() {
        eprintln!("  9: skipped: another subscriber is set");
        return Vec::new();
    }
    let switch = |on: bool| {
        spans
            .modify(|level| *level = if on { LevelFilter::INFO } else { LevelFilter::OFF })
            .expect("the filter switches");
    };
    let mut scenarios = Vec::new();
    // The last row as a service meets the API, every answer late (a round trip and the
    // server's work): a publish waits far longer than it computes, so that row reports what a
    // user would see and carries no target; the CPU-bound rows above it are the measure.
    let rows = [
        (Recording::Spans, "spans exported", None, posts),
        (Recording::Metrics, "metrics recorded", None, posts),
        (Recording::Both, "spans and metrics", None, posts),
        (Recording::Both, "spans and metrics against a late API", Some(LATE_MS), posts / 4),
    ];
    let spans_expected: usize = rows.iter().filter(|row| row.0 != Recording::Metrics).map(|row| row.3).sum();
    for (recording, name, latency_ms, posts) in rows {
        let faults = match latency_ms {
            Some(ms) => FaultRates { latency: 1.0, latency_ms: ms, ..FaultRates::default() },
            None => FaultRates::default(),
        };
        // A simulator of its own, warmed by one untimed run (its connections, the allocators).
        let sim = simulator(SimConfig { faults, ..SimConfig::default() }).await;
        switch(false);
        rate(&sim, None, posts / 4, format!("obs-warm-{name}")).await;
        let (mut best_off, mut best_on) = (0f64, 0f64);
        for round in 0..ROUNDS {
            // Off then on, then on then off: neither side always goes first.
            for on in [round % 2 == 1, round % 2 == 0] {
                switch(on && recording != Recording::Metrics);
                let meter = (on && recording != Recording::Spans).then(|| meter.meter("bench"));
                let rate = rate(&sim, meter, posts, format!("obs-{on}-{name}-{round}")).await;
                match on {
                    true => best_on = best_on.max(rate),
                    false => best_off = best_off.max(rate),
                }
            }
        }
        let figures = Figures::Overhead(Overhead {
            parameters: OverheadParameters {
                posts,
                concurrency: CONCURRENCY,
                rounds: ROUNDS,
                content_bytes: None,
                latency_ms,
            },
            ours: Rate { publishes_per_second: best_on },
            baseline: Baseline {
                description: "the same client, no spans and no metrics".into(),
                figures: Rate { publishes_per_second: best_off },
            },
        });
        let target = match latency_ms {
            None => vec![Target::new(Metric::Ratio, Bound::AtLeast(MIN_RATIO))],
            Some(_) => Vec::new(),
        };
        scenarios.push(Scenario::new("9", format!("Observability: {name}"), figures, target));
    }
    switch(false);
    let _ = tracer.shutdown();
    let _ = meter.shutdown();
    let exported = EXPORTED.load(Ordering::Relaxed);
    // Every publish of the spans' rounds, with its attempt, at least: fewer (the batch queue
    // full and spans dropped, the filter not switched) and those rows measured less.
    let least = 2 * ROUNDS * spans_expected;
    assert!(exported >= least as u64, "only {exported} spans were exported, for {least} or more");
    scenarios
}

/// Publishes/s of a fresh client, recording metrics on `meter` when given.
async fn rate(
    sim: &SimulatorHandle,
    meter: Option<opentelemetry::metrics::Meter>,
    posts: usize,
    prefix: String,
) -> f64 {
    let mut builder = Client::builder().api_key(sim.api_key()).workspace_id("ws_bench").base_url(sim.base_url());
    if let Some(meter) = meter {
        builder = builder.meter(meter);
    }
    let client = builder.build().expect("the client builds");
    let took = run(posts, CONCURRENCY, move |i| {
        let (client, post) = (client.clone(), post(&prefix, i));
        async move {
            client.publish(&post).await.expect("the publish succeeds");
        }
    })
    .await;
    posts as f64 / took.as_secs_f64()
}
