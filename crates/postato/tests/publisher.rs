//! The Publisher: stored results, the payload guard, restarts, claims, dead letters, and a
//! store that fails after a publish.
use postato::store::Begin;
use postato::*;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::*;

#[tokio::test]
async fn a_reused_business_key_with_edited_content_is_refused() {
    let sim = sim().await;
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    let k = key("edit");
    publisher.publish(&post(&k)).await.unwrap();
    let mut edited = post(&k);
    edited.content = "edited".into();
    let error = publisher.publish(&edited).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::BusinessKeyReused);
    let PublishError::BusinessKeyReused { stored_fingerprint, new_fingerprint, .. } = &error else { panic!() };
    assert!(
        error.to_string().contains(stored_fingerprint.as_str()) && error.to_string().contains(new_fingerprint.as_str())
    );
    assert_eq!(sim.stats().requests, 1, "no request for the edited post");
}

#[tokio::test]
async fn a_new_process_on_the_same_sqlite_file_skips_what_was_published() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("posts.db");
    let keys: Vec<String> = (0..3).map(|_| key("restart")).collect();
    {
        let publisher = Publisher::new(client(&sim), SqliteStore::open(&path).unwrap());
        for k in &keys {
            assert!(!publisher.publish(&post(k)).await.unwrap().from_store);
        }
    }
    let requests = sim.stats().requests;
    let publisher = Publisher::new(client(&sim), SqliteStore::open(&path).unwrap());
    for k in &keys {
        let report = publisher.publish(&post(k)).await.unwrap();
        assert!(report.from_store);
        assert_eq!(report.published.idempotency_key, idempotency_key(k));
    }
    assert_eq!(sim.stats().requests, requests, "nothing sent after the restart");
    assert_eq!(publisher.store().counts().await.unwrap().published, 3);
}

#[tokio::test]
async fn concurrent_publishes_of_one_key_make_one_request() {
    let sim = sim().await;
    sim.script_business_key("same", vec![postato_sim::ScriptAction::Latency { ms: 100 }]);
    let publisher = Publisher::new(client(&sim), SqliteStore::in_memory().unwrap());
    let same = post("same");
    let (a, b) = tokio::join!(publisher.publish(&same), publisher.publish(&same));
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(a.published.id, b.published.id);
    assert!(a.from_store != b.from_store);
    assert_eq!(sim.stats().requests, 1);
}

