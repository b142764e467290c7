//! `LocalOutbox`: a device's outbox for Kotlin and Swift. The app enqueues a post the moment it
//! has one (offline or not), and drains the outbox from Android WorkManager or an iOS
//! background task: `drain(deadlineMs)` publishes what is due within the deadline and answers
//! what it published, put back for later and dead-lettered. The rules are postato's
//! (`postato::LocalOutbox`); this file converts.

use std::sync::Arc;

use crate::client::{CancelHandle, Client};
use crate::errors::PostatoError;
use crate::runtime;
use crate::types::{PostInput, PublishedPost};

/// What an enqueue did.
#[derive(uniffi::Enum)]
pub enum Enqueued {
    /// The post is in the outbox: a drain publishes it.
    Enqueued,
    /// The same post was already enqueued (or published) under its business key: nothing changed.
    AlreadyEnqueued,
}

/// A post a drain published (or found published: `post.fromStore`).
#[derive(uniffi::Record)]
pub struct DrainedPost {
    pub business_key: String,
    pub post: PublishedPost,
}

/// Why a drain put a post back for later.
#[derive(uniffi::Enum)]
pub enum DeferReason {
    /// Its account's rate limit holds past what a publish waits: due when it lifts.
    RateLimited,
    /// A failure that may pass (the API or the network down): `error` says which.
    Failed,
    /// Another publish holds its business key.
    Held,
    /// Published, but not yet recorded: recorded by the next drain.
    Unrecorded,
}

/// A post a drain put back for later.
#[derive(uniffi::Record)]
pub struct DeferredPost {
    pub business_key: String,
    /// When it is due again, in ms since the Unix epoch.
    pub not_before_ms: u64,
    pub reason: DeferReason,
    /// The failure, for `FAILED`.
    pub error: Option<PostatoError>,
}

/// A post a drain dead-lettered (the store's dead letters keep it for a replay).
#[derive(uniffi::Record)]
pub struct FailedPost {
    pub business_key: String,
    pub error: PostatoError,
}

/// How many rows the outbox holds, by state.
#[derive(uniffi::Record)]
pub struct OutboxCounts {
    /// Waiting to be published (due or not).
    pub pending: u64,
    /// Of those, due now.
    pub due: u64,
    pub published: u64,
    pub dead_lettered: u64,
    /// When the next pending post that is not due yet is due, in ms since the Unix epoch:
    /// schedule the next drain for then.
    pub next_due_ms: Option<u64>,
}

/// What one `drain` did.
#[derive(uniffi::Record)]
pub struct DrainReport {
    pub published: Vec<DrainedPost>,
    pub deferred: Vec<DeferredPost>,
    pub dead_lettered: Vec<FailedPost>,
    /// Set when no post can be published until a setting or the API key is fixed: the drain
    /// stopped, and the posts wait (none is dead-lettered for it).
    pub blocked: Option<PostatoError>,
    /// Whether the deadline (or the cancel) ended the drain with posts still due: schedule
    /// another drain soon.
    pub stopped_early: bool,
    /// The outbox afterwards.
    pub counts: OutboxCounts,
}

/// A device's outbox in a SQLite file of postato's (not the app's own database: two SQLite
/// libraries in one process break each other's locks), its commits synced to the disk.
#[derive(uniffi::Object)]
pub struct LocalOutbox {
    outbox: postato_bindings::LocalOutbox,
}

#[uniffi::export]
impl LocalOutbox {
    /// The outbox in the file at `path` (created if needed; a `Store.sqlite` on the same path
    /// sees what it published), drained through `client`, `concurrency` posts at once (null:
    /// the default).
    #[uniffi::constructor(default(concurrency = None))]
    pub fn new(client: Arc<Client>, path: String, concurrency: Option<u32>) -> Result<Arc<Self>, PostatoError> {
        let _guard = runtime::enter();
        let outbox = postato_bindings::local_outbox(client.client.clone(), &path, concurrency.map(f64::from))?;
        Ok(Arc::new(LocalOutbox { outbox }))
    }

