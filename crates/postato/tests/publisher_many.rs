//! `Publisher::publish_many`: a store-backed batch with `postato batch`'s guarantees. Every
//! post gets its outcome in input order and in the store; running the call again resumes it;
//! the first post of a business key wins; a spent account's posts are deferred; two workers
//! on one store publish each post once; a cancelled call leaves no claim behind.
use postato::*;
use postato_sim::{ScriptAction, SimConfig, Simulator};
use std::time::Duration;

mod common;
use common::*;

fn sqlite(dir: &tempfile::TempDir) -> SqliteStore {
    SqliteStore::open(dir.path().join("posts.db")).unwrap()
}

#[tokio::test]
async fn each_post_is_published_dead_lettered_or_refused_in_input_order_and_recorded() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(client(&sim), sqlite(&dir));
    let keys: Vec<String> = (0..8).map(|i| key(&format!("batch-{i}"))).collect();
    sim.script_business_key(&keys[2], vec![respond(422)]);
    let mut posts: Vec<Post> = keys.iter().map(|k| post(k)).collect();
    posts[5] = Post::new("", "x", "acc_1", PostStatus::Publish, "post", "no business key");
    let results = publisher.publish_many(&posts, &ManyOptions::new().concurrency(3)).await.unwrap();
    assert_eq!(results.len(), posts.len());
    for (i, result) in results.iter().enumerate() {
        match i {
            2 => assert_eq!(result.as_ref().unwrap_err().kind(), ErrorKind::Permanent, "{result:?}"),
            5 => assert_eq!(result.as_ref().unwrap_err().kind(), ErrorKind::InvalidInput, "{result:?}"),
            _ => {
                let report = result.as_ref().unwrap();
                assert_eq!(report.published.idempotency_key, idempotency_key(&keys[i]), "post {i} out of order");
                assert!(!report.from_store);
                assert_eq!(sim.platform_publishes_for(&keys[i]), 1);
            }
        }
    }
    let counts = publisher.store().counts().await.unwrap();
    assert_eq!((counts.published, counts.dead_letters), (6, 1), "{counts:?}");
    let letters = publisher.store().dead_letters(None, 10).await.unwrap();
    assert_eq!((letters[0].business_key.as_str(), letters[0].kind.as_str()), (keys[2].as_str(), "permanent"));
}

#[tokio::test]
async fn running_the_same_batch_again_sends_nothing_for_what_was_published() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = (0..10).map(|i| key(&format!("resume-{i}"))).collect();
    let posts: Vec<Post> = keys.iter().map(|k| post(k)).collect();
    // The first run is stopped after its first posts: the rest end `Cancelled`.
    for k in &keys[4..] {
        sim.script_business_key(k, vec![ScriptAction::SlowCommit { ms: 800 }]);
    }
    let token = CancellationToken::new();
    let stop = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    let first = Publisher::new(client(&sim), sqlite(&dir));
    let options = ManyOptions::new().concurrency(2).cancel(token);
    let results = first.publish_many(&posts, &options).await.unwrap();
    let published = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(published, 4, "{results:?}");
    assert!(results[4..].iter().all(|r| r.as_ref().unwrap_err().kind() == ErrorKind::Cancelled), "{results:?}");
    drop(first);
    // The server finishes the commits it started (it answers 409 to their keys meanwhile).
    tokio::time::sleep(Duration::from_millis(900)).await;

    // Another process runs the same batch: what was published comes from the store, and the
    // posts cancelled in flight (their claims released) are published now.
    let again = Publisher::new(client(&sim), sqlite(&dir));
    let results = again.publish_many(&posts, &ManyOptions::new().concurrency(4)).await.unwrap();
    for (i, result) in results.iter().enumerate() {
        let report = result.as_ref().unwrap_or_else(|e| panic!("post {i}: {e}"));
        assert_eq!(report.from_store, i < 4, "post {i}");
        assert_eq!(sim.platform_publishes_for(&keys[i]), 1, "post {i} published once");
    }
    assert_eq!(again.store().counts().await.unwrap().published, 10);
}