#[tokio::test]
async fn dead_letters_page_by_key_count_by_kind_and_can_be_removed() {
    for store in [Arc::new(MemoryStore::new()) as Arc<dyn ResultStore>, Arc::new(SqliteStore::in_memory().unwrap())] {
        for (k, kind) in [("a", "permanent"), ("b", "transient"), ("c", "permanent")] {
            let letter = DeadLetter {
                business_key: k.into(),
                kind: kind.into(),
                status: Some(400),
                message: "m".into(),
                body: None,
                attempts: 1,
                failed_at_ms: 5,
                payload: None,
                line: Some(3),
            };
            store.record_dead_letter(&letter, "w").await.unwrap();
        }
        let first = store.dead_letters(None, 2).await.unwrap();
        assert_eq!(first.iter().map(|l| l.business_key.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(first[0].line, Some(3));
        let rest = store.dead_letters(Some("b"), 10).await.unwrap();
        assert_eq!(rest.len(), 1);
        let counts = store.counts().await.unwrap();
        assert_eq!((counts.dead_letters, counts.dead_letters_by_kind["permanent"]), (3, 2));
        assert!(store.remove_dead_letter("a").await.unwrap());
        assert!(!store.remove_dead_letter("a").await.unwrap());
    }
}

#[tokio::test]
async fn claims_hold_other_workers_until_released_or_expired() {
    let store = MemoryStore::new();
    assert_eq!(store.begin("k", "w1", Duration::from_millis(100)).await.unwrap(), Begin::Claimed);
    assert!(matches!(store.begin("k", "w2", Duration::from_secs(1)).await.unwrap(), Begin::HeldByOther { .. }));
    tokio::time::sleep(Duration::from_millis(120)).await;
    assert_eq!(
        store.begin("k", "w2", Duration::from_secs(1)).await.unwrap(),
        Begin::Claimed,
        "an expired lease is taken over"
    );
    store.release("k", "w2").await.unwrap();
    assert_eq!(store.begin("k", "w1", Duration::from_secs(1)).await.unwrap(), Begin::Claimed);
}

/// A memory store that misbehaves on purpose: its outcome writes fail (a full disk), its
/// renewals never answer (a stalled database, an exhausted pool), or its claims land but their
/// answers are lost (a connection cut after the commit).
#[derive(Default)]
struct MisbehavingStore {
    inner: MemoryStore,
    writes_fail: bool,
    renewals_stall: bool,
    begin_answers_lost: bool,
}

#[async_trait::async_trait]
impl ResultStore for MisbehavingStore {
    async fn begin(&self, k: &str, w: &str, l: Duration) -> Result<Begin, StoreError> {
        let begun = self.inner.begin(k, w, l).await;
        if self.begin_answers_lost {
            return Err(StoreError::unavailable("the connection was cut after the commit"));
        }
        begun
    }
    async fn renew(&self, k: &str, w: &str, l: Duration) -> Result<(), StoreError> {
        if self.renewals_stall {
            std::future::pending::<()>().await;
        }
        self.inner.renew(k, w, l).await
    }
    async fn record_published(&self, r: &PublishedRecord, w: &str) -> Result<(), StoreError> {
        if self.writes_fail {
            return Err(StoreError::new("disk full"));
        }
        self.inner.record_published(r, w).await
    }
    async fn record_dead_letter(&self, l: &DeadLetter, w: &str) -> Result<(), StoreError> {
        if self.writes_fail {
            return Err(StoreError::new("disk full"));
        }
        self.inner.record_dead_letter(l, w).await
    }
    async fn record_deferral(&self, d: &Deferral, w: &str) -> Result<(), StoreError> {
        if self.writes_fail {
            return Err(StoreError::new("disk full"));
        }
        self.inner.record_deferral(d, w).await
    }
    async fn deferrals(&self, after: Option<&str>, limit: usize) -> Result<Vec<Deferral>, StoreError> {
        self.inner.deferrals(after, limit).await
    }
    async fn intent(&self, k: &str) -> Result<Option<Intent>, StoreError> {
        self.inner.intent(k).await
    }
    async fn record_intent(&self, i: &Intent) -> Result<(), StoreError> {
        self.inner.record_intent(i).await
    }
    async fn forget_intent(&self, k: &str) -> Result<bool, StoreError> {
        self.inner.forget_intent(k).await
    }
    async fn release(&self, k: &str, w: &str) -> Result<(), StoreError> {
        self.inner.release(k, w).await
    }
    async fn published(&self, k: &str) -> Result<Option<PublishedRecord>, StoreError> {
        self.inner.published(k).await
    }
    async fn dead_letters(&self, a: Option<&str>, l: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.inner.dead_letters(a, l).await
    }
    async fn remove_dead_letter(&self, k: &str) -> Result<bool, StoreError> {
        self.inner.remove_dead_letter(k).await
    }
    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.inner.counts().await
    }
}

#[tokio::test]
async fn a_store_failure_after_a_publish_still_returns_the_result_and_says_so() {
    let sim = sim().await;
    let publisher = Publisher::new(client(&sim), MisbehavingStore { writes_fail: true, ..Default::default() });
    let k = key("broken");
    let report = publisher.publish(&post(&k)).await.unwrap();
    assert!(report.store_error.as_deref().unwrap().contains("disk full"));
    // Publishing again is safe: the server replays.
    let again = publisher.publish(&post(&k)).await.unwrap();
    assert_eq!((again.published.id, again.published.replayed), (report.published.id, true));
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn a_publish_whose_claim_lost_its_answer_has_released_it_when_it_returns() {
    // The claim landed, its answer did not: the publish ends `store_unavailable` with nothing
    // sent. A process that exits right then (a one-shot `postato publish`) must not leave the
    // key claimed for a whole lease, so the release is done, not merely spawned, on return.
    let sim = sim().await;
    let store = Arc::new(MisbehavingStore { begin_answers_lost: true, ..Default::default() });
    let publisher = Publisher::with_shared_store(client(&sim), Arc::clone(&store) as Arc<dyn ResultStore>);
    let k = key("lost-claim-answer");
    let error = publisher.publish(&post(&k)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error:?}");
    // No await in between that could let a spawned release run first.
    assert_eq!(store.inner.begin(&k, "another worker", Duration::from_secs(60)).await.unwrap(), Begin::Claimed);
    assert_eq!(sim.platform_publishes_for(&k), 0);
}

#[tokio::test]
async fn a_store_from_a_newer_postato_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    rusqlite_set_version(&path, 99);
    let error = SqliteStore::open(&path).unwrap_err();
    assert!(error.to_string().contains("newer"), "{error}");
}

fn rusqlite_set_version(path: &std::path::Path, version: i64) {
    drop(SqliteStore::open(path).unwrap());
    let connection = ::rusqlite::Connection::open(path).unwrap();
    connection.pragma_update(None, "user_version", version).unwrap();
}

#[tokio::test]
async fn a_publish_whose_future_is_dropped_releases_its_claim_at_once() {
    // A cancelled asyncio task, a cancelled coroutine or a timeout drops the publish's future:
    // the claim must not stay for the whole lease (60 s), or the next publish of the key
    // would wait that long.
    let sim = sim().await;
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    let k = key("dropped");
    sim.script_business_key(&k, vec![postato_sim::ScriptAction::Hang { ms: 5_000 }, postato_sim::ScriptAction::Ok]);
    let dropped = tokio::time::timeout(Duration::from_millis(300), publisher.publish(&post(&k))).await;
    assert!(dropped.is_err(), "the first publish hangs and is dropped");
    let again = tokio::time::timeout(Duration::from_secs(10), publisher.publish(&post(&k))).await;
    let report = again.expect("the key was released when the first publish was dropped").unwrap();
    assert!(!report.from_store);
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn a_stalled_renewal_never_stalls_the_publish() {
    let sim = sim().await;
    let publisher = Publisher::new(client(&sim), MisbehavingStore { renewals_stall: true, ..Default::default() })
        .lease(Duration::from_millis(300));
    let k = key("stalled");
    // The publish outlasts several renewal periods (100 ms each).
    sim.script_business_key(&k, vec![postato_sim::ScriptAction::Latency { ms: 600 }]);
    let report = tokio::time::timeout(Duration::from_secs(10), publisher.publish(&post(&k)))
        .await
        .expect("the publish ends although every renewal hangs")
        .unwrap();
    assert_eq!(report.published.attempts, 1);
}

#[tokio::test]
async fn a_lease_below_its_bound_is_refused_naming_it_and_sends_nothing() {
    let sim = sim().await;
    for lease in [Duration::ZERO, Duration::from_millis(99)] {
        let publisher = Publisher::new(client(&sim), MemoryStore::new()).lease(lease);
        let error = publisher.publish(&post(&key("short-lease"))).await.unwrap_err();
        assert_eq!((error.kind(), error.field()), (ErrorKind::InvalidInput, Some("lease")));
        assert!(error.to_string().contains("from 100 ms to 1 h"), "{error}");
    }
    assert_eq!(sim.stats().requests, 0);
    let publisher = Publisher::new(client(&sim), MemoryStore::new()).lease(Duration::from_millis(100));
    publisher.publish(&post(&key("short-lease"))).await.unwrap();
}

fn days_ago(days: u64) -> u64 {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64;
    now - days * 24 * 3_600_000
}

#[tokio::test]
async fn a_resume_past_the_servers_key_retention_does_not_send_and_dead_letters_outcome_unknown() {
    // A crash between the server's success and the store's write left an intent; days later
    // the server has forgotten the key, so sending would publish the post a second time.
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("resume.db")).unwrap();
    let k = key("unknown");
    let fingerprint = client(&sim).request_for(&post(&k)).unwrap().fingerprint().to_owned();
    store.record_intent(&Intent { business_key: k.clone(), fingerprint, first_sent_at_ms: days_ago(3) }).await.unwrap();
    let publisher = Publisher::new(client(&sim), store.clone());
    let error = publisher.publish(&post(&k)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::OutcomeUnknown);
    assert!(error.to_string().contains("--force"), "{error}");
    assert_eq!(sim.stats().requests, 0, "nothing was sent");
    let letters = store.dead_letters(None, 10).await.unwrap();
    assert_eq!(
        letters.iter().map(|l| (l.business_key.as_str(), l.kind.as_str())).collect::<Vec<_>>(),
        [(k.as_str(), "outcome_unknown")]
    );
    // Again without force: still not sent.
    assert_eq!(publisher.publish(&post(&k)).await.unwrap_err().kind(), ErrorKind::OutcomeUnknown);
    assert_eq!(sim.stats().requests, 0);
    // A person checked: forced, it is sent once, recorded, and the dead letter cleared.
    let report = publisher.publish_with(&post(&k)).force().await.unwrap();
    assert_eq!(sim.platform_publishes_for(&k), 1);
    assert_eq!(store.published(&k).await.unwrap().map(|r| r.post_id), Some(report.published.id));
    assert!(store.dead_letters(None, 10).await.unwrap().is_empty());
    assert_eq!(store.intent(&k).await.unwrap(), None, "a recorded publish settles its intent");
}

#[tokio::test]
async fn a_resume_within_the_retention_sends_again_under_the_same_key() {
    let sim = sim().await;
    let store = MemoryStore::new();
    let k = key("young");
    let fingerprint = client(&sim).request_for(&post(&k)).unwrap().fingerprint().to_owned();
    store.record_intent(&Intent { business_key: k.clone(), fingerprint, first_sent_at_ms: days_ago(0) }).await.unwrap();
    let publisher = Publisher::new(client(&sim), store);
    publisher.publish(&post(&k)).await.unwrap();
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn every_publish_records_its_intent_before_sending() {
    // The server sees the request only after the intent is in the store.
    let sim = sim().await;
    let store = Arc::new(MemoryStore::new());
    let publisher = Publisher::with_shared_store(client(&sim), store.clone());
    let k = key("intent");
    sim.script_business_key(&k, vec![postato_sim::ScriptAction::Hang { ms: 5_000 }]);
    let publish = tokio::time::timeout(Duration::from_millis(300), publisher.publish(&post(&k))).await;
    assert!(publish.is_err());
    assert_eq!(sim.stats().requests, 1);
    let intent = store.intent(&k).await.unwrap().expect("the intent was recorded before the send");
    assert_eq!(intent.business_key, k);
}

#[tokio::test]
async fn a_sqlite_store_whose_file_is_deleted_or_replaced_under_it_refuses_to_record() {
    let sim = sim().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("posts.db");
    let remove_store = |path: &std::path::Path| {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
    };
    for how in ["deleted", "replaced"] {
        remove_store(&path);
        let publisher = Publisher::new(client(&sim), SqliteStore::open(&path).unwrap());
        let first = key(how);
        publisher.publish(&post(&first)).await.unwrap();
        remove_store(&path);
        if how == "replaced" {
            // Another postato store moved onto the path.
            let other = dir.path().join("other.db");
            drop(SqliteStore::open(&other).unwrap());
            std::fs::rename(&other, &path).unwrap();
        }
        let requests = sim.stats().requests;
        let error = publisher.publish(&post(&key(how))).await.unwrap_err();
        let said = error.to_string();
        assert!(said.contains(&format!("was {how}")) && said.contains("while postato used it"), "{said}");
        assert_eq!(sim.stats().requests, requests, "{how}: nothing is sent that could not be recorded");
    }
}

#[tokio::test]
async fn a_publisher_call_takes_its_own_options_checked_before_the_store_is_asked() {
    let sim = sim().await;
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    // Recorded already: a check made after the store's answer would return it instead.
    let recorded = key("call-options-recorded");
    publisher.publish(&post(&recorded)).await.unwrap();
    for call in [publisher.publish_with(&post(&recorded)).max_attempts(0).send().await, {
        publisher.publish_with(&post(&recorded)).max_attempts(0).try_send().await.map(|r| r.unwrap())
    }] {
        let error = call.unwrap_err();
        assert_eq!((error.kind(), error.field()), (ErrorKind::InvalidInput, Some("maxAttempts")));
    }
    let k = key("call-options");
    sim.script_business_key(&k, vec![respond(503), respond(503)]);
    let error = publisher.publish_with(&post(&k)).max_attempts(1).await.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::Transient, 1), "one attempt, as asked");
}

