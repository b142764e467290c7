//! The claim protocol every [`ResultStore`] keeps, as one test suite that any store runs
//! against itself (the memory, SQLite and PostgreSQL stores do; a fourth store gets it for
//! free): claims exclude each other and lapse with their lease; a lapsed claim cannot be
//! renewed or write a dead letter; a published record is never overwritten or
//! dead-lettered; a claim is released only by its owner; a deferral is kept (not a dead
//! letter) until the key's outcome replaces it. Behind the `testing` feature.

use std::sync::Arc;
use std::time::Duration;

use super::{Begin, DeadLetter, Deferral, Intent, PublishedRecord, ResultStore, StoreErrorKind};

const LONG: Duration = Duration::from_secs(60);

fn record(key: &str, post_id: &str) -> PublishedRecord {
    PublishedRecord {
        business_key: key.into(),
        idempotency_key: postato_core::idempotency_key(key),
        fingerprint: "fingerprint".into(),
        post_id: post_id.into(),
        status: "published".into(),
        attempts: 1,
        replayed: false,
        published_at_ms: 1,
    }
}

fn letter(key: &str, message: &str) -> DeadLetter {
    DeadLetter {
        business_key: key.into(),
        kind: "transient".into(),
        status: Some(503),
        message: message.into(),
        body: None,
        attempts: 5,
        failed_at_ms: 1,
        payload: None,
        line: None,
    }
}

async fn dead_letter(store: &dyn ResultStore, key: &str) -> Option<DeadLetter> {
    store.dead_letters(None, usize::MAX).await.unwrap().into_iter().find(|l| l.business_key == key)
}

/// Runs every case against `store`. Keys start with `prefix`, so one store (a shared
/// database) can run it more than once. Panics with the broken promise.
pub async fn check_store(store: Arc<dyn ResultStore>, prefix: &str) {
    let store = store.as_ref();
    claims_exclude_each_other_and_only_the_owner_releases(store, &format!("{prefix}-exclusive")).await;
    a_lapsed_claim_goes_to_another_and_its_old_owner_records_nothing(store, &format!("{prefix}-lapsed")).await;
    a_published_record_is_never_overwritten_or_dead_lettered(store, &format!("{prefix}-published")).await;
    a_dead_letter_is_replaced_by_its_owner_and_cleared_by_a_publish(store, &format!("{prefix}-dead")).await;
    an_intent_keeps_its_first_time_until_the_outcome_is_recorded(store, &format!("{prefix}-intent")).await;
    a_deferral_is_kept_apart_from_dead_letters_until_an_outcome_replaces_it(store, &format!("{prefix}-deferred")).await;
}

fn deferral(key: &str, not_before_ms: u64) -> Deferral {
    Deferral {
        business_key: key.into(),
        not_before_ms,
        reason: "rate_limited".into(),
        message: "wait".into(),
        attempts: 1,
        deferred_at_ms: 1,
        payload: Some("{}".into()),
        line: Some(7),
    }
}

async fn deferral_of(store: &dyn ResultStore, key: &str) -> Option<Deferral> {
    store.deferrals(None, usize::MAX).await.unwrap().into_iter().find(|d| d.business_key == key)
}

async fn a_deferral_is_kept_apart_from_dead_letters_until_an_outcome_replaces_it(store: &dyn ResultStore, key: &str) {
    let before = store.counts().await.unwrap().deferred;
    assert_eq!(store.begin(key, "a", LONG).await.unwrap(), Begin::Claimed);
    store.record_dead_letter(&letter(key, "first"), "a").await.unwrap();
    assert_eq!(store.begin(key, "b", LONG).await.unwrap(), Begin::Claimed);
    store.record_deferral(&deferral(key, 1_000), "b").await.unwrap();
    assert_eq!(dead_letter(store, key).await, None, "a deferral replaces the dead letter");
    assert_eq!(deferral_of(store, key).await, Some(deferral(key, 1_000)));
    let counts = store.counts().await.unwrap();
    assert_eq!(counts.deferred, before + 1);
    assert!(counts.next_due_ms.is_some_and(|t| t <= 1_000) && counts.deferred_until_ms.is_some_and(|t| t >= 1_000));
    // Begun again: claimed, with the deferral, so that the caller decides whether it is due.
    assert_eq!(store.begin(key, "c", LONG).await.unwrap(), Begin::ClaimedDeferred(deferral(key, 1_000)));
    assert!(matches!(store.begin(key, "d", LONG).await.unwrap(), Begin::HeldByOther { .. }), "and claimed");
    let refused = store.record_deferral(&deferral(key, 9), "d").await;
    assert_eq!(refused.map_err(|e| e.kind()), Err(StoreErrorKind::LostClaim), "only the claim's owner defers");
    store.record_deferral(&deferral(key, 2_000), "c").await.unwrap();
    assert_eq!(deferral_of(store, key).await.map(|d| d.not_before_ms), Some(2_000), "deferred again, replaced");
    assert_eq!(store.begin(key, "e", LONG).await.unwrap(), Begin::ClaimedDeferred(deferral(key, 2_000)));
    store.record_dead_letter(&letter(key, "failed once due"), "e").await.unwrap();
    assert_eq!(deferral_of(store, key).await, None, "a dead letter replaces the deferral");
    assert_eq!(store.begin(key, "f", LONG).await.unwrap(), Begin::Claimed);
    store.record_deferral(&deferral(key, 3_000), "f").await.unwrap();
    assert!(matches!(store.begin(key, "g", LONG).await.unwrap(), Begin::ClaimedDeferred(_)));
    store.record_published(&record(key, "post_1"), "g").await.unwrap();
    assert_eq!(deferral_of(store, key).await, None, "a publish clears the deferral");
    let refused = store.record_deferral(&deferral(key, 4_000), "h").await;
    assert_eq!(refused.map_err(|e| e.kind()), Err(StoreErrorKind::AlreadyPublished), "a published key stays");
    assert_eq!(deferral_of(store, key).await, None);
    assert_eq!(store.counts().await.unwrap().deferred, before);
}