#[tokio::test]
async fn the_first_post_of_a_business_key_wins() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(client(&sim), sqlite(&dir));
    let (same, other, failing) = (key("same"), key("other"), key("failing"));
    // The first post of `failing` is dead-lettered; a different post under its key is still
    // refused, never published in its place.
    sim.script_business_key(&failing, vec![respond(422)]);
    let edited = |k: &str| Post::new(k, "x", "acc_1", PostStatus::Publish, "post", "edited");
    let posts = vec![post(&same), post(&other), post(&failing), post(&same), edited(&other), edited(&failing)];
    let results = publisher.publish_many(&posts, &ManyOptions::new().concurrency(8)).await.unwrap();

    let (first, repeat) = (results[0].as_ref().unwrap(), results[3].as_ref().unwrap());
    assert_eq!(repeat.published.id, first.published.id);
    assert!(!first.from_store && repeat.from_store, "the repeat shares the first's outcome");
    assert_eq!(sim.platform_publishes_for(&same), 1);
    assert_eq!(sim.stats().requests, 3, "one request per business key: {:?}", sim.stats());

    assert!(results[1].is_ok());
    for refused in [&results[4], &results[5]] {
        let error = refused.as_ref().unwrap_err();
        assert_eq!(error.kind(), ErrorKind::BusinessKeyReused, "{error}");
    }
    assert_eq!(results[2].as_ref().unwrap_err().kind(), ErrorKind::Permanent);
    let counts = publisher.store().counts().await.unwrap();
    assert_eq!((counts.published, counts.dead_letters), (2, 1), "{counts:?}");
}

#[tokio::test]
async fn a_spent_accounts_posts_are_deferred_and_the_rest_published() {
    let spent_accounts = [("x/acc_spent".to_owned(), 60)].into_iter().collect();
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let client = Client::builder()
        .api_key(sim.api_key())
        .workspace_id("ws_1")
        .base_url(sim.base_url())
        .max_retry_after(Duration::from_millis(200))
        .build()
        .unwrap();
    let publisher = Publisher::new(client, sqlite(&dir));
    let to = |account: &str, k: String| Post::new(k, "x", account, PostStatus::Publish, "post", "hello");
    let posts: Vec<Post> = (0..6).map(|i| to(if i % 2 == 0 { "acc_spent" } else { "acc_ok" }, key("spent"))).collect();
    let results = publisher.publish_many(&posts, &ManyOptions::new().concurrency(2)).await.unwrap();
    for (i, result) in results.iter().enumerate() {
        match i % 2 {
            0 => assert_eq!(result.as_ref().unwrap_err().kind(), ErrorKind::Deferred, "post {i}: {result:?}"),
            _ => assert!(result.is_ok(), "post {i}: {result:?}"),
        }
    }
    let counts = publisher.store().counts().await.unwrap();
    assert_eq!((counts.published, counts.deferred, counts.dead_letters), (3, 3, 0), "{counts:?}");
}

#[tokio::test]
async fn two_workers_on_one_store_publish_each_post_once() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = (0..40).map(|i| key(&format!("shared-{i}"))).collect();
    for k in &keys {
        sim.script_business_key(k, vec![ScriptAction::Latency { ms: 20 }]);
    }
    let posts: Vec<Post> = keys.iter().map(|k| post(k)).collect();
    let (a, b) = (Publisher::new(client(&sim), sqlite(&dir)), Publisher::new(client(&sim), sqlite(&dir)));
    let options = ManyOptions::new().concurrency(8);
    let (ran_a, ran_b) = tokio::join!(a.publish_many(&posts, &options), b.publish_many(&posts, &options));
    for (i, (x, y)) in ran_a.unwrap().iter().zip(ran_b.unwrap().iter()).enumerate() {
        let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
        assert_eq!(x.published.id, y.published.id, "post {i}");
        assert_eq!(sim.platform_publishes_for(&keys[i]), 1, "post {i} published once");
    }
    assert_eq!(sim.stats().platform_publishes, 40);
}

#[tokio::test]
async fn invalid_options_are_refused_before_anything_is_sent() {
    let sim = sim().await;
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    let posts = vec![post(&key("never"))];
    let error = publisher.publish_many(&posts, &ManyOptions::new().concurrency(0)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    assert!(error.to_string().contains("concurrency"), "{error}");
    assert_eq!(sim.stats().requests, 0);
}
