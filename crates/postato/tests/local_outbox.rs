//! `LocalOutbox`: a device's outbox in its SQLite file. An enqueued post is published once by a
//! drain and never again; the same post enqueued again is a no-op and another one under its key
//! is refused (and a dead-lettered post enqueued again is pending again); each failure takes the
//! outbox's rule (dead-lettered, deferred, tried later, never counted when the network is out
//! of reach, or the drain blocked by a refused key with nothing dead-lettered); a drain ends at
//! its deadline or its cancel with the rest left due; two drains at once publish each post once;
//! a drain killed mid-publish loses nothing and sends nothing twice.
use postato::*;
use postato_sim::{ScriptAction, SimConfig, Simulator};
use std::time::Duration;

mod common;
use common::*;

fn outbox(client: Client, dir: &tempfile::TempDir) -> LocalOutbox {
    LocalOutbox::open(client, dir.path().join("app.db")).unwrap()
}

fn keys_of(drained: &Drained) -> Vec<&str> {
    let mut keys: Vec<&str> = drained.published.iter().map(|(key, _)| key.as_str()).collect();
    keys.sort_unstable();
    keys
}

/// Waits (at most `limit`) until the server has published `n` of `keys`.
async fn wait_for_platform(sim: &postato_sim::SimulatorHandle, keys: &[String], n: u64, limit: Duration) {
    for _ in 0..limit.as_millis() / 10 {
        if keys.iter().map(|k| sim.platform_publishes_for(k)).sum::<u64>() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the server never published {n} of {keys:?}");
}

#[tokio::test]
async fn an_enqueued_post_is_published_once_by_a_drain_and_never_again() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(client(&sim), &dir);
    let mut keys: Vec<String> = (0..6).map(|i| key(&format!("device-{i}"))).collect();
    keys.sort_unstable();
    for k in &keys {
        assert_eq!(outbox.enqueue(&post(k), None).await.unwrap(), Enqueued::Enqueued);
    }
    assert_eq!(outbox.enqueue(&post(&keys[0]), None).await.unwrap(), Enqueued::AlreadyEnqueued);
    let edited = Post::new(keys[0].as_str(), "x", "acc_1", PostStatus::Publish, "post", "edited");
    assert_eq!(outbox.enqueue(&edited, None).await.unwrap_err().kind(), ErrorKind::BusinessKeyReused);
    let blank = Post::new(key("blank"), "x", "acc_1", PostStatus::Publish, "post", " ");
    assert_eq!(outbox.enqueue(&blank, None).await.unwrap_err().kind(), ErrorKind::InvalidInput);
    assert_eq!(outbox.counts().await.unwrap().pending, 6, "the refused posts were not written");

    let drained = outbox.drain(Duration::from_secs(30)).await.unwrap();
    assert_eq!(keys_of(&drained), keys.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(drained.deferred.is_empty() && drained.dead_lettered.is_empty() && !drained.stopped_early);
    assert_eq!((drained.counts.pending, drained.counts.published), (0, 6), "{:?}", drained.counts);
    for k in &keys {
        assert_eq!(sim.platform_publishes_for(k), 1);
        assert!(outbox.publisher().store().published(k).await.unwrap().is_some(), "{k} is recorded");
    }
    let requests = sim.stats().requests;
    let again = outbox.drain(Duration::from_secs(30)).await.unwrap();
    assert!(again.published.is_empty(), "{again:?}");
    assert_eq!(sim.stats().requests, requests, "a drained outbox sends nothing");
    // Enqueued again after it was published: a no-op, and nothing is sent.
    assert_eq!(outbox.enqueue(&post(&keys[1]), None).await.unwrap(), Enqueued::AlreadyEnqueued);
    assert!(outbox.drain(Duration::from_secs(30)).await.unwrap().published.is_empty());
    assert_eq!(sim.stats().requests, requests);
}

#[tokio::test]
async fn each_failed_row_is_dead_lettered_deferred_or_tried_later_by_the_outbox_rule() {
    let spent_accounts = [("x/acc_spent".to_owned(), 3600)].into_iter().collect();
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Waits in real time: a deferral is due when the account's hour is over.
    let client = builder(&sim)
        .fast_forward_waits(false)
        .max_attempts(2)
        .max_retry_after(Duration::from_millis(200))
        .build()
        .unwrap();
    let outbox = outbox(client, &dir);
    let (rejected, spent, down, later, fine) = (key("rejected"), key("spent"), key("down"), key("later"), key("fine"));
    sim.script_business_key(&rejected, vec![respond(422)]);
    sim.script_business_key(&down, vec![respond(503), respond(503)]);
    let to_spent = Post::new(spent.as_str(), "x", "acc_spent", PostStatus::Publish, "post", "hello");
    for post in [post(&rejected), to_spent, post(&down), post(&fine)] {
        outbox.enqueue(&post, None).await.unwrap();
    }
    let tomorrow =
        Timestamp::from_millis(Timestamp::from_system_time(std::time::SystemTime::now()).as_millis() + 86_400_000);
    outbox.enqueue(&post(&later), Some(tomorrow)).await.unwrap();

    let drained = outbox.drain(Duration::from_secs(30)).await.unwrap();
    assert_eq!(keys_of(&drained), vec![fine.as_str()]);
    let [(letter_key, error)] = drained.dead_lettered.as_slice() else { panic!("{:?}", drained.dead_lettered) };
    assert_eq!((letter_key, error.kind()), (&rejected, ErrorKind::Permanent));
    // The store keeps each failure's dead letter (the one that may pass, until it is published).
    let letters = outbox.publisher().store().dead_letters(None, 10).await.unwrap();
    let mut lettered: Vec<&str> = letters.iter().map(|l| l.business_key.as_str()).collect();
    lettered.sort_unstable();
    let mut expected = vec![rejected.as_str(), down.as_str()];
    expected.sort_unstable();
    assert_eq!(lettered, expected);
    let now = Timestamp::from_system_time(std::time::SystemTime::now()).as_millis();
    let mut waiting: Vec<(&str, bool)> = drained
        .deferred
        .iter()
        .map(|row| {
            assert!(row.not_before.as_millis() > now, "{row:?} waits");
            (row.business_key.as_str(), matches!(row.why, PutBack::Deferred))
        })
        .collect();
    waiting.sort_unstable();
    let mut expected = vec![(spent.as_str(), true), (down.as_str(), false)];
    expected.sort_unstable();
    assert_eq!(waiting, expected, "{drained:?}");
    // The spent account's post, the failed one and tomorrow's wait; nothing of them was lost.
    let counts = &drained.counts;
    assert_eq!((counts.pending, counts.due, counts.published, counts.dead_lettered), (3, 0, 1, 1), "{counts:?}");
    assert_eq!(sim.platform_publishes_for(&later), 0, "not before its time");
}

#[tokio::test]
async fn a_refused_api_key_stops_the_drain_and_dead_letters_nothing() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let wrong = Client::builder()
        .api_key("sk_wrong")
        .workspace_id("ws_1")
        .base_url(sim.base_url())
        .fast_forward_waits(true)
        .build()
        .unwrap();
    let outbox = outbox(wrong, &dir);
    for i in 0..20 {
        outbox.enqueue(&post(&key(&format!("refused-{i}"))), None).await.unwrap();
    }
    let drained = outbox.concurrency(2).drain(Duration::from_secs(30)).await.unwrap();
    assert_eq!(drained.blocked.as_ref().and_then(PublishError::status), Some(401), "{drained:?}");
    assert!(drained.published.is_empty() && drained.dead_lettered.is_empty());
    assert_eq!((drained.counts.pending, drained.counts.dead_lettered), (20, 0), "{:?}", drained.counts);
    assert!(sim.stats().requests < 20, "the drain stopped at the first refusal: {:?}", sim.stats());
}