#[tokio::test]
async fn a_past_schedule_is_noticed_once_as_its_post_is_sent_and_never_when_nothing_is_sent() {
    let sim = sim().await;
    let notices = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = Arc::clone(&notices);
    let client = builder(&sim)
        .on_notice(move |notice| {
            if let Notice::PastSchedule { business_key, .. } = notice {
                sink.lock().unwrap().push(business_key.clone());
            }
        })
        .build()
        .unwrap();
    let publisher = Publisher::new(client.clone(), MemoryStore::new());
    let past = |k: &str| {
        let mut post = post(k);
        post.scheduled_at = Some(postato::postato_core::parse_timestamp("2020-01-01T00:00:00Z").unwrap());
        post.status = PostStatus::Scheduled;
        post
    };
    let (sent, invalid, retried) = (key("past-sent"), key("past-invalid"), key("past-retried"));
    publisher.publish(&past(&sent)).await.unwrap();
    let again = publisher.publish(&past(&sent)).await.unwrap();
    assert!(again.from_store, "answered from the store: nothing sent, nothing noticed");
    assert_eq!(
        publisher.publish_with(&past(&invalid)).max_attempts(0).await.unwrap_err().kind(),
        ErrorKind::InvalidInput
    );
    sim.script_business_key(&retried, vec![respond(503), postato_sim::ScriptAction::Ok]);
    client.publish(&past(&retried)).await.unwrap();
    assert_eq!(*notices.lock().unwrap(), vec![sent, retried], "once per publish that sends, retries included");
}
