//! Deferred posts: a Publisher's post whose account is held past what a publish waits is kept
//! as deferred (not dead-lettered), nothing is sent for it before its time, and it is published
//! once due; a plain client keeps `rate_limited`; a version 2 store upgrades in place.
use postato::*;
use postato_sim::{SimConfig, Simulator, SimulatorHandle};
use std::time::Duration;

mod common;
use common::key;

/// A simulator where `x/acc_spent` answers every request 429 for `secs` from its start.
async fn sim_with_spent_account(secs: u64) -> SimulatorHandle {
    let spent_accounts = [("x/acc_spent".to_owned(), secs)].into_iter().collect();
    Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap()
}

/// Real waits (a deferral is measured on the real clock), held at most 500 ms.
fn client(sim: &SimulatorHandle) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .workspace_id("ws_1")
        .base_url(sim.base_url())
        .max_retry_after(Duration::from_millis(500))
        .build()
        .unwrap()
}

fn post_to(account: &str, business_key: &str) -> Post {
    Post::new(business_key, "x", account, PostStatus::Publish, "post", format!("hello from {business_key}"))
}

fn now() -> Timestamp {
    Timestamp::from_system_time(std::time::SystemTime::now())
}

#[tokio::test]
async fn a_spent_accounts_posts_are_deferred_with_one_request_then_published_once_due() {
    let sim = sim_with_spent_account(5).await;
    let dir = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(client(&sim), SqliteStore::open(dir.path().join("posts.db")).unwrap());
    let spent: Vec<String> = (0..3).map(|_| key("spent")).collect();
    let healthy: Vec<String> = (0..3).map(|_| key("healthy")).collect();
    for k in &spent {
        let error = publisher.publish(&post_to("acc_spent", k)).await.unwrap_err();
        let PublishError::Deferred { retry_at, retry_after, .. } = error else { panic!("{error:?}") };
        assert!(retry_after > Duration::from_millis(500) && retry_after <= Duration::from_secs(5), "{retry_after:?}");
        assert!(retry_at > now() && retry_at <= now().saturating_add(Duration::from_secs(5)));
    }
    for k in &healthy {
        publisher.publish(&post_to("acc_ok", k)).await.expect("another account is never held");
    }
    assert_eq!(sim.stats().rate_limited, 1, "the held account cost one request, its probe");
    let counts = publisher.store().counts().await.unwrap();
    assert_eq!((counts.published, counts.dead_letters, counts.deferred), (3, 0, 3));
    assert!(publisher.store().dead_letters(None, 10).await.unwrap().is_empty(), "deferred, not dead-lettered");

    // Before its time, publishing it again sends nothing.
    let requests = sim.stats().requests;
    let again = publisher.publish(&post_to("acc_spent", &spent[0])).await.unwrap_err();
    assert_eq!((again.kind(), again.attempts()), (ErrorKind::Deferred, 0));
    let early = publisher.publish_due(4, &CancellationToken::new()).await.unwrap();
    assert_eq!((early.published, early.deferred), (0, 3));
    assert_eq!(sim.stats().requests, requests, "nothing sent for a post before its time");

    // As a service's timer would: at each next due time, the due posts. The account's learned
    // pace after its 429 may defer some again, for less than a second each.
    let (mut next_due, mut published, mut rounds) = (early.next_due, 0, 0);
    while let Some(due) = next_due {
        rounds += 1;
        assert!(rounds <= 10, "every deferred post is published within a few rounds");
        tokio::time::sleep(due.saturating_since(now()) + Duration::from_millis(20)).await;
        let report = publisher.publish_due(4, &CancellationToken::new()).await.unwrap();
        assert_eq!(report.failed, 0, "{report:?}");
        published += report.published;
        next_due = report.next_due;
    }
    assert_eq!(published, 3);
    assert_eq!(sim.stats().rate_limited, 1, "no request went before its time");
    let counts = publisher.store().counts().await.unwrap();
    assert_eq!((counts.published, counts.deferred), (6, 0));
    for k in &spent {
        assert_eq!(sim.platform_publishes_for(k), 1, "published once");
    }
}

#[tokio::test]
async fn a_plain_client_without_a_store_keeps_rate_limited_with_the_servers_wait() {
    let sim = sim_with_spent_account(30).await;
    let error = client(&sim).publish(&post_to("acc_spent", &key("plain"))).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited, "{error:?}");
    assert!(error.retry_after().is_some_and(|wait| wait > Duration::from_secs(20)), "{error:?}");
}