#[tokio::test]
async fn a_drain_ends_at_its_deadline_and_the_next_one_publishes_the_rest_once() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(client(&sim), &dir).concurrency(2);
    let keys: Vec<String> = (0..6).map(|i| key(&format!("deadline-{i}"))).collect();
    for (i, k) in keys.iter().enumerate() {
        // The server takes its time with the first two, which hold both slots: a drain of
        // 300 ms finishes none.
        if i < 2 {
            sim.script_business_key(k, vec![ScriptAction::SlowCommit { ms: 3_000 }]);
        }
        outbox.enqueue(&post(k), None).await.unwrap();
    }
    let drained = tokio::time::timeout(Duration::from_secs(10), outbox.drain(Duration::from_millis(300)))
        .await
        .expect("the drain ends at its deadline, not when the server answers");
    let drained = drained.unwrap();
    assert!(drained.stopped_early, "{drained:?}");
    assert!(drained.published.is_empty() && drained.deferred.is_empty(), "{drained:?}");
    assert_eq!((drained.counts.pending, drained.counts.due), (6, 6), "the cancelled rows stay due");
    // A later drain, once the server has the two sent before the deadline, publishes each once:
    // those two are replayed under their idempotency keys, not posted again.
    wait_for_platform(&sim, &keys, 2, Duration::from_secs(20)).await;
    let rest = outbox.drain(Duration::from_secs(30)).await.unwrap();
    assert_eq!(rest.published.len(), 6, "{rest:?}");
    for k in &keys {
        assert_eq!(sim.platform_publishes_for(k), 1, "{k} published once");
    }
}

