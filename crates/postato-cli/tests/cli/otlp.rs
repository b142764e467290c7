//! `--otlp` and the `OTEL_EXPORTER_OTLP_*` variables: a publish's spans reach a collector
//! stand-in (a small HTTP server that keeps what it is sent), one per attempt and per wait
//! under the publish's, in either OTLP/HTTP encoding.
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use postato_sim::{ScriptAction, SimConfig, Simulator};
use serde_json::Value;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use crate::common::*;
use crate::respond;

/// What a collector was sent: each request's path, content type and body, and its headers
/// (`name: value` lines).
#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<(String, String, Bytes)>>>,
    headers: Arc<Mutex<Vec<String>>>,
}

impl Collector {
    /// Starts the stand-in on a free port: its base URL and what it keeps.
    async fn start() -> (String, Collector) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let collector = Collector::default();
        let kept = collector.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let kept = kept.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let kept = kept.clone();
                        async move {
                            let path = request.uri().path().to_owned();
                            let content_type = request
                                .headers()
                                .get(hyper::header::CONTENT_TYPE)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned();
                            let headers =
                                request.headers().iter().map(|(n, v)| format!("{n}: {}", v.to_str().unwrap_or("")));
                            kept.headers.lock().unwrap().extend(headers);
                            let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                            kept.received.lock().unwrap().push((path, content_type, body));
                            Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        (url, collector)
    }

    fn received(&self) -> Vec<(String, String, Bytes)> {
        self.received.lock().unwrap().clone()
    }
}

/// The service each resource of an OTLP/JSON trace export names.
fn services(body: &[u8]) -> Vec<Value> {
    let export: Value = serde_json::from_slice(body).unwrap();
    let service = |resource: &Value| {
        let attributes = resource["resource"]["attributes"].as_array().unwrap();
        attributes
            .iter()
            .find(|a| a["key"] == "service.name")
            .map_or(Value::Null, |a| a["value"]["stringValue"].clone())
    };
    export["resourceSpans"].as_array().unwrap().iter().map(service).collect()
}

/// Every span of OTLP/JSON trace exports, each with its attributes as a map.
fn spans(exports: &[Bytes]) -> Vec<Value> {
    let mut spans = Vec::new();
    for body in exports {
        assert_eq!(services(body), vec![Value::from("postato")]);
        let export: Value = serde_json::from_slice(body).unwrap();
        for resource in export["resourceSpans"].as_array().unwrap() {
            for scope in resource["scopeSpans"].as_array().unwrap() {
                for span in scope["spans"].as_array().unwrap() {
                    let mut span = span.clone();
                    let attributes: serde_json::Map<String, Value> = span["attributes"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|a| {
                            let value = a["value"].as_object().unwrap().values().next().unwrap().clone();
                            (a["key"].as_str().unwrap().to_owned(), value)
                        })
                        .collect();
                    span["attributes"] = Value::Object(attributes);
                    spans.push(span);
                }
            }
        }
    }
    spans
}

