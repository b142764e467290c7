//! `Client`, `Store`, `Publisher` and `CancelHandle`. `publish` is async (`suspend fun` in
//! Kotlin, `async throws` in Swift); cancelling the Kotlin coroutine cancels the publish, and
//! so does `CancelHandle.cancel()` with `publishCancellable`. Cancelling a Swift `Task` does
//! not (uniffi's Swift async calls have no cancellation handler); the hand-written
//! `publishCancellingOnTaskCancel` in `swift/Sources/Postato/TaskCancellation.swift` does.

use postato_bindings::{CancellationToken, ResultStore};
use postato_bindings::{StoreLocation, Units};
use std::sync::Arc;

use crate::errors::PostatoError;
use crate::events::{self, RetryListener};
use crate::runtime;
use crate::types::{
    ClientOptions, DeadLetter, DueReport, MetricsTaken, PostInput, PublishOptions, PublishedPost, StoreCounts,
};

/// A cancellation handle for `publishCancellable`.
#[derive(uniffi::Object, Default)]
pub struct CancelHandle {
    pub(crate) token: CancellationToken,
}

#[uniffi::export]
impl CancelHandle {
    #[uniffi::constructor]
    pub fn new() -> Arc<Self> {
        Arc::new(CancelHandle::default())
    }

