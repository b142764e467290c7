//! Faults over real HTTP: scripted per key, probabilistic from a seed, timed outages.
use postato_sim::*;
use serde_json::Value;
use std::time::Duration;

mod common;
use common::*;

#[tokio::test]
async fn a_script_is_consumed_in_order_for_its_key() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let fail = || ScriptAction::Respond {
        status: 500,
        headers: Default::default(),
        body: None,
        body_text: Some("boom".into()),
    };
    sim.script("k", vec![fail(), fail(), ScriptAction::Ok]);
    let statuses = [
        post(&sim, "k", &body("x")).await.status().as_u16(),
        post(&sim, "k", &body("x")).await.status().as_u16(),
        post(&sim, "k", &body("x")).await.status().as_u16(),
        post(&sim, "k", &body("x")).await.status().as_u16(),
    ];
    assert_eq!(statuses, [500, 500, 202, 202]);
    assert_eq!(sim.platform_publishes("k"), 1);
    assert_eq!(sim.stats().replays, 1);
}

#[tokio::test]
async fn a_scripted_429_carries_its_retry_after_and_is_not_stored() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let headers = [("Retry-After".to_owned(), "2".to_owned())].into_iter().collect();
    sim.script("k", vec![ScriptAction::Respond { status: 429, headers, body: None, body_text: None }]);
    let r = post(&sim, "k", &body("x")).await;
    assert_eq!((r.status().as_u16(), header(&r, "retry-after")), (429, Some("2".into())));
    assert_eq!(post(&sim, "k", &body("x")).await.status(), 202);
}

#[tokio::test]
async fn a_scripted_malformed_2xx_is_stored_and_replayed() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.script(
        "k",
        vec![ScriptAction::Respond {
            status: 200,
            headers: Default::default(),
            body: None,
            body_text: Some("<html>".into()),
        }],
    );
    assert_eq!(post(&sim, "k", &body("x")).await.text().await.unwrap(), "<html>");
    let again = post(&sim, "k", &body("x")).await;
    assert_eq!(header(&again, "idempotent-replayed"), Some("true".into()));
    assert_eq!(again.text().await.unwrap(), "<html>");
}

#[tokio::test]
async fn drop_after_commit_publishes_then_closes_without_an_answer() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.script("k", vec![ScriptAction::DropAfterCommit]);
    let written = raw_publish(&sim, "k", &body("x")).await;
    assert!(written.is_empty(), "got {:?}", String::from_utf8_lossy(&written));
    assert_eq!(sim.platform_publishes("k"), 1);
    let replay = post(&sim, "k", &body("x")).await;
    assert_eq!((replay.status().as_u16(), header(&replay, "idempotent-replayed")), (202, Some("true".into())));
    assert_eq!(sim.platform_publishes("k"), 1);
    assert_eq!(sim.stats().drops_after_commit, 1);
}

#[tokio::test]
async fn reset_closes_before_processing_and_publishes_nothing() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.script("k", vec![ScriptAction::Reset]);
    assert!(raw_publish(&sim, "k", &body("x")).await.is_empty());
    assert_eq!(sim.platform_publishes("k"), 0);
    let r = post(&sim, "k", &body("x")).await;
    assert_eq!((r.status().as_u16(), header(&r, "idempotent-replayed")), (202, None));
}

#[tokio::test]
async fn a_hang_outlasts_a_client_timeout_and_publishes_nothing() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.script("k", vec![ScriptAction::Hang { ms: 2_000 }]);
    let quick = reqwest::Client::builder().timeout(Duration::from_millis(200)).build().unwrap();
    let r = quick
        .post(format!("{}/v1/workspaces/ws_1/posts", sim.base_url()))
        .bearer_auth(sim.api_key())
        .header("Idempotency-Key", "k")
        .json(&body("x"))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    assert_eq!(sim.platform_publishes("k"), 0);
}

async fn statuses_with_seed(seed: u64) -> Vec<u16> {
    let faults = FaultRates { server_error: 0.3, rate_limited: 0.2, ..FaultRates::default() };
    let sim = Simulator::start(SimConfig { seed, faults, ..SimConfig::default() }).await.unwrap();
    let mut statuses = Vec::new();
    for i in 0..40 {
        statuses.push(post(&sim, &format!("k{i}"), &body("x")).await.status().as_u16());
    }
    statuses
}

#[tokio::test]
async fn probabilistic_faults_are_reproducible_from_the_seed() {
    let a = statuses_with_seed(7).await;
    assert_eq!(a, statuses_with_seed(7).await);
    assert_ne!(a, statuses_with_seed(8).await);
    let faults = a.iter().filter(|s| **s != 202).count();
    assert!((8..=32).contains(&faults), "about half of 40 should fail: {faults}");
    assert!(a.iter().all(|s| [202, 429, 500, 502, 503, 504].contains(s)));
}

#[tokio::test]
async fn probabilistic_commit_faults_still_publish_exactly_once() {
    let faults = FaultRates { drop_after_commit: 0.5, slow_commit: 0.2, slow_commit_ms: 50, ..FaultRates::default() };
    let sim = Simulator::start(SimConfig { seed: 3, faults, ..SimConfig::default() }).await.unwrap();
    for i in 0..20 {
        let key = format!("k{i}");
        let mut published = false;
        for _ in 0..20 {
            let r = client()
                .post(format!("{}/v1/workspaces/ws_1/posts", sim.base_url()))
                .bearer_auth(sim.api_key())
                .header("Idempotency-Key", &key)
                .json(&body("x"))
                .send()
                .await;
            if r.is_ok_and(|r| r.status() == 202) {
                published = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(published);
    }
    let stats = sim.stats();
    assert_eq!((stats.platform_publishes, stats.published_keys), (20, 20));
    assert!(stats.duplicate_keys.is_empty());
    assert!(stats.drops_after_commit > 0);
}

#[tokio::test]
async fn a_timed_outage_answers_503_to_everything_then_recovers() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.outage(Duration::ZERO, Duration::from_millis(200));
    let r = post(&sim, "k", &body("x")).await;
    assert_eq!(r.status(), 503);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["error"]["code"], "unavailable");
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(post(&sim, "k", &body("x")).await.status(), 202);
}

#[tokio::test]
async fn invalid_fault_rates_are_refused() {
    let bad = FaultRates { server_error: 0.8, rate_limited: 0.5, ..FaultRates::default() };
    let e = Simulator::start(SimConfig { faults: bad, ..SimConfig::default() }).await.unwrap_err();
    assert!(e.to_string().contains("add up to"), "{e}");
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    assert!(sim.set_faults(FaultRates { latency: 2.0, ..FaultRates::default() }).is_err());
}
