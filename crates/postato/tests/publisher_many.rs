//! `Publisher::publish_many`: a store-backed batch with `postato batch`'s guarantees. Every
//! post gets its outcome in input order and in the store; running the call again resumes it;
//! the first post of a business key wins; a spent account's posts are deferred; two workers
//! on one store publish each post once; a cancelled call leaves no claim behind.
use postato::*;
use postato_sim::{ScriptAction, SimConfig, Simulator};
use std::sync::Arc;
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
    // The first run is stopped once its first four posts are published, with the next two in
    // flight (the server commits them slowly) and the rest never started.
    for k in &keys[4..] {
        sim.script_business_key(k, vec![ScriptAction::SlowCommit { ms: 800 }]);
    }
    let token = CancellationToken::new();
    let stop_after_four = async {
        while keys[..4].iter().any(|k| sim.platform_publishes_for(k) == 0) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        token.cancel();
    };
    let first = Publisher::new(client(&sim), sqlite(&dir));
    let options = ManyOptions::new().concurrency(2).cancel(token.clone());
    let (results, ()) = tokio::join!(first.publish_many(&posts, &options), stop_after_four);
    let results = results.unwrap();
    // The cancel comes once the server has the first four: a publish whose answer was still on
    // its way ends Cancelled too (its record is the second run's to make).
    let recorded: Vec<bool> = results.iter().map(Result::is_ok).collect();
    assert!(recorded[..3].iter().all(|ok| *ok) && !recorded[4..].iter().any(|ok| *ok), "{results:?}");
    assert!(
        results.iter().all(|r| r.as_ref().map_or_else(|e| e.kind() == ErrorKind::Cancelled, |_| true)),
        "{results:?}"
    );
    // At most the two in flight when it was cancelled were sent; without the token, all ten.
    assert!(sim.stats().requests <= 6, "none started after the cancel: {:?}", sim.stats());
    // No claim is left behind: each key can be claimed at once.
    let store = Arc::clone(first.store());
    for k in &keys[4..] {
        let begun = store.begin(k, "probe", Duration::from_secs(60)).await.unwrap();
        assert!(matches!(begun, store::Begin::Claimed | store::Begin::ClaimedDeferred(_)), "{k}: {begun:?}");
        store.release(k, "probe").await.unwrap();
    }
    drop(first);

    // Another process runs the same batch: what was published comes from the store, and the
    // posts cancelled in flight are published now (real waits: the server answers 409 while
    // it finishes the commits it began, and a retry then gets the stored answer).
    let waits = Client::builder().api_key(sim.api_key()).workspace_id("ws_1").base_url(sim.base_url()).build().unwrap();
    let again = Publisher::new(waits, sqlite(&dir));
    let results = again.publish_many(&posts, &ManyOptions::new().concurrency(4)).await.unwrap();
    for (i, result) in results.iter().enumerate() {
        let report = result.as_ref().unwrap_or_else(|e| panic!("post {i}: {e}"));
        assert_eq!(report.from_store, recorded[i], "post {i}: from the store if the first run recorded it");
        assert_eq!(sim.platform_publishes_for(&keys[i]), 1, "post {i} published once");
    }
    assert_eq!(again.store().counts().await.unwrap().published, 10);
}

#[tokio::test]
async fn a_key_another_worker_holds_is_left_for_last_and_published_once_its_claim_lapses() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let publisher = Publisher::new(client(&sim), sqlite(&dir));
    let keys: Vec<String> = (0..6).map(|i| key(&format!("held-{i}"))).collect();
    // A worker that crashed holding the first key: its claim lapses after 1 s.
    let begun = publisher.store().begin(&keys[0], "crashed-worker", Duration::from_secs(1)).await.unwrap();
    assert!(matches!(begun, store::Begin::Claimed), "{begun:?}");
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = Arc::clone(&order);
    let recording = builder(&sim)
        .on_event(move |key, event| {
            if let Event::Finished { .. } = event {
                seen.lock().unwrap().push(key.to_owned());
            }
        })
        .build()
        .unwrap();
    let publisher = Publisher::new(recording, sqlite(&dir));
    let posts: Vec<Post> = keys.iter().map(|k| post(k)).collect();
    let results = publisher.publish_many(&posts, &ManyOptions::new().concurrency(1)).await.unwrap();
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    // With one slot, the held key did not block it: the other five went first.
    assert_eq!(order.lock().unwrap().last(), Some(&keys[0]), "{:?}", order.lock().unwrap());
    assert!(keys.iter().all(|k| sim.platform_publishes_for(k) == 1));
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
        assert!(x.from_store != y.from_store, "post {i}: one worker sent it, the other found it in the store");
    }
    // Each post was sent once: the simulator would dedupe a second send, the claims prevent it.
    assert_eq!(sim.stats().requests, 40, "{:?}", sim.stats());
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