#[tokio::test]
async fn a_version_2_sqlite_store_upgrades_in_place_and_keeps_its_records() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v2.db");
    let k = key("v2");
    Publisher::new(client(&sim), SqliteStore::open(&path).unwrap()).publish(&post_to("acc_1", &k)).await.unwrap();
    {
        // What postato wrote before deferrals: schema version 2, no `deferred` or outbox table.
        let connection = ::rusqlite::Connection::open(&path).unwrap();
        connection.execute_batch("DROP TABLE deferred; DROP TABLE postato_outbox").unwrap();
        connection.pragma_update(None, "user_version", 2).unwrap();
    }
    let publisher = Publisher::new(client(&sim), SqliteStore::open(&path).unwrap());
    assert!(publisher.publish(&post_to("acc_1", &k)).await.unwrap().from_store, "its records stay");
    assert_eq!(publisher.store().counts().await.unwrap().deferred, 0, "and it holds deferrals now");
    let version: i64 = ::rusqlite::Connection::open(&path)
        .unwrap()
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .unwrap();
    assert_eq!(version, 3);
}

#[tokio::test]
async fn a_deferral_longer_than_the_key_retention_is_published_once_due_not_outcome_unknown() {
    // Every request was refused (429) before the server processed it: nothing was published,
    // so the intent its first request recorded must not outlive the deferral and turn the
    // post into outcome_unknown once it is due.
    let sim = sim_with_spent_account(3).await;
    let publisher = Publisher::new(client(&sim), MemoryStore::new()).key_retention(Duration::from_secs(1));
    let k = key("long-deferral");
    let post = post_to("acc_spent", &k);
    let PublishError::Deferred { retry_at, attempts, .. } = publisher.publish(&post).await.unwrap_err() else {
        panic!("deferred")
    };
    assert_eq!(attempts, 1);
    assert_eq!(publisher.store().intent(&k).await.unwrap(), None, "a refused request leaves no intent");
    tokio::time::sleep(retry_at.saturating_since(now()) + Duration::from_millis(50)).await;
    let report = publisher.publish_due(4, &CancellationToken::new()).await.unwrap();
    assert_eq!((report.published, report.failed), (1, 0), "{report:?}");
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn a_due_deferral_whose_post_cannot_be_read_is_dead_lettered_not_left_due() {
    let sim = sim_with_spent_account(0).await;
    let store = std::sync::Arc::new(MemoryStore::new());
    let publisher = Publisher::with_shared_store(client(&sim), store.clone() as std::sync::Arc<dyn ResultStore>);
    let k = key("unreadable");
    assert!(matches!(store.begin(&k, "w", Duration::from_secs(60)).await.unwrap(), store::Begin::Claimed));
    let deferral = Deferral {
        business_key: k.clone(),
        not_before_ms: 1,
        reason: "rate_limited".into(),
        message: "wait".into(),
        attempts: 1,
        deferred_at_ms: 1,
        payload: Some(r#"{"businessKey":"x","fieldOfALaterVersion":1}"#.into()),
        line: Some(3),
    };
    store.record_deferral(&deferral, "w").await.unwrap();
    let report = publisher.publish_due(4, &CancellationToken::new()).await.unwrap();
    assert_eq!((report.published, report.failed, report.deferred, report.next_due), (0, 1, 0, None));
    let letters = store.dead_letters(None, 10).await.unwrap();
    assert_eq!((letters.len(), letters[0].kind.as_str(), letters[0].line), (1, "invalid_input", Some(3)));
    assert!(letters[0].message.contains("cannot be read"), "{}", letters[0].message);
    assert_eq!(store.counts().await.unwrap().deferred, 0);
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test]
async fn a_503_asking_for_an_hour_holds_its_account_so_the_next_posts_send_nothing() {
    let sim = common::sim().await;
    let client = common::client(&sim);
    let first = common::key("unavailable");
    let headers = [("Retry-After".to_owned(), "3600".to_owned())].into();
    sim.script_business_key(
        &first,
        vec![postato_sim::ScriptAction::Respond { status: 503, headers, body: None, body_text: None }],
    );
    let e = client.publish(&common::post(&first)).await.unwrap_err();
    assert_eq!((e.kind(), e.status(), e.attempts()), (ErrorKind::RateLimited, Some(503), 1), "{e}");
    assert!(e.retry_after().is_some_and(|wait| wait > Duration::from_secs(3500)), "{e:?}");
    let requests = sim.stats().requests;
    for _ in 0..5 {
        let e = client.publish(&common::post(&common::key("after"))).await.unwrap_err();
        assert_eq!((e.kind(), e.attempts()), (ErrorKind::RateLimited, 0), "{e}");
    }
    assert_eq!(sim.stats().requests, requests, "the account is held: nothing more was sent");
}
