//! `--otlp ENDPOINT`, or the standard `OTEL_EXPORTER_OTLP_*` variables: the client's spans (each
//! publish, its attempts and its waits; see the `postato` crate's `spans` module) exported to an
//! OpenTelemetry collector over OTLP/HTTP, in batches on a thread of their own, the last of
//! them sent as the command ends (waiting at most the exporter's timeout and a second: 10 s
//! unless `OTEL_EXPORTER_OTLP_TIMEOUT` says otherwise).
//!
//! The endpoint: the flag (a collector's base URL, `/v1/traces` appended as
//! `OTEL_EXPORTER_OTLP_ENDPOINT` has it), else `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`, else
//! `OTEL_EXPORTER_OTLP_ENDPOINT`; neither set, nothing is exported. The protocol:
//! `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL` or `OTEL_EXPORTER_OTLP_PROTOCOL`, `http/protobuf` (the
//! default) or `http/json`. Headers, compression (`gzip`) and the timeout are the exporter's
//! own variables; `OTEL_SERVICE_NAME` names the service (`postato` by default), and
//! `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none` turns the export off. An export
//! that only the variables ask for and that cannot be made is a warning, never a failure.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanData, SpanExporter};
use opentelemetry_sdk::Resource;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tracing::Subscriber;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The spans' exporter while the command runs; [`Export::finish`] sends what is left.
pub struct Export {
    provider: SdkTracerProvider,
    failure: Failure,
    /// How long one export may take: the exporter's own timeout.
    timeout: Duration,
}

/// The first export that failed, for [`Export::finish`] to report.
type Failure = Arc<Mutex<Option<String>>>;

/// A `--otlp` value: an `http://` or `https://` URL.
pub fn parse_endpoint(value: &str) -> Result<String, String> {
    match value.starts_with("http://") || value.starts_with("https://") {
        true => Ok(value.to_owned()),
        false => Err("must be a collector's http:// or https:// URL, such as http://localhost:4318".into()),
    }
}

/// The export `flag` and the environment ask for, and the layer that feeds it the client's
/// spans; `None` when neither asks for one. An export `--otlp` asks for and that cannot be
/// made is an `Err` (the command stops, nothing sent); one only the environment asks for (a
/// pod's variables, set for every program in it) is a warning, and the command runs without.
pub fn start<S>(flag: Option<&str>) -> Result<Option<(Export, impl Layer<S>)>, String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let from_env =
        variable("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some() || variable("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let off = variable("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || variable("OTEL_TRACES_EXPORTER").is_some_and(|v| v.eq_ignore_ascii_case("none"));
    if off || (flag.is_none() && !from_env) {
        return Ok(None);
    }
    match export(flag) {
        Ok(started) => Ok(Some(started)),
        Err(message) if flag.is_some() => Err(message),
        Err(message) => {
            errln!("warning: spans not exported: {message}");
            Ok(None)
        }
    }
}

/// The exporter and its layer.
fn export<S>(flag: Option<&str>) -> Result<(Export, impl Layer<S>), String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_http().with_protocol(protocol()?);
    if let Some(base) = flag {
        exporter = exporter.with_endpoint(traces_url(base));
    }
    let exporter = exporter.build().map_err(|e| format!("cannot export spans: {e}"))?;
    let failure = Failure::default();
    let exporter = Reporting { inner: exporter, failure: Arc::clone(&failure) };
    let mut resource = Resource::builder();
    if variable("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("postato");
    }
    let provider = SdkTracerProvider::builder().with_resource(resource.build()).with_batch_exporter(exporter).build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("postato"))
        .with_filter(Targets::new().with_target("postato", LevelFilter::INFO));
    Ok((Export { provider, failure, timeout: export_timeout() }, layer))
}

impl Export {
    /// Sends the spans not yet exported and stops, waiting at most the export's timeout (and a
    /// second); a failure is reported, not fatal (the command's own outcome stands).
    pub fn finish(self) {
        let shutdown = self.provider.shutdown_with_timeout(self.timeout + Duration::from_secs(1));
        let failure = self.failure.lock().map(|mut f| f.take()).unwrap_or_default();
        if let Some(e) = failure.or(shutdown.err().map(|e| e.to_string())) {
            errln!("warning: could not export every span to the OTLP endpoint: {e}");
        }
    }
}

/// A standard variable's value, when set and not blank.
fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

/// The exporter's timeout for one export, as it reads it: `OTEL_EXPORTER_OTLP_TRACES_TIMEOUT`,
/// else `OTEL_EXPORTER_OTLP_TIMEOUT` (milliseconds), else 10 s.
fn export_timeout() -> Duration {
    ["OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"]
        .iter()
        .find_map(|name| variable(name).and_then(|v| v.parse().ok()))
        .map_or(Duration::from_secs(10), Duration::from_millis)
}

/// The OTLP exporter, keeping its first failure (the SDK's batches drop a failed export
/// quietly).
#[derive(Debug)]
struct Reporting {
    inner: opentelemetry_otlp::SpanExporter,
    failure: Failure,
}

impl SpanExporter for Reporting {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let result = self.inner.export(batch).await;
        if let (Err(e), Ok(mut failure)) = (&result, self.failure.lock()) {
            failure.get_or_insert_with(|| e.to_string());
        }
        result
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// The protocol the standard variables name; `http/protobuf` when they name none.
fn protocol() -> Result<Protocol, String> {
    let named = ["OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"]
        .iter()
        .find_map(|name| variable(name).map(|v| (*name, v)));
    match named {
        None => Ok(Protocol::HttpBinary),
        Some((_, v)) if v == "http/protobuf" => Ok(Protocol::HttpBinary),
        Some((_, v)) if v == "http/json" => Ok(Protocol::HttpJson),
        Some((name, v)) => Err(format!(
            "invalid setting: {name}: {v:?} is not a protocol postato exports with: use http/protobuf or http/json"
        )),
    }
}

/// A collector's base URL with the traces path appended (unless it is already there).
fn traces_url(base: &str) -> String {
    let base = base.trim_end_matches('/');
    match base.ends_with("/v1/traces") {
        true => base.to_owned(),
        false => format!("{base}/v1/traces"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_traces_path_is_appended_once() {
        assert_eq!(traces_url("http://localhost:4318"), "http://localhost:4318/v1/traces");
        assert_eq!(traces_url("http://localhost:4318/"), "http://localhost:4318/v1/traces");
        assert_eq!(traces_url("https://c.example/otlp/v1/traces"), "https://c.example/otlp/v1/traces");
    }

    #[test]
    fn an_endpoint_must_be_an_http_url() {
        assert!(parse_endpoint("http://localhost:4318").is_ok());
        assert!(parse_endpoint("localhost:4318").unwrap_err().contains("http://localhost:4318"));
    }
}