/// `postato publish` of `business_key` against `sim`, with `flags` before the post's.
fn publish_args(sim: &postato_sim::SimulatorHandle, business_key: &str, flags: &[&str]) -> Vec<String> {
    let post = ["--business-key", business_key, "--platform", "x", "--account", "acc_1", "--content", "hello"];
    ["publish"].iter().chain(flags).chain(&post).map(|a| a.to_string()).chain(connection(sim)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_exports_a_span_per_attempt_and_per_wait_under_the_publish() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.script_business_key("otlp-1", vec![respond(503, &[]), ScriptAction::Ok]);
    let (collector_url, collector) = Collector::start().await;
    let args = publish_args(&sim, "otlp-1", &["--output", "json", "--otlp", &collector_url]);
    let output = postato_env(&strings(&args), None, &[("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")]).await;
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(json_line(&output)["attempts"].as_u64(), Some(2));

    // Sent before the command exited, as OTLP/JSON to the traces path.
    let received = collector.received();
    assert!(!received.is_empty(), "no export reached the collector");
    for (path, content_type, body) in &received {
        assert_eq!((path.as_str(), content_type.as_str()), ("/v1/traces", "application/json"));
        assert!(!String::from_utf8_lossy(body).contains(sim.api_key()), "the API key was exported");
    }
    let spans = spans(&received.into_iter().map(|(_, _, body)| body).collect::<Vec<_>>());
    let named = |name: &str| spans.iter().filter(|s| s["name"] == name).collect::<Vec<_>>();
    let publish = named("postato.publish");
    assert_eq!(publish.len(), 1, "{spans:#?}");
    let publish = publish[0];
    assert_eq!(publish["attributes"]["postato.business_key"], "otlp-1");
    assert_eq!(publish["attributes"]["postato.outcome"], "published");

    let mut attempts = named("postato.attempt");
    attempts.sort_by_key(|s| s["startTimeUnixNano"].as_str().map(str::to_owned));
    assert_eq!(attempts.len(), 2, "{spans:#?}");
    for attempt in &attempts {
        assert_eq!(attempt["parentSpanId"], publish["spanId"]);
        assert_eq!(attempt["kind"], 3, "a client span");
    }
    let statuses: Vec<_> = attempts.iter().map(|a| a["attributes"]["http.response.status_code"].clone()).collect();
    assert_eq!(statuses, vec![Value::from("503"), Value::from("202")]);
    assert_eq!(attempts[0]["attributes"].get("http.request.resend_count"), None);
    assert_eq!(attempts[1]["attributes"]["http.request.resend_count"], "1");
    let waits = named("postato.wait");
    assert_eq!(waits.len(), 1);
    assert_eq!(waits[0]["parentSpanId"], publish["spanId"]);
    assert_eq!(waits[0]["attributes"]["postato.wait.reason"], "retryable_status");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_standard_variables_export_protobuf_with_no_flag() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (collector_url, collector) = Collector::start().await;
    let args = publish_args(&sim, "otlp-2", &[]);
    let output = postato_env(&strings(&args), None, &[("OTEL_EXPORTER_OTLP_ENDPOINT", &collector_url)]).await;
    assert_eq!(code(&output), 0, "{output:?}");
    let received = collector.received();
    assert!(!received.is_empty(), "no export reached the collector");
    let (path, content_type, body) = &received[0];
    assert_eq!((path.as_str(), content_type.as_str()), ("/v1/traces", "application/x-protobuf"));
    // Protobuf carries strings as they are.
    let contains = |needle: &str| body.windows(needle.len()).any(|w| w == needle.as_bytes());
    assert!(contains("postato.attempt") && contains("otlp-2"), "{body:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_the_flag_asks_for_and_cannot_be_made_is_refused_before_anything_is_sent() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let args = publish_args(&sim, "otlp-3", &["--otlp", "localhost:4318"]);
    let output = postato(&strings(&args), None).await;
    assert_eq!(code(&output), 2);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--otlp") && stderr.contains("http://localhost:4318"), "{stderr}");

    // With --output json, the one JSON line says so.
    let args = publish_args(&sim, "otlp-3", &["--output", "json", "--otlp", "http://127.0.0.1:9"]);
    let output = postato_env(&strings(&args), None, &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]).await;
    assert_eq!(code(&output), 2);
    let line = json_line(&output);
    assert_eq!((line["ok"].as_bool(), line["kind"].as_str()), (Some(false), Some("invalid_input")), "{line}");
    let message = line["message"].as_str().unwrap();
    assert!(message.contains("OTEL_EXPORTER_OTLP_PROTOCOL") && message.contains("http/json"), "{message}");
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_only_the_environment_asks_for_is_a_warning_when_it_cannot_be_made() {
    // A pod's variables, set for every program in it: `postato key` still works.
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9"), ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")];
    let output = postato_env(&["key", "draft-123"], None, &env).await;
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "f62695618dbb558b0d9768a8003ec862");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning: spans not exported") && stderr.contains("grpc"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_never_answers_holds_the_exit_at_most_the_export_timeout() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    // Accepts connections and reads nothing, answers nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let args = publish_args(&sim, "otlp-7", &["--output", "json", "--otlp", &silent]);
    let started = std::time::Instant::now();
    let output = postato_env(&strings(&args), None, &[("OTEL_EXPORTER_OTLP_TIMEOUT", "1000")]).await;
    let took = started.elapsed();
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(json_line(&output)["ok"], true);
    assert!(took < std::time::Duration::from_secs(20), "the exit waited {took:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning: could not export every span"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_variables_name_the_endpoint_and_the_service_or_turn_the_export_off() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let (collector_url, collector) = Collector::start().await;
    // A traces endpoint is used as it is; OTEL_SERVICE_NAME names the service; the headers
    // and compression variables are the exporter's.
    let traces = format!("{collector_url}/custom/traces");
    let env = [
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", traces.as_str()),
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"),
        ("OTEL_SERVICE_NAME", "campaigns"),
        ("OTEL_EXPORTER_OTLP_HEADERS", "x-team=growth"),
    ];
    assert_eq!(code(&postato_env(&strings(&publish_args(&sim, "otlp-4", &[])), None, &env).await), 0);
    let received = collector.received();
    assert!(!received.is_empty() && received.iter().all(|(path, _, _)| path == "/custom/traces"));
    assert!(collector.headers.lock().unwrap().iter().any(|h| h == "x-team: growth"));
    assert_eq!(services(&received[0].2), vec![Value::from("campaigns")]);

    // Compressed when the variable asks.
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", collector_url.as_str()), ("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip")];
    assert_eq!(code(&postato_env(&strings(&publish_args(&sim, "otlp-8", &[])), None, &env).await), 0);
    assert!(collector.headers.lock().unwrap().iter().any(|h| h == "content-encoding: gzip"));
    let received = collector.received();

    // OTEL_SDK_DISABLED turns it off, flag or not.
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", collector_url.as_str()), ("OTEL_SDK_DISABLED", "true")];
    let args = publish_args(&sim, "otlp-5", &["--otlp", &collector_url]);
    assert_eq!(code(&postato_env(&strings(&args), None, &env).await), 0);
    assert_eq!(collector.received().len(), received.len(), "an export while disabled");
    // So does OTEL_TRACES_EXPORTER=none.
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", collector_url.as_str()), ("OTEL_TRACES_EXPORTER", "none")];
    assert_eq!(code(&postato_env(&strings(&publish_args(&sim, "otlp-9", &[])), None, &env).await), 0);
    assert_eq!(collector.received().len(), received.len(), "an export with no exporter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_collector_that_is_not_there_is_a_warning_not_a_failure() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    // A port nothing listens on: bound, then let go.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let nowhere = format!("http://127.0.0.1:{port}");
    let args = publish_args(&sim, "otlp-6", &["--output", "json", "--otlp", &nowhere]);
    let output = postato(&strings(&args), None).await;
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(json_line(&output)["ok"], true);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning: could not export every span"), "{stderr}");
}
