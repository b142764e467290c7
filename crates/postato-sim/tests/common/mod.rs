//! Helpers for the simulator's tests.
#![allow(dead_code)]

use postato_sim::SimulatorHandle;
use serde_json::{json, Value};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap()
}

pub fn body(content: &str) -> Value {
    json!({"platform": "x", "accountId": "acc_1", "status": "publish", "postType": "post", "content": content})
}

pub async fn send(base_url: &str, api_key: &str, key: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{base_url}/v1/workspaces/ws_1/posts"))
        .bearer_auth(api_key)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

pub async fn post(sim: &SimulatorHandle, key: &str, body: &Value) -> reqwest::Response {
    send(&sim.base_url(), sim.api_key(), key, body).await
}

pub fn header(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get(name).map(|v| v.to_str().unwrap().to_owned())
}

/// Sends a publish over a raw TCP connection and returns every byte the server wrote
/// before closing it.
pub async fn raw_publish(sim: &SimulatorHandle, key: &str, body: &Value) -> Vec<u8> {
    let mut stream = tokio::net::TcpStream::connect(sim.addr()).await.unwrap();
    let body = serde_json::to_vec(body).unwrap();
    let head = format!(
        "POST /v1/workspaces/ws_1/posts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nIdempotency-Key: {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        sim.api_key(),
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer)).await.unwrap().ok();
    answer
}
