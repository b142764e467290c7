//! The reference page's three test cases and every row of its "What this protects against"
//! table, against the simulator, each checking the platform's ground truth.
use postato::{ErrorKind, MemoryStore, Publisher};
use postato_sim::ScriptAction;

mod common;
use common::*;

#[tokio::test]
async fn case_1_normal_publish_returns_202_and_is_stored() {
    let sim = sim().await;
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    let k = key("normal");
    let report = publisher.publish(&post(&k)).await.unwrap();
    assert_eq!(
        (report.published.attempts, report.from_store, report.published.status.as_str()),
        (1, false, "published")
    );
    let stored = publisher.store().published(&k).await.unwrap().unwrap();
    assert_eq!(stored.post_id, report.published.id);
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn case_2_500_twice_then_202_is_stored_once() {
    let sim = sim().await;
    let k = key("transient");
    sim.script_business_key(&k, vec![respond(500), respond(500), ScriptAction::Ok]);
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    let report = publisher.publish(&post(&k)).await.unwrap();
    assert_eq!(report.published.attempts, 3);
    assert_eq!(publisher.store().counts().await.unwrap().published, 1);
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn case_3_the_same_post_twice_gets_the_same_answer() {
    let sim = sim().await;
    let client = client(&sim);
    let p = post(&key("dedupe"));
    let first = client.publish(&p).await.unwrap();
    let second = client.publish(&p).await.unwrap();
    assert_eq!((first.id.as_str(), first.status.as_str()), (second.id.as_str(), second.status.as_str()));
    assert!(!first.replayed && second.replayed);
    assert_eq!(sim.platform_publishes_for(&p.business_key), 1);
}

#[tokio::test]
async fn row_lambda_timeout_mid_request_gets_the_original_response() {
    let sim = sim().await;
    let k = key("lambda");
    sim.script_business_key(&k, vec![ScriptAction::DropAfterCommit]);
    let published = client(&sim).publish(&post(&k)).await.unwrap();
    assert_eq!((published.attempts, published.replayed), (2, true));
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn row_network_blip_retries_to_the_same_result() {
    let sim = sim().await;
    let k = key("blip");
    sim.script_business_key(&k, vec![ScriptAction::Reset, ScriptAction::Reset, ScriptAction::Ok]);
    let published = client(&sim).publish(&post(&k)).await.unwrap();
    assert_eq!((published.attempts, published.replayed), (3, false));
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn row_429_waits_retry_after_and_retries() {
    let sim = sim().await;
    let k = key("429");
    let headers = [("Retry-After".to_owned(), "30".to_owned())].into_iter().collect();
    sim.script_business_key(&k, vec![ScriptAction::Respond { status: 429, headers, body: None, body_text: None }]);
    let started = std::time::Instant::now();
    let published = client(&sim).publish(&post(&k)).await.unwrap();
    assert_eq!(published.attempts, 2);
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "fast-forwarded, not slept");
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn row_400_bad_payload_throws_immediately() {
    let sim = sim().await;
    let k = key("400");
    sim.script_business_key(&k, vec![respond(400)]);
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    let error = publisher.publish(&post(&k)).await.unwrap_err();
    assert_eq!((error.kind(), error.status(), error.attempts()), (ErrorKind::Permanent, Some(400), 1));
    let letters = publisher.store().dead_letters(None, 10).await.unwrap();
    assert_eq!((letters[0].kind.as_str(), letters[0].status), ("permanent", Some(400)));
    assert_eq!(sim.platform_publishes_for(&k), 0);
}

#[tokio::test]
async fn row_downtime_beyond_5_retries_is_transient_and_dead_lettered() {
    let sim = sim().await;
    let k = key("down");
    sim.script_business_key(&k, (0..5).map(|_| respond(503)).collect());
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    let error = publisher.publish(&post(&k)).await.unwrap_err();
    assert_eq!((error.kind(), error.status(), error.attempts()), (ErrorKind::Transient, Some(503), 5));
    let letter = &publisher.store().dead_letters(None, 10).await.unwrap()[0];
    assert_eq!((letter.kind.as_str(), letter.attempts), ("transient", 5));
    assert!(letter.payload.as_deref().unwrap().contains(&k), "the payload is kept for replay");
    // Replaying after the outage publishes it and clears the dead letter.
    let report = publisher.publish(&post(&k)).await.unwrap();
    assert_eq!(report.published.attempts, 1);
    assert!(publisher.store().dead_letters(None, 10).await.unwrap().is_empty());
    assert_eq!(sim.platform_publishes_for(&k), 1);
}