    /// Writes `post` into the outbox, published by a drain no earlier than `not_before_ms` (ms
    /// since the Unix epoch; null: at once): once this returns it survives the app being killed
    /// and a power loss. The same post again is a no-op (`ALREADY_ENQUEUED`), unless it was
    /// dead-lettered: then it is pending again (`ENQUEUED`). Another post under an enqueued
    /// business key throws `BusinessKeyReused`; an invalid post throws before anything is
    /// written.
    #[uniffi::method(default(not_before_ms = None))]
    pub async fn enqueue(&self, post: PostInput, not_before_ms: Option<u64>) -> Result<Enqueued, PostatoError> {
        let post = post.to_post()?;
        let outbox = self.outbox.clone();
        let enqueued = runtime::run(async move {
            postato_bindings::enqueue_local(&outbox, &post, not_before_ms.map(|ms| ms as f64)).await
        })
        .await
        .map_err(PostatoError::internal)??;
        Ok(match enqueued {
            postato_bindings::Enqueued::Enqueued => Enqueued::Enqueued,
            postato_bindings::Enqueued::AlreadyEnqueued => Enqueued::AlreadyEnqueued,
        })
    }

    /// Publishes the due posts until none is left, `deadline_ms` has passed or `cancel` fires
    /// (an iOS task's expiration handler): each is published, put back for later, or
    /// dead-lettered. At the deadline the publishes in flight are cancelled and their posts stay
    /// due, to be published once by a later drain. In Kotlin, cancelling the coroutine does the
    /// same; in Swift, pass `cancel` (a `Task`'s cancellation does not reach it).
    #[uniffi::method(default(cancel = None))]
    pub async fn drain(
        &self,
        deadline_ms: u64,
        cancel: Option<Arc<CancelHandle>>,
    ) -> Result<DrainReport, PostatoError> {
        let outbox = self.outbox.clone();
        let token = cancel.map(|c| c.token.clone()).unwrap_or_default();
        let drained = runtime::run(async move {
            postato_bindings::drain_local_outbox(
                &outbox,
                deadline_ms as f64,
                crate::types::PublishOptions::UNITS.0,
                &token,
            )
            .await
        })
        .await
        .map_err(PostatoError::internal)??;
        Ok(DrainReport::from(drained))
    }

    /// How many posts the outbox holds, by state.
    pub async fn counts(&self) -> Result<OutboxCounts, PostatoError> {
        let outbox = self.outbox.clone();
        let counts = runtime::run(async move { outbox.counts().await }).await.map_err(PostatoError::internal)??;
        Ok(OutboxCounts::from(counts))
    }
}

impl From<postato_bindings::OutboxCounts> for OutboxCounts {
    fn from(c: postato_bindings::OutboxCounts) -> Self {
        OutboxCounts {
            pending: c.pending,
            due: c.due,
            published: c.published,
            dead_lettered: c.dead_lettered,
            next_due_ms: c.next_due_ms,
        }
    }
}

impl From<postato_bindings::Drained> for DrainReport {
    fn from(d: postato_bindings::Drained) -> Self {
        use postato_bindings::PutBack;
        let deferred = d.deferred.into_iter().filter_map(|row| {
            let (reason, error) = match row.why {
                PutBack::Deferred => (DeferReason::RateLimited, None),
                PutBack::Failed(error) => (DeferReason::Failed, Some(error.into())),
                PutBack::Held => (DeferReason::Held, None),
                PutBack::Unrecorded => (DeferReason::Unrecorded, None),
                // A drain lists neither (its rows stay due, or the drain is `blocked`).
                PutBack::Cancelled | PutBack::Blocked(_) => return None,
            };
            Some(DeferredPost {
                business_key: row.business_key,
                not_before_ms: row.not_before.as_millis(),
                reason,
                error,
            })
        });
        DrainReport {
            published: d
                .published
                .into_iter()
                .map(|(business_key, report)| DrainedPost {
                    business_key,
                    post: PublishedPost::new(report.published, report.from_store),
                })
                .collect(),
            deferred: deferred.collect(),
            dead_lettered: d
                .dead_lettered
                .into_iter()
                .map(|(business_key, error)| FailedPost { business_key, error: error.into() })
                .collect(),
            blocked: d.blocked.map(Into::into),
            stopped_early: d.stopped_early,
            counts: d.counts.into(),
        }
    }
}
