//! The simulator's API over real HTTP: auth, validation, publish, idempotency, rate limits.
use postato_sim::*;
use serde_json::{json, Value};
use std::time::Duration;

mod common;
use common::*;

#[tokio::test]
async fn a_publish_answers_202_and_the_post_can_be_read_back() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let r = post(&sim, "k1", &body("hello")).await;
    assert_eq!(r.status(), 202);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["status"], "published");
    let id = v["id"].as_str().unwrap().to_owned();
    let got: Value = client()
        .get(format!("{}/v1/workspaces/ws_1/posts/{id}", sim.base_url()))
        .bearer_auth(sim.api_key())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!((got["id"].as_str(), got["idempotencyKey"].as_str()), (Some(id.as_str()), Some("k1")));
    assert_eq!(got["post"]["content"], "hello");
    let other_ws = client()
        .get(format!("{}/v1/workspaces/ws_2/posts/{id}", sim.base_url()))
        .bearer_auth(sim.api_key())
        .send()
        .await
        .unwrap();
    assert_eq!(other_ws.status(), 404);
    assert_eq!(sim.platform_publishes("k1"), 1);
}

#[tokio::test]
async fn scheduled_posts_and_drafts_keep_their_status() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let mut scheduled = body("later");
    scheduled["status"] = json!("scheduled");
    scheduled["scheduledAt"] = json!("2026-12-01T09:00:00.000Z");
    let v: Value = post(&sim, "s", &scheduled).await.json().await.unwrap();
    assert_eq!(v["status"], "scheduled");
    let mut draft = body("d");
    draft["status"] = json!("draft");
    let v: Value = post(&sim, "d", &draft).await.json().await.unwrap();
    assert_eq!(v["status"], "draft");
}

#[tokio::test]
async fn unknown_or_missing_api_keys_get_401() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    for auth in [None, Some("Bearer wrong"), Some("sk_test_postato")] {
        let mut request = client()
            .post(format!("{}/v1/workspaces/ws_1/posts", sim.base_url()))
            .header("Idempotency-Key", "k")
            .json(&body("x"));
        if let Some(auth) = auth {
            request = request.header("Authorization", auth);
        }
        let r = request.send().await.unwrap();
        assert_eq!(r.status(), 401);
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["error"]["code"], "unauthorized");
    }
    assert_eq!(sim.stats().platform_publishes, 0);
}

