//! `NativeStore` (SQLite or memory) and `NativePublisher`, behind the JS `SqliteStore`,
//! `MemoryStore` and `Publisher`.

use napi::bindgen_prelude::{AsyncBlock, AsyncBlockBuilder, ClassInstance};
use napi::Env;
use napi_derive::napi;
use postato_bindings::{GivenCallOptions, OpenedOnFirstUse, StoreLocation, Units};
use postato_bindings::{Publisher, ResultStore};
use std::sync::Arc;

use crate::client::{call_options, many_json, Cancels, NativeClient, PublishedPost, CALL};
use crate::errors::{other, publish_error};

/// A result store: SQLite at `path`, or memory when `path` is absent.
#[napi]
pub struct NativeStore {
    store: Arc<dyn ResultStore>,
}

#[napi]
impl NativeStore {
    /// A SQLite file is opened on first use, on a blocking thread: opening may wait for
    /// another process's lock, which must not block the event loop.
    #[napi(constructor)]
    pub fn new(path: Option<String>) -> napi::Result<Self> {
        let store: Arc<dyn ResultStore> = match path {
            Some(path) => {
                let location = StoreLocation::Sqlite(path);
                location.check().map_err(|e| publish_error(&e))?;
                Arc::new(OpenedOnFirstUse::new(location))
            }
            None => StoreLocation::Memory.open().map_err(other)?,
        };
        Ok(NativeStore { store })
    }

    /// A PostgreSQL store shared by many workers (connects on first use); an absent
    /// `pool_size` is the default.
    #[napi(factory)]
    pub fn postgres(url: String, pool_size: Option<f64>) -> napi::Result<Self> {
        let pool_size = pool_size.map(postato_bindings::pool_size).transpose().map_err(|e| publish_error(&e))?;
        let location = StoreLocation::Postgres { url, pool_size };
        Ok(NativeStore { store: location.open().map_err(other)? })
    }

    /// Counts, as JSON (`published`, `deadLetters`, `deadLettersByKind`).
    #[napi]
    pub async fn counts_json(&self) -> napi::Result<String> {
        let counts = self.store.counts().await.map_err(other)?;
        Ok(serde_json::to_string(&counts).unwrap_or_default())
    }

    /// Dead letters, as a JSON array (camelCase); `limit` (absent: the default) within its bounds.
    #[napi]
    pub async fn dead_letters_json(&self, limit: Option<f64>) -> napi::Result<String> {
        let limit = postato_bindings::dead_letter_limit(limit).map_err(|e| publish_error(&e))?;
        let letters = self.store.dead_letters(None, limit).await.map_err(other)?;
        Ok(serde_json::to_string(&letters).unwrap_or_default())
    }

    /// The stored post id of a business key.
    #[napi]
    pub async fn published_id(&self, business_key: String) -> napi::Result<Option<String>> {
        Ok(self.store.published(&business_key).await.map_err(other)?.map(|r| r.post_id))
    }
}

/// A client with a store.
#[napi]
pub struct NativePublisher {
    publisher: Publisher,
    cancels: Cancels,
}

#[napi]
impl NativePublisher {
    /// `key_retention_ms`: how long the server keeps idempotency keys (absent: the default).
    #[napi(constructor)]
    pub fn new(
        client: ClassInstance<NativeClient>,
        store: ClassInstance<NativeStore>,
        key_retention_ms: Option<f64>,
    ) -> napi::Result<Self> {
        let publisher = postato_bindings::publisher(
            client.client.clone(),
            Arc::clone(&store.store),
            key_retention_ms,
            Units::Millis,
        )
        .map_err(|e| publish_error(&e))?;
        Ok(NativePublisher { publisher, cancels: Cancels::default() })
    }

    /// Publishes unless the store has it. Like `NativeClient::publish`, the cancel id is
    /// registered before the promise is returned.
    #[napi]
    pub fn publish(
        &self,
        env: &Env,
        post_json: String,
        cancel_id: Option<u32>,
        force: Option<bool>,
        call: Vec<(String, f64)>,
    ) -> napi::Result<AsyncBlock<PublishedPost>> {
        let options = call_options(call)?;
        let publisher = self.publisher.clone();
        self.cancels.start(env, cancel_id, post_json, move |post, token| async move {
            let report =
                postato_bindings::publish(&publisher, &post, (options, &token), force.unwrap_or(false)).await?;
            Ok(PublishedPost::new(report.published, report.from_store))
        })
    }

    /// Publishes the store's due deferred posts; the report as JSON (`published`, `failed`,
    /// `deferred`, `nextDueMs`).
    #[napi]
    pub async fn publish_due_json(&self, concurrency: Option<f64>) -> napi::Result<String> {
        let report =
            postato_bindings::publish_due(&self.publisher, concurrency).await.map_err(|e| publish_error(&e))?;
        Ok(serde_json::json!({
            "published": report.published,
            "failed": report.failed,
            "deferred": report.deferred,
            "nextDueMs": report.next_due.map(|t| t.as_millis()),
        })
        .to_string())
    }

    /// Publishes every post through the store (see `Publisher::publish_many` in Rust), at most
    /// `concurrency` at once; `cancel(cancel_id)` ends them all. Resolves to a JSON array in
    /// input order: `{"post": …}`, `{"error": …}`, or null for a null post.
    #[napi]
    pub fn publish_many(
        &self,
        env: &Env,
        posts_json: Vec<Option<String>>,
        concurrency: Option<f64>,
        cancel_id: Option<u32>,
        call: Vec<(String, f64)>,
    ) -> napi::Result<AsyncBlock<String>> {
        let options =
            postato_bindings::many_options(concurrency, GivenCallOptions(call), CALL).map_err(|e| publish_error(&e))?;
        let publisher = self.publisher.clone();
        let (token, guard) = self.cancels.register(cancel_id);
        AsyncBlockBuilder::new(async move {
            let _guard = guard;
            let posts = postato_bindings::parse_many(posts_json);
            let results = postato_bindings::publisher_many(&publisher, posts, &options.cancel(token))
                .await
                .map_err(|e| publish_error(&e))?;
            Ok(many_json(results, |report| PublishedPost::new(report.published, report.from_store)))
        })
        .build(env)
    }

    /// Cancels the publish (or batch) registered under `cancel_id`, if it is still running.
    #[napi]
    pub fn cancel(&self, cancel_id: u32) {
        self.cancels.cancel(cancel_id);
    }
}