#[tokio::test]
async fn a_drain_killed_mid_publish_loses_nothing_and_sends_nothing_twice() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = (0..8).map(|i| key(&format!("killed-{i}"))).collect();
    {
        let outbox = outbox(client(&sim), &dir).concurrency(4);
        for k in &keys {
            sim.script_business_key(k, vec![ScriptAction::SlowCommit { ms: 400 }]);
            outbox.enqueue(&post(k), None).await.unwrap();
        }
        // The app is killed while its drain waits for answers: the future is dropped as is.
        let sent = async {
            while sim.stats().requests < 4 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        };
        tokio::select! {
            drained = outbox.drain(Duration::from_secs(30)) => panic!("the drain finished first: {drained:?}"),
            () = sent => {}
        }
    }
    // The server finishes what it was sent; a new process opens the file.
    wait_for_platform(&sim, &keys, 4, Duration::from_secs(20)).await;
    let reopened = outbox(client(&sim), &dir);
    assert_eq!(reopened.counts().await.unwrap().pending, 8, "nothing was lost");
    let drained = reopened.drain(Duration::from_secs(30)).await.unwrap();
    assert_eq!(drained.published.len(), 8, "{drained:?}");
    for k in &keys {
        assert_eq!(sim.platform_publishes_for(k), 1, "{k} published once");
    }
}

#[tokio::test]
async fn a_row_whose_post_cannot_be_read_is_dead_lettered_with_its_payload() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(client(&sim), &dir);
    let good = key("good");
    outbox.enqueue(&post(&good), None).await.unwrap();
    let file = rusqlite::Connection::open(dir.path().join("app.db")).unwrap();
    file.execute(
        "INSERT INTO postato_outbox (business_key, fingerprint, payload, enqueued_at_ms) VALUES ('by-hand', 'f', '{\"businessKey\":\"by-hand\"}', 0)",
        [],
    )
    .unwrap();
    let drained = outbox.drain(Duration::from_secs(30)).await.unwrap();
    assert_eq!(keys_of(&drained), vec![good.as_str()]);
    let [(letter_key, error)] = drained.dead_lettered.as_slice() else { panic!("{drained:?}") };
    assert_eq!((letter_key.as_str(), error.kind()), ("by-hand", ErrorKind::InvalidInput));
    let letters = outbox.publisher().store().dead_letters(None, 10).await.unwrap();
    assert_eq!(letters[0].payload.as_deref(), Some("{\"businessKey\":\"by-hand\"}"));
}

#[tokio::test]
async fn a_cancelled_drain_stops_at_once_and_leaves_its_rows_due() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(client(&sim), &dir).concurrency(2);
    let keys: Vec<String> = (0..4).map(|i| key(&format!("cancelled-{i}"))).collect();
    for k in &keys {
        sim.script_business_key(k, vec![ScriptAction::SlowCommit { ms: 30_000 }]);
        outbox.enqueue(&post(k), None).await.unwrap();
    }
    // An iOS task's expiration handler: the cancel comes once two requests are out.
    let cancel = CancellationToken::new();
    let expire = async {
        while sim.stats().requests < 2 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cancel.cancel();
    };
    let (drained, ()) = tokio::time::timeout(Duration::from_secs(10), async {
        tokio::join!(outbox.drain_with(Duration::from_secs(60), &cancel), expire)
    })
    .await
    .expect("a cancelled drain returns at once, not when the server answers");
    let drained = drained.unwrap();
    assert!(drained.stopped_early && drained.published.is_empty(), "{drained:?}");
    assert_eq!((drained.counts.pending, drained.counts.due), (4, 4));
}