#[tokio::test]
async fn bad_bodies_get_400_naming_the_field_and_are_replayed() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let mut bad = body("x");
    bad["content"] = json!([{"text": "ok"}, {"text": ""}]);
    let r = post(&sim, "bad", &bad).await;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(
        (v["error"]["code"].as_str(), v["error"]["field"].as_str()),
        (Some("invalid_request"), Some("content[1].text"))
    );
    let again = post(&sim, "bad", &bad).await;
    assert_eq!((again.status().as_u16(), header(&again, "idempotent-replayed")), (400, Some("true".into())));
    let mut missing = body("x");
    missing.as_object_mut().unwrap().remove("accountId");
    let v: Value = post(&sim, "missing", &missing).await.json().await.unwrap();
    assert_eq!(v["error"]["field"], "accountId");
    let raw = client()
        .post(format!("{}/v1/workspaces/ws_1/posts", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("Idempotency-Key", "raw")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let huge = client()
        .post(format!("{}/v1/workspaces/ws_1/posts", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("Idempotency-Key", "huge")
        .body(vec![b'x'; 2 * 1024 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 413);
    assert_eq!(sim.stats().platform_publishes, 0);
}

#[tokio::test]
async fn the_idempotency_key_is_required_unless_configured_otherwise() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let r = client()
        .post(format!("{}/v1/workspaces/ws_1/posts", sim.base_url()))
        .bearer_auth(sim.api_key())
        .json(&body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "missing_idempotency_key");
    let lax = Simulator::start(SimConfig { require_idempotency_key: false, ..SimConfig::default() }).await.unwrap();
    for _ in 0..2 {
        let r = client()
            .post(format!("{}/v1/workspaces/ws_1/posts", lax.base_url()))
            .bearer_auth(lax.api_key())
            .json(&body("x"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
    }
    assert_eq!(lax.stats().platform_publishes, 2, "without a key every request is a new post");
}

#[tokio::test]
async fn the_same_key_and_body_replay_the_first_answer_byte_for_byte() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let first = post(&sim, "k", &body("x")).await;
    assert_eq!(header(&first, "idempotent-replayed"), None);
    let first_bytes = first.bytes().await.unwrap();
    let second = post(&sim, "k", &body("x")).await;
    assert_eq!((second.status().as_u16(), header(&second, "idempotent-replayed")), (202, Some("true".into())));
    assert_eq!(second.bytes().await.unwrap(), first_bytes);
    assert_eq!(sim.platform_publishes("k"), 1);
    let other_workspace = client()
        .post(format!("{}/v1/workspaces/ws_2/posts", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("Idempotency-Key", "k")
        .json(&body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(header(&other_workspace, "idempotent-replayed"), None, "keys are per workspace");
    assert_eq!(sim.stats().replays, 1);
}

#[tokio::test]
async fn the_same_key_with_another_body_gets_422() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    assert_eq!(post(&sim, "k", &body("x")).await.status(), 202);
    let r = post(&sim, "k", &body("edited")).await;
    assert_eq!(r.status(), 422);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "idempotency_key_reused");
    assert_eq!(sim.stats().key_reused_conflicts, 1);
}

#[tokio::test]
async fn a_key_in_progress_gets_409_then_the_replay() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.script("slow", vec![ScriptAction::SlowCommit { ms: 300 }]);
    let url = sim.base_url();
    let key = sim.api_key().to_owned();
    let first = tokio::spawn(async move { send(&url, &key, "slow", &body("x")).await.status().as_u16() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = post(&sim, "slow", &body("x")).await;
    assert_eq!(r.status(), 409);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "request_in_progress");
    assert_eq!(first.await.unwrap(), 202);
    let r = post(&sim, "slow", &body("x")).await;
    assert_eq!(header(&r, "idempotent-replayed"), Some("true".into()));
    assert_eq!(sim.platform_publishes("slow"), 1);
}

#[tokio::test]
async fn keys_expire_after_the_retention() {
    let sim =
        Simulator::start(SimConfig { retention: Duration::from_millis(150), ..SimConfig::default() }).await.unwrap();
    post(&sim, "k", &body("x")).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let r = post(&sim, "k", &body("x")).await;
    assert_eq!((r.status().as_u16(), header(&r, "idempotent-replayed")), (202, None));
    assert_eq!(sim.platform_publishes("k"), 2);
}

#[tokio::test]
async fn a_rate_limit_answers_429_with_retry_after_and_ratelimit_headers() {
    let config =
        SimConfig { rate_limit: Some(RateLimitConfig { rate_per_second: 0.5, burst: 2 }), ..SimConfig::default() };
    let sim = Simulator::start(config).await.unwrap();
    let ok = post(&sim, "a", &body("x")).await;
    assert_eq!(ok.status(), 202);
    assert_eq!(header(&ok, "ratelimit-limit"), Some("2".into()));
    assert_eq!(header(&ok, "ratelimit-remaining"), Some("1".into()));
    assert_eq!(header(&ok, "ratelimit-policy"), Some("0.5;w=1;burst=2".into()));
    assert_eq!(header(&ok, "ratelimit-scope"), Some("workspace".into()), "every account's posts wait on it");
    assert_eq!(post(&sim, "b", &body("x")).await.status(), 202);
    let limited = post(&sim, "c", &body("x")).await;
    assert_eq!(limited.status(), 429);
    assert_eq!(header(&limited, "retry-after"), Some("2".into()));
    assert_eq!(header(&limited, "ratelimit-remaining"), Some("0".into()));
    assert_eq!(header(&limited, "ratelimit-scope"), Some("workspace".into()));
    assert_eq!(sim.platform_publishes("c"), 0);
    let other = client()
        .post(format!("{}/v1/workspaces/ws_other/posts", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("Idempotency-Key", "c")
        .json(&body("x"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 202, "buckets are per workspace");
    assert_eq!(sim.stats().rate_limited, 1);
}

#[tokio::test]
async fn a_bare_429_still_names_its_scope_in_the_body() {
    let config = SimConfig {
        rate_limit: Some(RateLimitConfig { rate_per_second: 0.5, burst: 1 }),
        rate_limit_headers: false,
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await.unwrap();
    assert_eq!(post(&sim, "a", &body("x")).await.status(), 202);
    let limited = post(&sim, "b", &body("x")).await;
    assert_eq!((limited.status().as_u16(), header(&limited, "ratelimit-scope")), (429, None), "no RateLimit-* headers");
    assert!(header(&limited, "retry-after").is_some());
    let error: Value = limited.json().await.unwrap();
    assert_eq!(
        (error["error"]["code"].as_str(), error["error"]["scope"].as_str()),
        (Some("rate_limited"), Some("workspace"))
    );
}

fn body_for(account: &str) -> Value {
    json!({"platform": "x", "accountId": account, "status": "publish", "postType": "post", "content": "c"})
}

#[tokio::test]
async fn an_accounts_quota_refuses_that_account_alone_naming_its_scope() {
    let quota: QuotaConfig = "2/1h".parse().unwrap();
    assert_eq!(quota, QuotaConfig { limit: 2, window: Duration::from_secs(3600) });
    for wrong in ["2", "0/1h", "2/1", "2/1w", "x/1h"] {
        assert!(wrong.parse::<QuotaConfig>().unwrap_err().contains("N/WINDOW"), "{wrong}");
    }
    let sim = Simulator::start(SimConfig { account_quota: Some(quota), ..SimConfig::default() }).await.unwrap();
    let first = post(&sim, "q1", &body_for("acc_1")).await;
    assert_eq!(first.status(), 202);
    assert_eq!(header(&first, "ratelimit-scope"), Some("account".into()));
    assert_eq!(header(&first, "ratelimit-policy"), Some("2;w=3600".into()));
    assert_eq!(header(&first, "ratelimit-remaining"), Some("1".into()));
    assert_eq!(post(&sim, "q2", &body_for("acc_1")).await.status(), 202);
    let spent = post(&sim, "q3", &body_for("acc_1")).await;
    assert_eq!(spent.status(), 429);
    assert_eq!(header(&spent, "ratelimit-scope"), Some("account".into()));
    let wait: u64 = header(&spent, "retry-after").unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&wait), "until the window's end: {wait}");
    let error: Value = spent.json().await.unwrap();
    assert_eq!(
        (error["error"]["code"].as_str(), error["error"]["scope"].as_str()),
        (Some("rate_limited"), Some("account"))
    );
    assert_eq!(post(&sim, "q4", &body_for("acc_2")).await.status(), 202, "another account has its own quota");
    assert_eq!(sim.platform_publishes("q3"), 0);
}

#[tokio::test]
async fn an_accounts_rate_and_a_spent_account_refuse_that_account_alone() {
    let config = SimConfig {
        account_rate_limit: Some(RateLimitConfig { rate_per_second: 0.5, burst: 1 }),
        spent_accounts: [("x/acc_spent".to_owned(), 3000)].into_iter().collect(),
        ..SimConfig::default()
    };
    let sim = Simulator::start(config).await.unwrap();
    assert_eq!(post(&sim, "r1", &body_for("acc_1")).await.status(), 202);
    let paced = post(&sim, "r2", &body_for("acc_1")).await;
    assert_eq!((paced.status().as_u16(), header(&paced, "retry-after")), (429, Some("2".into())));
    assert_eq!(header(&paced, "ratelimit-policy"), Some("0.5;w=1;burst=1".into()));
    assert_eq!(post(&sim, "r3", &body_for("acc_2")).await.status(), 202, "another account has its own bucket");
    let spent = post(&sim, "r4", &body_for("acc_spent")).await;
    assert_eq!(spent.status(), 429);
    let wait: u64 = header(&spent, "retry-after").unwrap().parse().unwrap();
    assert!((2990..=3000).contains(&wait), "{wait}");
    assert_eq!(header(&spent, "ratelimit-scope"), Some("account".into()));
}
