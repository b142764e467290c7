//! Keeps docs/openapi.json honest: every documented answer of the public API is produced by
//! the simulator, with the documented required fields and headers, and nothing undocumented.
use postato_sim::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

mod common;
use common::*;

fn spec() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn resolve<'a>(spec: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(r) => &spec["components"]["schemas"][r.rsplit('/').next().unwrap()],
        None => schema,
    }
}

/// Checks required properties recursively (objects only): enough to catch drift.
fn conforms(spec: &Value, schema: &Value, value: &Value) -> Result<(), String> {
    let schema = resolve(spec, schema);
    if let Some(required) = schema["required"].as_array() {
        for name in required {
            let name = name.as_str().unwrap();
            let Some(child) = value.get(name) else { return Err(format!("missing {name} in {value}")) };
            if let Some(sub) = schema["properties"].get(name) {
                conforms(spec, sub, child)?;
            }
        }
    }
    if let Some(allowed) = schema["enum"].as_array() {
        if !allowed.contains(value) {
            return Err(format!("{value} not in {allowed:?}"));
        }
    }
    Ok(())
}

async fn check(
    spec: &Value,
    path: &str,
    method: &str,
    response: reqwest::Response,
    seen: &mut BTreeSet<(String, String, u16)>,
) {
    let status = response.status().as_u16();
    let documented = &spec["paths"][path][method]["responses"][status.to_string()];
    assert!(documented.is_object(), "{method} {path} answered {status}, which is not documented");
    if let Some(headers) = documented["headers"].as_object() {
        for name in headers.keys().filter(|n| n.starts_with("Retry") || *n == "X-Request-Id") {
            assert!(response.headers().contains_key(name.as_str()), "{status} lacks {name}");
        }
    }
    let body: Value = response.json().await.unwrap();
    conforms(spec, &documented["content"]["application/json"]["schema"], &body).unwrap();
    seen.insert((path.to_owned(), method.to_owned(), status));
}

#[tokio::test]
async fn every_documented_answer_is_produced_and_conforms() {
    let spec = spec();
    let config =
        SimConfig { rate_limit: Some(RateLimitConfig { rate_per_second: 0.01, burst: 8 }), ..SimConfig::default() };
    let sim = Simulator::start(config).await.unwrap();
    let posts = "/v1/workspaces/{workspaceId}/posts";
    let one = "/v1/workspaces/{workspaceId}/posts/{postId}";
    let mut seen = BTreeSet::new();
    let url = format!("{}/v1/workspaces/ws_1/posts", sim.base_url());

    let published: Value = post(&sim, "a", &body("x")).await.json().await.unwrap();
    conforms(&spec, &json!({"$ref": "#/components/schemas/Published"}), &published).unwrap();
    seen.insert((posts.to_owned(), "post".to_owned(), 202));
    check(&spec, posts, "post", post(&sim, "b", &json!({"platform": ""})).await, &mut seen).await;
    check(&spec, posts, "post", client().post(&url).json(&body("x")).send().await.unwrap(), &mut seen).await;
    check(
        &spec,
        posts,
        "post",
        client()
            .post(&url)
            .bearer_auth(sim.api_key())
            .header("Idempotency-Key", "c")
            .body(vec![b' '; 2 << 20])
            .send()
            .await
            .unwrap(),
        &mut seen,
    )
    .await;
    check(&spec, posts, "post", post(&sim, "a", &body("edited")).await, &mut seen).await;
    sim.script("slow", vec![ScriptAction::SlowCommit { ms: 300 }]);
    let (base, key) = (sim.base_url(), sim.api_key().to_owned());
    let slow = tokio::spawn(async move { send(&base, &key, "slow", &body("x")).await });
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    check(&spec, posts, "post", post(&sim, "slow", &body("x")).await, &mut seen).await;
    check(&spec, posts, "post", slow.await.unwrap(), &mut seen).await;
    for i in 0..3 {
        post(&sim, &format!("fill{i}"), &body("x")).await;
    }
    check(&spec, posts, "post", post(&sim, "limited", &body("x")).await, &mut seen).await;
    sim.set_rate_limit(None);
    sim.outage(std::time::Duration::ZERO, std::time::Duration::from_secs(60));
    check(&spec, posts, "post", post(&sim, "down", &body("x")).await, &mut seen).await;
    sim.outage(std::time::Duration::ZERO, std::time::Duration::ZERO);

    let id = published["id"].as_str().unwrap();
    let get = |path: String, auth: bool| {
        let request = client().get(format!("{}{path}", sim.base_url()));
        if auth {
            request.bearer_auth(sim.api_key())
        } else {
            request
        }
    };
    check(&spec, one, "get", get(format!("/v1/workspaces/ws_1/posts/{id}"), true).send().await.unwrap(), &mut seen)
        .await;
    check(&spec, one, "get", get(format!("/v1/workspaces/ws_1/posts/{id}"), false).send().await.unwrap(), &mut seen)
        .await;
    check(&spec, one, "get", get("/v1/workspaces/ws_1/posts/nope".into(), true).send().await.unwrap(), &mut seen).await;

    let mut documented = BTreeSet::new();
    for (path, methods) in spec["paths"].as_object().unwrap() {
        for (method, operation) in methods.as_object().unwrap() {
            for status in operation["responses"].as_object().unwrap().keys() {
                documented.insert((path.clone(), method.clone(), status.parse::<u16>().unwrap()));
            }
        }
    }
    assert_eq!(seen, documented, "every documented answer is exercised");
}