#[tokio::test]
async fn two_drains_at_once_publish_each_post_once_and_report_it_once() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(client(&sim), &dir).concurrency(3);
    let keys: Vec<String> = (0..12).map(|i| key(&format!("twice-{i}"))).collect();
    for k in &keys {
        outbox.enqueue(&post(k), None).await.unwrap();
    }
    // WorkManager's periodic job and an expedited one, together.
    let other = outbox.clone();
    let (a, b) = tokio::join!(outbox.drain(Duration::from_secs(30)), other.drain(Duration::from_secs(30)));
    let (a, b) = (a.unwrap(), b.unwrap());
    let mut reported: Vec<&str> = a.published.iter().chain(&b.published).map(|(k, _)| k.as_str()).collect();
    reported.sort_unstable();
    let mut expected: Vec<&str> = keys.iter().map(String::as_str).collect();
    expected.sort_unstable();
    assert_eq!(reported, expected, "each post reported by one drain");
    // One after the other: neither found a post the other held.
    assert!(a.deferred.is_empty() && b.deferred.is_empty(), "{a:?} {b:?}");
    for k in &keys {
        assert_eq!(sim.platform_publishes_for(k), 1, "{k} published once");
    }
}

#[tokio::test]
async fn an_unreachable_network_never_uses_up_a_posts_deliveries_and_a_dead_letter_comes_back_when_enqueued_again() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    // Offline: nothing listens where the client sends.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let offline = Client::builder()
        .api_key(sim.api_key())
        .workspace_id("ws_1")
        .base_url(format!("http://{closed}"))
        .max_attempts(2)
        .fast_forward_waits(true)
        .build()
        .unwrap();
    let (offline_key, rejected) = (key("offline"), key("down"));
    let away = outbox(offline, &dir);
    away.enqueue(&post(&offline_key), None).await.unwrap();
    let drained = away.drain(Duration::from_secs(30)).await.unwrap();
    assert!(matches!(drained.deferred.as_slice(), [row] if matches!(row.why, PutBack::Failed(_))), "{drained:?}");
    let file = rusqlite::Connection::open(dir.path().join("app.db")).unwrap();
    let deliveries = |key: &str| -> (String, i64) {
        file.query_row("SELECT state, deliveries FROM postato_outbox WHERE business_key = ?1", [key], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap()
    };
    assert_eq!(deliveries(&offline_key), ("pending".to_owned(), 0), "offline is not a failed delivery");
    // Nothing reached the server: no intent is left, so a phone offline past the server's key
    // retention never turns the post into outcome_unknown.
    assert_eq!(away.publisher().store().intent(&offline_key).await.unwrap(), None);

    // Online again, but the API down: a post at its last delivery (its 7 failures before set by
    // hand) is dead-lettered at this 8th; enqueued again once the API is back, it is pending
    // again, its failures forgotten, and published.
    let online = outbox(client(&sim), &dir);
    sim.script_business_key(&rejected, (0..5).map(|_| respond(503)).collect());
    online.enqueue(&post(&rejected), None).await.unwrap();
    file.execute("UPDATE postato_outbox SET deliveries = 7 WHERE business_key = ?1", [&rejected]).unwrap();
    let drained = online.drain(Duration::from_secs(30)).await.unwrap();
    let [(_, error)] = drained.dead_lettered.as_slice() else { panic!("{drained:?}") };
    assert_eq!(error.kind(), ErrorKind::Transient);
    assert_eq!(deliveries(&rejected).0, "dead_lettered");
    assert_eq!(online.enqueue(&post(&rejected), None).await.unwrap(), Enqueued::Enqueued);
    assert_eq!(deliveries(&rejected), ("pending".to_owned(), 0));
    let again = online.drain(Duration::from_secs(30)).await.unwrap();
    // (The offline post waits out its 30 s.)
    assert_eq!(keys_of(&again), vec![rejected.as_str()], "{again:?}");
    assert_eq!(deliveries(&rejected).0, "published");
    assert_eq!(sim.platform_publishes_for(&rejected), 1);
    let edited = Post::new(rejected.as_str(), "x", "acc_1", PostStatus::Publish, "post", "edited");
    assert_eq!(online.enqueue(&edited, None).await.unwrap_err().kind(), ErrorKind::BusinessKeyReused);
}
