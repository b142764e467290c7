//! Result stores: where a [`Publisher`](crate::Publisher) records what it published and what
//! it dead-lettered, so a restarted process skips the first and can replay the second. The
//! trait is shaped for shared stores too: a worker claims a business key with a lease before
//! publishing it.

mod claims;
#[cfg(feature = "testing")]
pub mod conformance;
mod file_guard;
mod group_commit;
mod memory;
mod process_lock;
mod sqlite;
mod sqlite_outbox;

pub use memory::MemoryStore;
pub use sqlite::{check_sqlite_path, SqliteStore};
pub use sqlite_outbox::OutboxRow;

use postato_core::ErrorKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// A published post as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PublishedRecord {
    /// The caller's business key.
    pub business_key: String,
    /// The idempotency key it was published under.
    pub idempotency_key: String,
    /// The payload fingerprint of the published body.
    pub fingerprint: String,
    /// The post's id at Postato.
    pub post_id: String,
    /// Its status at Postato.
    pub status: String,
    /// Requests it took.
    pub attempts: u32,
    /// Whether the final answer was a replay.
    pub replayed: bool,
    /// When it was recorded, in ms since the Unix epoch.
    pub published_at_ms: u64,
}

/// A post that could not be published, kept for inspection and replay.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The business key (for a campaign line that could not be read, `line:N`).
    pub business_key: String,
    /// The error kind's stable name (`permanent`, `transient`, …).
    pub kind: String,
    /// The HTTP status, if any.
    pub status: Option<u16>,
    /// What went wrong.
    pub message: String,
    /// The response body, if any.
    pub body: Option<String>,
    /// Requests sent.
    pub attempts: u32,
    /// When, in ms since the Unix epoch.
    pub failed_at_ms: u64,
    /// The post as JSON (a campaign line), so it can be replayed; absent when unreadable.
    pub payload: Option<String>,
    /// The campaign line it came from, if any.
    pub line: Option<u64>,
}

impl DeadLetter {
    /// The error kind, if the name is known.
    pub fn error_kind(&self) -> Option<ErrorKind> {
        ErrorKind::parse(&self.kind)
    }
}

/// A post whose rate limit holds past what a publish waits: kept until `not_before_ms`, then
/// published by the next publish of its key (a rerun of the campaign, or
/// [`Publisher::publish_due`](crate::Publisher::publish_due)). Not a dead letter: nothing is
/// wrong with it, and nothing is sent for it before its time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deferral {
    /// The business key.
    pub business_key: String,
    /// When it may be sent again, in ms since the Unix epoch.
    pub not_before_ms: u64,
    /// Why, as an error kind's stable name (`rate_limited`).
    pub reason: String,
    /// What the server or the client's limits said.
    pub message: String,
    /// Requests sent by the publish that deferred it.
    pub attempts: u32,
    /// When it was deferred, in ms since the Unix epoch.
    pub deferred_at_ms: u64,
    /// The post as JSON, so it can be published once due; absent when it could not be kept.
    pub payload: Option<String>,
    /// The campaign line it came from, if any.
    pub line: Option<u64>,
}

/// A publish about to be sent: recorded before its first request and forgotten once its
/// outcome is recorded. One still there after a crash says "sent, outcome unknown"; past the
/// server's idempotency-key retention, a resume does not send it again (see
/// [`PublishError::OutcomeUnknown`](postato_core::PublishError::OutcomeUnknown)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Intent {
    /// The business key.
    pub business_key: String,
    /// The payload fingerprint of what was sent.
    pub fingerprint: String,
    /// When the first request was about to be sent, in ms since the Unix epoch.
    pub first_sent_at_ms: u64,
}

/// How many rows an outbox holds, by state (PostgreSQL's, or a device's in SQLite).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxCounts {
    /// Waiting to be published (due or not).
    pub pending: u64,
    /// Of those, due now.
    pub due: u64,
    /// Of those, held by a worker's live lease (always 0 in a device's outbox, drained by
    /// one process).
    pub claimed: u64,
    /// Published (or found published).
    pub published: u64,
    /// Dead-lettered (the store's dead letters say why).
    pub dead_lettered: u64,
    /// When the next pending row that is not due is due.
    pub next_due_ms: Option<u64>,
}

/// Counts in a store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreCounts {
    /// Published posts.
    pub published: u64,
    /// Dead letters.
    pub dead_letters: u64,
    /// Dead letters by error kind.
    pub dead_letters_by_kind: BTreeMap<String, u64>,
    /// Deferred posts (not dead letters: each is published once due).
    pub deferred: u64,
    /// When the first deferred post is due, in ms since the Unix epoch.
    pub next_due_ms: Option<u64>,
    /// When the last deferred post is due, in ms since the Unix epoch.
    pub deferred_until_ms: Option<u64>,
}

/// What a store says when a worker begins a business key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// Already published: here is the record.
    Published(PublishedRecord),
    /// Claimed for this worker until the lease ends: publish it.
    Claimed,
    /// Claimed for this worker, but deferred until `not_before_ms`: publish it if that time
    /// has come (by the caller's clock), else release the claim and send nothing.
    ClaimedDeferred(Deferral),
    /// Another worker holds a live lease on it.
    HeldByOther {
        /// How long until that lease ends.
        expires_in: Duration,
    },
}

/// A store failed, or refused a write that would break its promises.
#[derive(Debug, thiserror::Error)]
#[error("result store: {message}")]
pub struct StoreError {
    message: String,
    kind: StoreErrorKind,
}

/// What kind of [`StoreError`] it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not do it (unreachable, full, corrupt, …).
    Failed,
    /// This worker's claim lapsed and another worker holds the key now.
    LostClaim,
    /// The key is published: its record is never overwritten or dead-lettered.
    AlreadyPublished,
    /// The store could not be reached (a restart, a cut connection, a full pool): trying
    /// again shortly may work.
    Unavailable,
}

