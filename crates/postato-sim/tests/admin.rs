//! The admin API under /_sim/.
use postato_sim::*;
use serde_json::{json, Value};

mod common;
use common::*;

async fn admin(sim: &SimulatorHandle, method: reqwest::Method, path: &str, body: Option<Value>) -> reqwest::Response {
    let mut request = client().request(method, format!("{}/_sim/{path}", sim.base_url()));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn stats_count_statuses_replays_and_platform_publishes() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    post(&sim, "a", &body("x")).await;
    post(&sim, "a", &body("x")).await;
    post(&sim, "a", &body("y")).await;
    let stats: Value = admin(&sim, reqwest::Method::GET, "stats", None).await.json().await.unwrap();
    assert_eq!(stats["requests"], 3);
    assert_eq!(stats["byStatus"]["202"], 2);
    assert_eq!(stats["byStatus"]["422"], 1);
    assert_eq!((stats["replays"].as_u64(), stats["platformPublishes"].as_u64()), (Some(1), Some(1)));
    assert_eq!(stats["duplicateKeys"], json!([]));
    let one: Value = admin(&sim, reqwest::Method::GET, "publishes/a", None).await.json().await.unwrap();
    assert_eq!(one["count"], 1);
    let all: Value = admin(&sim, reqwest::Method::GET, "publishes", None).await.json().await.unwrap();
    assert_eq!(all, json!({"a": 1}));
}

#[tokio::test]
async fn faults_scripts_rate_limits_and_outages_can_be_set_over_http() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let r = admin(
        &sim,
        reqwest::Method::PUT,
        "scripts/k",
        Some(json!([{"action": "respond", "status": 503}, {"action": "ok"}])),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(post(&sim, "k", &body("x")).await.status(), 503);
    assert_eq!(post(&sim, "k", &body("x")).await.status(), 202);
    assert_eq!(admin(&sim, reqwest::Method::PUT, "faults", Some(json!({"serverError": 1.0}))).await.status(), 200);
    assert!(post(&sim, "k2", &body("x")).await.status().is_server_error());
    let faults: Value = admin(&sim, reqwest::Method::GET, "faults", None).await.json().await.unwrap();
    assert_eq!(faults["serverError"], 1.0);
    assert_eq!(admin(&sim, reqwest::Method::PUT, "faults", Some(json!({"serverError": 3}))).await.status(), 400);
    assert_eq!(admin(&sim, reqwest::Method::PUT, "faults", Some(json!({}))).await.status(), 200);
    assert_eq!(
        admin(&sim, reqwest::Method::PUT, "rate-limit", Some(json!({"ratePerSecond": 0.1, "burst": 1}))).await.status(),
        200
    );
    assert_eq!(post(&sim, "k3", &body("x")).await.status(), 202);
    assert_eq!(post(&sim, "k4", &body("x")).await.status(), 429);
    assert_eq!(admin(&sim, reqwest::Method::PUT, "rate-limit", Some(Value::Null)).await.status(), 200);
    assert_eq!(admin(&sim, reqwest::Method::POST, "outage", Some(json!({"durationMs": 60000}))).await.status(), 200);
    assert_eq!(post(&sim, "k5", &body("x")).await.status(), 503);
    assert_eq!(admin(&sim, reqwest::Method::POST, "reset", None).await.status(), 200);
    assert_eq!(post(&sim, "k5", &body("x")).await.status(), 202);
    let stats = sim.stats();
    assert_eq!((stats.requests, stats.platform_publishes), (1, 1));
    assert_eq!(admin(&sim, reqwest::Method::GET, "nope", None).await.status(), 404);
}

#[tokio::test]
async fn the_admin_api_can_be_disabled() {
    let sim = Simulator::start(SimConfig { admin: false, ..SimConfig::default() }).await.unwrap();
    assert_eq!(admin(&sim, reqwest::Method::GET, "stats", None).await.status(), 404);
}

#[tokio::test]
async fn stop_closes_the_port() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let addr = sim.addr();
    sim.stop().await;
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}
