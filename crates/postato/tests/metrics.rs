//! The client's metrics through OpenTelemetry (`ClientBuilder::meter`): after a faulty run,
//! every documented metric is exported under its name, with the counts the run implies.

mod common;
use common::*;
use opentelemetry::metrics::MeterProvider;
use opentelemetry_sdk::metrics::data::{AggregatedMetrics, MetricData};
use opentelemetry_sdk::metrics::{InMemoryMetricExporter, PeriodicReader, SdkMeterProvider};
use postato::metrics;
use postato_sim::ScriptAction;
use std::collections::BTreeMap;

/// `name{label=value}` → the summed value (counters), the count (histograms), the value (gauges).
fn exported(exporter: &InMemoryMetricExporter) -> BTreeMap<String, f64> {
    let mut values = BTreeMap::new();
    for resource in exporter.get_finished_metrics().unwrap() {
        for scope in resource.scope_metrics() {
            for metric in scope.metrics() {
                let mut put = |attributes: Vec<String>, value: f64| {
                    let key = match attributes.is_empty() {
                        true => metric.name().to_owned(),
                        false => format!("{}{{{}}}", metric.name(), attributes.join(",")),
                    };
                    values.insert(key, value);
                };
                let labels = |kvs: &mut dyn Iterator<Item = &opentelemetry::KeyValue>| {
                    kvs.map(|kv| format!("{}={}", kv.key, kv.value)).collect::<Vec<_>>()
                };
                match metric.data() {
                    AggregatedMetrics::U64(MetricData::Sum(sum)) => {
                        for p in sum.data_points() {
                            put(labels(&mut p.attributes()), p.value() as f64)
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Histogram(histogram)) => {
                        for p in histogram.data_points() {
                            put(labels(&mut p.attributes()), p.count() as f64)
                        }
                    }
                    AggregatedMetrics::F64(MetricData::Gauge(gauge)) => {
                        for p in gauge.data_points() {
                            put(labels(&mut p.attributes()), p.value())
                        }
                    }
                    other => panic!("{} is exported as {other:?}", metric.name()),
                }
            }
        }
    }
    values
}

#[tokio::test]
async fn a_faulty_run_exports_every_metric_by_name_with_its_counts() {
    let exporter = InMemoryMetricExporter::default();
    let provider = SdkMeterProvider::builder().with_reader(PeriodicReader::builder(exporter.clone()).build()).build();
    let sim = sim().await;
    let client = builder(&sim).meter(provider.meter("postato-test")).build().unwrap();

    let retried = key("metrics-retried");
    sim.script_business_key(&retried, vec![respond(503), ScriptAction::Reset, ScriptAction::Ok]);
    assert_eq!(client.publish(&post(&retried)).await.unwrap().attempts, 3);
    let limited = key("metrics-429");
    let retry_after = [("Retry-After".to_owned(), "1".to_owned())].into_iter().collect();
    let status = 429;
    sim.script_business_key(
        &limited,
        vec![ScriptAction::Respond { status, headers: retry_after, body: None, body_text: None }, ScriptAction::Ok],
    );
    assert_eq!(client.publish(&post(&limited)).await.unwrap().attempts, 2);
    // Through a Publisher: its dead letter is counted too.
    let refused = key("metrics-permanent");
    sim.script_business_key(&refused, vec![respond(400)]);
    let publisher = postato::Publisher::new(client.clone(), postato::MemoryStore::new());
    publisher.publish(&post(&refused)).await.unwrap_err();

    provider.force_flush().unwrap();
    let values = exported(&exporter);
    for info in metrics::METRICS {
        assert!(
            values.keys().any(|k| k.split('{').next() == Some(info.name)),
            "{} missing from {values:#?}",
            info.name
        );
    }
    let value = |key: &str| values.get(key).copied().unwrap_or_else(|| panic!("no {key} in {values:#?}"));
    assert_eq!(value("postato.attempts"), 6.0);
    assert_eq!(value("postato.retries{reason=retryable_status}"), 1.0);
    assert_eq!(value("postato.retries{reason=transport_failure}"), 1.0);
    assert_eq!(value("postato.retries{reason=rate_limited}"), 1.0);
    assert!(value("postato.waits{reason=rate_limited}") >= 1.0);
    assert_eq!(value("postato.publishes{outcome=published}"), 2.0);
    assert_eq!(value("postato.publishes{outcome=permanent}"), 1.0);
    assert_eq!(value("postato.dead_letters{kind=permanent}"), 1.0);
    assert!(value("postato.waits{reason=retryable_status}") >= 1.0);
    assert!(value("postato.wait.duration{reason=transport_failure}") >= 1.0);
    assert!(value("postato.retry_budget.tokens") > 0.0);
}
