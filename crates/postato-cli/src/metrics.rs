//! `postato batch --metrics <addr>`: the client's metrics ([`postato::metrics`]) as Prometheus
//! text at `http://<addr>/metrics` while the campaign runs. The names are the library's with
//! dots as underscores: `postato_attempts_total`, `postato_retries_total{reason=…}`,
//! `postato_waits_total{reason=…}`, `postato_wait_duration_seconds{reason=…}`,
//! `postato_publishes_total{outcome=…}`, `postato_dead_letters_total{kind=…}`,
//! `postato_retry_budget_tokens`.

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use postato::metrics::{MetricKind, Metrics, METRICS};
use postato::Client;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};
use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;

type Labels = Vec<(&'static str, String)>;

/// A counter with its label (`reason`, `outcome`), or one without.
enum Counted {
    Labelled(Family<Labels, Counter>, &'static str),
    Plain(Counter),
}

/// The metrics in a Prometheus registry.
pub struct PrometheusMetrics {
    registry: Registry,
    counters: HashMap<&'static str, Counted>,
    histograms: HashMap<&'static str, (Family<Labels, Histogram>, Option<&'static str>)>,
    budget: Gauge<f64, AtomicU64>,
    client: OnceLock<Client>,
}

/// A library name as Prometheus writes it: `postato.wait.duration` → `postato_wait_duration`.
fn prometheus_name(name: &str) -> String {
    name.replace('.', "_")
}

fn labels(key: Option<&'static str>, value: Option<&str>) -> Labels {
    match (key, value) {
        (Some(key), Some(value)) => vec![(key, value.to_owned())],
        _ => Vec::new(),
    }
}

impl PrometheusMetrics {
    /// A registry with every metric of [`METRICS`].
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let mut counters = HashMap::new();
        let mut histograms = HashMap::new();
        let budget = Gauge::<f64, AtomicU64>::default();
        for info in METRICS.iter() {
            let name = prometheus_name(info.name);
            match info.kind {
                MetricKind::Counter => {
                    let counted = match info.label {
                        Some(label) => {
                            let family = Family::<Labels, Counter>::default();
                            registry.register(name, info.help, family.clone());
                            Counted::Labelled(family, label)
                        }
                        None => {
                            let counter = Counter::default();
                            registry.register(name, info.help, counter.clone());
                            Counted::Plain(counter)
                        }
                    };
                    counters.insert(info.name, counted);
                }
                MetricKind::Histogram => {
                    let family = Family::<Labels, Histogram>::new_with_constructor(|| {
                        Histogram::new(postato::metrics::WAIT_BUCKETS.iter().copied())
                    });
                    registry.register_with_unit(name, info.help, Unit::Seconds, family.clone());
                    histograms.insert(info.name, (family, info.label));
                }
                _ => registry.register(name, info.help, budget.clone()),
            }
        }
        PrometheusMetrics { registry, counters, histograms, budget, client: OnceLock::new() }
    }

    /// The client whose retry budget the gauge reads at each scrape.
    pub fn watch(&self, client: Client) {
        let _ = self.client.set(client);
    }

    /// The metrics as Prometheus text.
    pub fn text(&self) -> String {
        if let Some(client) = self.client.get() {
            self.budget.set(client.retry_budget_tokens());
        }
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

impl Metrics for PrometheusMetrics {
    fn add(&self, name: &'static str, value: u64, label: Option<&str>) {
        match self.counters.get(name) {
            Some(Counted::Labelled(family, key)) => {
                family.get_or_create(&labels(Some(key), label)).inc_by(value);
            }
            Some(Counted::Plain(counter)) => {
                counter.inc_by(value);
            }
            None => {}
        }
    }

    fn record(&self, name: &'static str, value: f64, label: Option<&str>) {
        if let Some((family, key)) = self.histograms.get(name) {
            family.get_or_create(&labels(*key, label)).observe(value);
        }
    }
}

/// A health check: true while the process can do its work (a worker's database answers).
pub type Health = Arc<dyn Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = bool> + Send>> + Send + Sync>;

/// Serves `metrics` at `http://<addr>/metrics` (and, with `health`, `/healthz`: 200 while it
/// answers true, else 503) until the process ends; returns the address bound (port 0 picks a
/// free one).
pub async fn serve(
    addr: SocketAddr,
    metrics: Arc<PrometheusMetrics>,
    health: Option<Health>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (metrics, health) = (Arc::clone(&metrics), health.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (metrics, health) = (Arc::clone(&metrics), health.clone());
                    async move {
                        let path = request.uri().path();
                        if let (Some(health), "/healthz") = (&health, path) {
                            return Ok::<_, Infallible>(healthz(health().await));
                        }
                        Ok::<_, Infallible>(answer(&metrics, path))
                    }
                });
                let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
            });
        }
    });
    Ok(bound)
}

fn healthz(healthy: bool) -> Response<Full<Bytes>> {
    let (status, body) = match healthy {
        true => (StatusCode::OK, "ok\n"),
        false => (StatusCode::SERVICE_UNAVAILABLE, "the database does not answer\n"),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
}

fn answer(metrics: &PrometheusMetrics, path: &str) -> Response<Full<Bytes>> {
    let (status, content_type, body) = match path {
        "/metrics" => (StatusCode::OK, "application/openmetrics-text; version=1.0.0; charset=utf-8", metrics.text()),
        _ => (StatusCode::NOT_FOUND, "text/plain; charset=utf-8", "postato serves /metrics only\n".to_owned()),
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static(content_type));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_named_as_the_library_names_it_with_underscores() {
        let metrics = PrometheusMetrics::new();
        metrics.add(postato::metrics::ATTEMPTS, 2, None);
        metrics.add(postato::metrics::RETRIES, 1, Some("retryable_status"));
        metrics.record(postato::metrics::WAIT_DURATION, 0.5, Some("rate_limited"));
        let text = metrics.text();
        assert!(text.contains("postato_attempts_total 2"), "{text}");
        assert!(text.contains(r#"postato_retries_total{reason="retryable_status"} 1"#), "{text}");
        assert!(text.contains(r#"postato_wait_duration_seconds_count{reason="rate_limited"} 1"#), "{text}");
        assert!(text.contains("# TYPE postato_retry_budget_tokens gauge"), "{text}");
    }
}