    /// Cancels the publish; nothing is retried after it.
    pub fn cancel(&self) {
        self.token.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// Publishes posts to one workspace.
#[derive(uniffi::Object)]
pub struct Client {
    pub(crate) client: postato_bindings::Client,
    /// The client's metrics, when its options ask for them (`metrics`).
    tally: Option<Arc<postato_bindings::Tally>>,
}

#[uniffi::export]
impl Client {
    /// A client for `workspace_id`. The API key never appears in messages or logs. A null
    /// `api_key`, `workspace_id` or `options.base_url` is read from `POSTATO_API_KEY`,
    /// `POSTATO_WORKSPACE_ID` or `POSTATO_BASE_URL`. `listener` is told of each retry.
    #[uniffi::constructor(default(listener = None))]
    pub fn new(
        api_key: Option<String>,
        workspace_id: Option<String>,
        options: ClientOptions,
        listener: Option<Arc<dyn RetryListener>>,
    ) -> Result<Arc<Self>, PostatoError> {
        let tally = options.metrics.unwrap_or(false).then(Arc::default);
        let mut given = options.given();
        given.tally = tally.clone();
        let mut builder =
            postato_bindings::client_builder(api_key, workspace_id, given, (Units::Millis, |n| n.kotlin), "uniffi")?;
        if let Some(listener) = listener {
            builder = builder.on_notice(events::hook(listener));
        }
        let _guard = runtime::enter();
        Ok(Arc::new(Client { client: builder.build()?, tally }))
    }

    /// The metrics gathered since the last call (counters' increases, waits); null when none
    /// did or the options did not ask for them (`metrics = true`).
    pub fn take_metrics(&self) -> Option<MetricsTaken> {
        self.tally.as_ref()?.take().map(MetricsTaken::from)
    }

    /// Tokens left in the client's shared retry budget (`postato.retry_budget.tokens`).
    pub fn retry_budget_tokens(&self) -> f64 {
        self.client.retry_budget_tokens()
    }

    pub fn workspace_id(&self) -> String {
        self.client.workspace_id().to_owned()
    }

    pub fn base_url(&self) -> String {
        self.client.base_url().to_owned()
    }

    /// Publishes one post, retrying per the policy with the same idempotency key; `options`
    /// (deadline, attempts, attempt timeout) are this publish's own.
    #[uniffi::method(default(options = None))]
    pub async fn publish(
        &self,
        post: PostInput,
        options: Option<PublishOptions>,
    ) -> Result<PublishedPost, PostatoError> {
        self.publish_cancellable(post, CancelHandle::new(), options).await
    }

    /// Like `publish`; `cancel.cancel()` ends it with `Cancelled`.
    #[uniffi::method(default(options = None))]
    pub async fn publish_cancellable(
        &self,
        post: PostInput,
        cancel: Arc<CancelHandle>,
        options: Option<PublishOptions>,
    ) -> Result<PublishedPost, PostatoError> {
        let options = PublishOptions::resolve(options)?;
        let post = post.to_post()?;
        let client = self.client.clone();
        let token = cancel.token.clone();
        let result = runtime::run(async move { client.publish_with(&post).options(options).cancel_on(&token).await })
            .await
            .map_err(PostatoError::internal)?;
        Ok(PublishedPost::new(result?, false))
    }

    /// Publishes every post, `concurrency` at once (null: `clientDefaults().concurrency`),
    /// each as `publish` would, sharing this client's gate and budget. One outcome per post,
    /// in input order; only an invalid `concurrency` throws. Cancelling the coroutine (or
    /// `cancel.cancel()`) stops the posts in flight and sends no more.
    #[uniffi::method(default(concurrency = None, cancel = None, options = None))]
    pub async fn publish_many(
        &self,
        posts: Vec<PostInput>,
        concurrency: Option<u32>,
        cancel: Option<Arc<CancelHandle>>,
        options: Option<PublishOptions>,
    ) -> Result<Vec<PublishOutcome>, PostatoError> {
        let call = options.unwrap_or_default().given();
        let options = postato_bindings::many_options(concurrency.map(f64::from), call, PublishOptions::UNITS)?
            .cancel(cancel.map(|c| c.token.clone()).unwrap_or_default());
        let posts = posts.iter().map(|post| Some(post.to_post())).collect();
        let client = self.client.clone();
        let results = runtime::run(async move { postato_bindings::publish_many(&client, posts, &options).await })
            .await
            .map_err(PostatoError::internal)??;
        Ok(outcomes(results, |post| PublishedPost::new(post, false)))
    }
}

/// Each post's outcome of a `publishMany`, in input order (`post` makes a result's post).
fn outcomes<R>(
    results: Vec<Option<Result<R, postato_bindings::PublishError>>>,
    post: impl Fn(R) -> PublishedPost,
) -> Vec<PublishOutcome> {
    results
        .into_iter()
        .map(|result| match result {
            Some(Ok(result)) => PublishOutcome::Published { post: post(result) },
            Some(Err(error)) => PublishOutcome::Failed { error: error.into() },
            // Every post was handed over: none comes back without its outcome.
            None => PublishOutcome::Failed { error: postato_bindings::PublishError::Cancelled { attempts: 0 }.into() },
        })
        .collect()
}

/// One post's outcome in `publishMany`.
#[derive(uniffi::Enum)]
pub enum PublishOutcome {
    Published { post: PublishedPost },
    Failed { error: PostatoError },
}

/// A result store: SQLite (the embedded default), memory, or PostgreSQL shared by many workers.
#[derive(uniffi::Object)]
pub struct Store {
    store: Arc<dyn ResultStore>,
}

impl Store {
    fn open(location: StoreLocation) -> Result<Arc<Self>, PostatoError> {
        let _guard = runtime::enter();
        Ok(Arc::new(Store { store: location.open().map_err(PostatoError::store)? }))
    }
}

#[uniffi::export]
impl Store {
    /// A SQLite store at `path`.
    #[uniffi::constructor]
    pub fn sqlite(path: String) -> Result<Arc<Self>, PostatoError> {
        let location = StoreLocation::Sqlite(path);
        location.check()?;
        Store::open(location)
    }

    /// A store in memory.
    #[uniffi::constructor]
    pub fn memory() -> Arc<Self> {
        Arc::new(Store { store: Arc::new(postato_bindings::MemoryStore::new()) })
    }

    /// A PostgreSQL store shared by many workers (connects on first use); a null `pool_size`
    /// is the default.
    #[uniffi::constructor(default(pool_size = None))]
    pub fn postgres(url: String, pool_size: Option<u32>) -> Result<Arc<Self>, PostatoError> {
        let pool_size = pool_size.map(|n| postato_bindings::pool_size(n.into())).transpose()?;
        Store::open(StoreLocation::Postgres { url, pool_size })
    }

    pub async fn counts(&self) -> Result<StoreCounts, PostatoError> {
        let store = Arc::clone(&self.store);
        let counts = runtime::run(async move { store.counts().await })
            .await
            .map_err(PostatoError::internal)?
            .map_err(PostatoError::store)?;
        Ok(StoreCounts {
            published: counts.published,
            dead_letters: counts.dead_letters,
            deferred: counts.deferred,
            next_due_ms: counts.next_due_ms,
            deferred_until_ms: counts.deferred_until_ms,
        })
    }

    /// At most `limit` dead letters (null: the default, `limit` in docs/settings.md).
    #[uniffi::method(default(limit = None))]
    pub async fn dead_letters(&self, limit: Option<u32>) -> Result<Vec<DeadLetter>, PostatoError> {
        let limit = postato_bindings::dead_letter_limit(limit.map(f64::from))?;
        let store = Arc::clone(&self.store);
        let letters = runtime::run(async move { store.dead_letters(None, limit).await })
            .await
            .map_err(PostatoError::internal)?
            .map_err(PostatoError::store)?;
        Ok(letters
            .into_iter()
            .map(|l| DeadLetter {
                business_key: l.business_key,
                kind: l.kind,
                status: l.status,
                message: l.message,
                attempts: l.attempts,
                failed_at_ms: l.failed_at_ms,
            })
            .collect())
    }

    pub async fn published_id(&self, business_key: String) -> Result<Option<String>, PostatoError> {
        let store = Arc::clone(&self.store);
        let record = runtime::run(async move { store.published(&business_key).await })
            .await
            .map_err(PostatoError::internal)?
            .map_err(PostatoError::store)?;
        Ok(record.map(|r| r.post_id))
    }
}

/// A client with a store: skips what was published, records results, defers or dead-letters
/// failures, and publishes many posts as a resumable batch.
#[derive(uniffi::Object)]
pub struct Publisher {
    publisher: postato_bindings::Publisher,
}

#[uniffi::export]
impl Publisher {
    /// `key_retention_ms`: how long the server keeps idempotency keys (null: the default).
    #[uniffi::constructor(default(key_retention_ms = None))]
    pub fn new(
        client: Arc<Client>,
        store: Arc<Store>,
        key_retention_ms: Option<u64>,
    ) -> Result<Arc<Self>, PostatoError> {
        let retention = key_retention_ms.map(|ms| ms as f64);
        let publisher =
            postato_bindings::publisher(client.client.clone(), Arc::clone(&store.store), retention, Units::Millis)?;
        Ok(Arc::new(Publisher { publisher }))
    }

    /// Publishes unless the store has it (then `fromStore` is true and nothing is sent).
    /// `force = true` sends a post whose earlier send's outcome is unknown
    /// (`PostatoException.OutcomeUnknown`): only after checking that the post does not exist.
    /// `options` (deadline, attempts, attempt timeout) are this publish's own, as for `Client.publish`.
    #[uniffi::method(default(force = false, options = None))]
    pub async fn publish(
        &self,
        post: PostInput,
        force: bool,
        options: Option<PublishOptions>,
    ) -> Result<PublishedPost, PostatoError> {
        self.publish_cancellable(post, CancelHandle::new(), force, options).await
    }

    /// Like `publish`, ending with `PostatoException.Cancelled` when `cancel` fires.
    #[uniffi::method(default(force = false, options = None))]
    pub async fn publish_cancellable(
        &self,
        post: PostInput,
        cancel: Arc<CancelHandle>,
        force: bool,
        options: Option<PublishOptions>,
    ) -> Result<PublishedPost, PostatoError> {
        let options = PublishOptions::resolve(options)?;
        let post = post.to_post()?;
        let publisher = self.publisher.clone();
        let token = cancel.token.clone();
        let report =
            runtime::run(async move { postato_bindings::publish(&publisher, &post, (options, &token), force).await })
                .await
                .map_err(PostatoError::internal)??;
        Ok(PublishedPost::new(report.published, report.from_store))
    }

    /// Publishes every post through the store, `concurrency` at once (null: the default), each
    /// as `publish` would (claimed, then recorded, deferred or dead-lettered); one outcome per
    /// post, in input order, as `Client.publishMany`'s. Running the same posts again resumes
    /// (what was published comes from the store, `fromStore`); the first post of a business
    /// key wins (the same post again shares its outcome; another post under its key fails with
    /// `BusinessKeyReused`). Cancelling the coroutine (or `cancel.cancel()`) stops the posts in
    /// flight, sends no more and releases every claim.
    #[uniffi::method(default(concurrency = None, cancel = None, options = None))]
    pub async fn publish_many(
        &self,
        posts: Vec<PostInput>,
        concurrency: Option<u32>,
        cancel: Option<Arc<CancelHandle>>,
        options: Option<PublishOptions>,
    ) -> Result<Vec<PublishOutcome>, PostatoError> {
        let call = options.unwrap_or_default().given();
        let options = postato_bindings::many_options(concurrency.map(f64::from), call, PublishOptions::UNITS)?
            .cancel(cancel.map(|c| c.token.clone()).unwrap_or_default());
        let posts = posts.iter().map(|post| Some(post.to_post())).collect();
        let publisher = self.publisher.clone();
        let results = runtime::run(async move { postato_bindings::publisher_many(&publisher, posts, &options).await })
            .await
            .map_err(PostatoError::internal)??;
        Ok(outcomes(results, |report| PublishedPost::new(report.published, report.from_store)))
    }

    /// Publishes the store's deferred posts whose time has come (`concurrency` at once; null:
    /// the default); the others stay deferred and nothing is sent for them. Call it from a
    /// timer (a WorkManager job, a scheduled executor), or at the report's `nextDueMs`.
    #[uniffi::method(default(concurrency = None))]
    pub async fn publish_due(&self, concurrency: Option<u32>) -> Result<DueReport, PostatoError> {
        let publisher = self.publisher.clone();
        let report =
            runtime::run(async move { postato_bindings::publish_due(&publisher, concurrency.map(f64::from)).await })
                .await
                .map_err(PostatoError::internal)??;
        Ok(DueReport {
            published: report.published,
            failed: report.failed,
            deferred: report.deferred,
            next_due_ms: report.next_due.map(|t| t.as_millis()),
        })
    }
}