async fn claims_exclude_each_other_and_only_the_owner_releases(store: &dyn ResultStore, key: &str) {
    assert_eq!(store.begin(key, "a", LONG).await.unwrap(), Begin::Claimed, "a free key is claimed");
    assert!(
        matches!(store.begin(key, "b", LONG).await.unwrap(), Begin::HeldByOther { .. }),
        "a live claim excludes another worker"
    );
    store.renew(key, "a", LONG).await.expect("the owner renews its claim");
    store.release(key, "b").await.unwrap();
    assert!(
        matches!(store.begin(key, "c", LONG).await.unwrap(), Begin::HeldByOther { .. }),
        "a release by another worker leaves the claim in place"
    );
    store.release(key, "a").await.unwrap();
    assert_eq!(store.begin(key, "c", LONG).await.unwrap(), Begin::Claimed, "a released key is free");
    store.release(key, "c").await.unwrap();
}

async fn a_lapsed_claim_goes_to_another_and_its_old_owner_records_nothing(store: &dyn ResultStore, key: &str) {
    assert_eq!(store.begin(key, "a", Duration::from_millis(50)).await.unwrap(), Begin::Claimed);
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(store.begin(key, "b", LONG).await.unwrap(), Begin::Claimed, "a lapsed claim is taken over");
    let renewed = store.renew(key, "a", LONG).await;
    assert_eq!(renewed.map_err(|e| e.kind()), Err(StoreErrorKind::LostClaim), "a lost claim cannot be renewed");
    let refused = store.record_dead_letter(&letter(key, "from a"), "a").await;
    assert_eq!(refused.map_err(|e| e.kind()), Err(StoreErrorKind::LostClaim), "a lost claim writes no dead letter");
    assert_eq!(dead_letter(store, key).await, None);
    assert!(matches!(store.begin(key, "c", LONG).await.unwrap(), Begin::HeldByOther { .. }), "b still holds it");
    store.record_published(&record(key, "post_b"), "b").await.unwrap();
    assert_eq!(store.published(key).await.unwrap(), Some(record(key, "post_b")));
}

async fn a_published_record_is_never_overwritten_or_dead_lettered(store: &dyn ResultStore, key: &str) {
    assert_eq!(store.begin(key, "a", LONG).await.unwrap(), Begin::Claimed);
    store.record_published(&record(key, "post_first"), "a").await.unwrap();
    assert_eq!(store.begin(key, "b", LONG).await.unwrap(), Begin::Published(record(key, "post_first")));
    store.record_published(&record(key, "post_second"), "b").await.unwrap();
    assert_eq!(store.published(key).await.unwrap(), Some(record(key, "post_first")), "the first record stays");
    let refused = store.record_dead_letter(&letter(key, "late failure"), "b").await;
    assert_eq!(refused.map_err(|e| e.kind()), Err(StoreErrorKind::AlreadyPublished));
    assert_eq!(dead_letter(store, key).await, None, "a published key is never dead-lettered");
}

async fn a_dead_letter_is_replaced_by_its_owner_and_cleared_by_a_publish(store: &dyn ResultStore, key: &str) {
    assert_eq!(store.begin(key, "a", LONG).await.unwrap(), Begin::Claimed);
    store.record_dead_letter(&letter(key, "first"), "a").await.unwrap();
    assert_eq!(store.begin(key, "a2", LONG).await.unwrap(), Begin::Claimed, "a dead letter releases the claim");
    store.record_dead_letter(&letter(key, "second"), "a2").await.unwrap();
    assert_eq!(dead_letter(store, key).await.map(|l| l.message), Some("second".to_owned()));
    assert_eq!(store.begin(key, "a3", LONG).await.unwrap(), Begin::Claimed);
    store.record_published(&record(key, "post_1"), "a3").await.unwrap();
    assert_eq!(dead_letter(store, key).await, None, "a publish clears the dead letter");
    assert!(!store.remove_dead_letter(key).await.unwrap());
}

async fn an_intent_keeps_its_first_time_until_the_outcome_is_recorded(store: &dyn ResultStore, key: &str) {
    let intent = |at| Intent { business_key: key.into(), fingerprint: "fingerprint".into(), first_sent_at_ms: at };
    assert_eq!(store.intent(key).await.unwrap(), None);
    store.record_intent(&intent(10)).await.unwrap();
    store.record_intent(&intent(20)).await.unwrap();
    assert_eq!(store.intent(key).await.unwrap(), Some(intent(10)), "the first send's time stands");
    assert_eq!(store.begin(key, "a", LONG).await.unwrap(), Begin::Claimed);
    store.record_published(&record(key, "post_1"), "a").await.unwrap();
    assert_eq!(store.intent(key).await.unwrap(), None, "a recorded publish settles the intent");
    store.record_intent(&intent(30)).await.unwrap();
    assert!(store.forget_intent(key).await.unwrap());
    assert!(!store.forget_intent(key).await.unwrap());
    // note_intent: records when there is none, else answers the earlier one and writes nothing.
    assert_eq!(store.note_intent(&intent(40)).await.unwrap(), None);
    assert_eq!(store.note_intent(&intent(50)).await.unwrap(), Some(intent(40)));
    assert_eq!(store.intent(key).await.unwrap(), Some(intent(40)), "the first send's time stands");
    assert!(store.forget_intent(key).await.unwrap());
}