impl StoreError {
    /// A store failure, described by `message`.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError { message: message.into(), kind: StoreErrorKind::Failed }
    }

    /// A store that could not be reached; trying again shortly may work.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError { message: message.into(), kind: StoreErrorKind::Unavailable }
    }

    /// What kind of error it is.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// What went wrong.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A worker whose claim lapsed and went to another tried to renew it or record an outcome.
    pub fn lost_claim(business_key: &str) -> Self {
        let mut error = StoreError::new(format!(
            "the claim on {business_key:?} lapsed and another worker holds it now: this worker's outcome is not \
             recorded (the other worker finishes the post with the same idempotency key)"
        ));
        error.kind = StoreErrorKind::LostClaim;
        error
    }

    /// A dead letter refused because the key is published: a published record is never
    /// dead-lettered.
    pub fn already_published(business_key: &str) -> Self {
        let mut error = StoreError::new(format!(
            "{business_key:?} is published (by another publish): its failure here is not dead-lettered"
        ));
        error.kind = StoreErrorKind::AlreadyPublished;
        error
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::new(e.to_string())
    }
}

/// Where publish results and dead letters live.
#[async_trait::async_trait]
pub trait ResultStore: Send + Sync + 'static {
    /// Looks up `business_key`; unless it is published or held by another worker, claims it
    /// for `worker` for `lease`.
    async fn begin(&self, business_key: &str, worker: &str, lease: Duration) -> Result<Begin, StoreError>;
    /// Extends `worker`'s claim by `lease` from now (called while a publish runs, so that a
    /// long publish keeps its key); an error when the claim lapsed and went to another worker.
    async fn renew(&self, business_key: &str, worker: &str, lease: Duration) -> Result<(), StoreError>;
    /// The intent of `business_key` whose outcome is not recorded, if any.
    async fn intent(&self, business_key: &str) -> Result<Option<Intent>, StoreError>;
    /// Records an intent before the first send; an earlier intent for the key stands (the
    /// server's retention counts from the first request).
    async fn record_intent(&self, intent: &Intent) -> Result<(), StoreError>;
    /// Records `fresh` unless its key has an intent already, which is returned instead (and
    /// nothing written). An error means nothing was kept: this default reads, then records,
    /// and forgets what it recorded if the record's answer was lost; a store may do both in
    /// one round trip (SQLite does, in one transaction, so an error writes nothing).
    async fn note_intent(&self, fresh: &Intent) -> Result<Option<Intent>, StoreError> {
        if let Some(existing) = self.intent(&fresh.business_key).await? {
            return Ok(Some(existing));
        }
        match self.record_intent(fresh).await {
            Ok(()) => Ok(None),
            Err(e) => {
                // It may have landed with its answer lost: nothing will be sent, so it must not
                // stay to call this key's outcome unknown later.
                let _ = self.forget_intent(&fresh.business_key).await;
                Err(e)
            }
        }
    }
    /// Forgets an intent (the outcome is known, or a person checked the post); whether there
    /// was one.
    async fn forget_intent(&self, business_key: &str) -> Result<bool, StoreError>;
    /// Records a publish, removes any dead letter, deferral and intent for the key and
    /// releases the claim. A key
    /// already recorded keeps its first record: a published record is never overwritten (the
    /// same idempotency key means the same post).
    async fn record_published(&self, record: &PublishedRecord, worker: &str) -> Result<(), StoreError>;
    /// Records (or replaces) a dead letter, removes any deferral and releases the claim; refused (an error, nothing
    /// written) when the key is published or another worker holds its claim, so a worker whose
    /// claim lapsed never writes over another's outcome.
    async fn record_dead_letter(&self, letter: &DeadLetter, worker: &str) -> Result<(), StoreError>;
    /// Records (or replaces) a deferral, removes any dead letter for the key and releases the
    /// claim; refused like [`ResultStore::record_dead_letter`] (an error, nothing written)
    /// when the key is published or another worker holds its claim. A store that keeps no
    /// deferrals (this default) refuses every one, and the Publisher dead-letters the post
    /// `rate_limited` instead, as before deferrals existed.
    async fn record_deferral(&self, deferral: &Deferral, _worker: &str) -> Result<(), StoreError> {
        Err(StoreError::new(format!(
            "this store keeps no deferrals: {:?} is dead-lettered instead",
            deferral.business_key
        )))
    }
    /// Deferred posts in business-key order, after `after` (exclusive), at most `limit`
    /// (none, by default: see [`ResultStore::record_deferral`]).
    async fn deferrals(&self, _after: Option<&str>, _limit: usize) -> Result<Vec<Deferral>, StoreError> {
        Ok(Vec::new())
    }
    /// Releases `worker`'s claim without recording anything (after a cancellation).
    async fn release(&self, business_key: &str, worker: &str) -> Result<(), StoreError>;
    /// The record of a published business key.
    async fn published(&self, business_key: &str) -> Result<Option<PublishedRecord>, StoreError>;
    /// Dead letters in business-key order, after `after` (exclusive), at most `limit`.
    async fn dead_letters(&self, after: Option<&str>, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;
    /// Removes a dead letter; whether there was one.
    async fn remove_dead_letter(&self, business_key: &str) -> Result<bool, StoreError>;
    /// Counts.
    async fn counts(&self) -> Result<StoreCounts, StoreError>;
}

/// The current time in ms since the Unix epoch, for records.
pub(crate) fn now_ms() -> u64 {
    postato_core::Timestamp::from_system_time(std::time::SystemTime::now()).as_millis()
}
