//! `NativeClient`: the Rust client behind the JS `Client`. A publish may be given a cancel id;
//! `cancel(id)` (called by the wrapper on `abort`) ends it with nothing retried after.

use napi::bindgen_prelude::{AsyncBlock, AsyncBlockBuilder};
use napi::Env;
use napi_derive::napi;
use postato::{CancellationToken, Client, Post, PublishError, Published};
use postato_ffi::{parse_post, ClientDefaults, GivenOptions, Units};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::errors::{error_json, publish_error};

/// The client's settings (times in ms); an absent setting takes its default.
#[napi(object)]
pub struct ClientOptions {
    pub api_key: String,
    pub workspace_id: String,
    pub base_url: Option<String>,
    /// A number (never wrapped to 32 bits): the bounds are checked in Rust.
    pub max_attempts: Option<f64>,
    pub timeout_ms: Option<f64>,
    pub connect_timeout_ms: Option<f64>,
    pub backoff_base_ms: Option<f64>,
    pub backoff_cap_ms: Option<f64>,
    pub deadline_ms: Option<f64>,
    pub max_rate_limit_waits: Option<f64>,
    pub max_retry_after_ms: Option<f64>,
    pub fast_forward_waits: Option<bool>,
    pub language: Option<String>,
}

/// A published post.
#[napi(object)]
pub struct PublishedPost {
    pub id: String,
    pub status: String,
    pub idempotency_key: String,
    pub attempts: u32,
    pub replayed: bool,
    pub from_store: bool,
}

impl PublishedPost {
    /// The fields as the JS `Post` reads them (camelCase, as napi converts the object).
    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "status": self.status,
            "idempotencyKey": self.idempotency_key,
            "attempts": self.attempts,
            "replayed": self.replayed,
            "fromStore": self.from_store,
        })
    }

    pub fn new(p: Published, from_store: bool) -> Self {
        PublishedPost {
            id: p.id,
            status: p.status,
            idempotency_key: p.idempotency_key,
            attempts: p.attempts,
            replayed: p.replayed,
            from_store,
        }
    }
}

fn build(o: ClientOptions) -> Result<Client, PublishError> {
    let given = GivenOptions {
        base_url: o.base_url,
        max_attempts: o.max_attempts,
        timeout: o.timeout_ms,
        connect_timeout: o.connect_timeout_ms,
        backoff_base: o.backoff_base_ms,
        backoff_cap: o.backoff_cap_ms,
        deadline: o.deadline_ms,
        max_rate_limit_waits: o.max_rate_limit_waits,
        max_retry_after: o.max_retry_after_ms,
        fast_forward_waits: o.fast_forward_waits,
    };
    let builder = given.resolve(Units::Millis)?.apply(
        Client::builder()
            .api_key(o.api_key)
            .workspace_id(o.workspace_id)
            .language(o.language.unwrap_or_else(|| "node".into())),
    );
    napi::bindgen_prelude::within_runtime_if_available(|| builder.build())
}

/// The client's defaults (times in ms), for the wrapper's `DEFAULTS`.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn client_defaults_json() -> String {
    serde_json::to_string(&ClientDefaults::new(Units::Millis)).unwrap_or_default()
}

/// Cancellation tokens of publishes in flight, by the wrapper's cancel id. A publish registers
/// its token synchronously, inside the call that starts it, and its `CancelGuard` (owned by
/// the publish's future) removes it when the publish ends or its future is dropped.
#[derive(Clone, Default)]
pub struct Cancels(Arc<Mutex<HashMap<u32, CancellationToken>>>);

impl Cancels {
    /// Starts a publish of the post in `post_json` as a promise: its cancel id is registered
    /// before the promise is returned (not when the runtime first polls the publish), so a
    /// `cancel` on the very next line still ends it; the id is forgotten when it ends.
    pub fn start<F, Fut>(
        &self,
        env: &Env,
        cancel_id: Option<u32>,
        post_json: String,
        publish: F,
    ) -> napi::Result<AsyncBlock<PublishedPost>>
    where
        F: FnOnce(Post, CancellationToken) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<PublishedPost, PublishError>> + Send + 'static,
    {
        let (token, guard) = self.register(cancel_id);
        AsyncBlockBuilder::new(async move {
            let _guard = guard;
            let post = parse_post(&post_json).map_err(|e| publish_error(&e))?;
            publish(post, token).await.map_err(|e| publish_error(&e))
        })
        .build(env)
    }

    fn register(&self, id: Option<u32>) -> (CancellationToken, CancelGuard) {
        let token = CancellationToken::new();
        if let Some(id) = id {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(id, token.clone());
        }
        (token, CancelGuard { cancels: self.clone(), id })
    }

    pub fn cancel(&self, id: u32) {
        if let Some(token) = self.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&id) {
            token.cancel();
        }
    }
}

/// Forgets a publish's token when it ends.
struct CancelGuard {
    cancels: Cancels,
    id: Option<u32>,
}

impl Drop for CancelGuard {
    fn drop(&mut self) {
        if let Some(id) = self.id {
            self.cancels.0.lock().unwrap_or_else(|p| p.into_inner()).remove(&id);
        }
    }
}

/// The Rust client for one workspace.
#[napi]
pub struct NativeClient {
    pub(crate) client: Client,
    pub(crate) cancels: Cancels,
}

#[napi]
impl NativeClient {
    #[napi(constructor)]
    pub fn new(options: ClientOptions) -> napi::Result<Self> {
        Ok(NativeClient { client: build(options).map_err(|e| publish_error(&e))?, cancels: Cancels::default() })
    }

    /// Publishes; `cancel_id` lets `cancel(cancel_id)` end it, from the first tick.
    #[napi]
    pub fn publish(
        &self,
        env: &Env,
        post_json: String,
        cancel_id: Option<u32>,
    ) -> napi::Result<AsyncBlock<PublishedPost>> {
        let client = self.client.clone();
        self.cancels.start(env, cancel_id, post_json, move |post, token| async move {
            Ok(PublishedPost::new(client.publish_with_cancel(&post, &token).await?, false))
        })
    }

    /// Publishes many posts (one JSON each), `concurrency` at once; `cancel(cancel_id)` ends
    /// them all. Resolves to a JSON array in input order: `{"post": …}` or `{"error": …}`.
    #[napi]
    pub fn publish_many(
        &self,
        env: &Env,
        posts_json: Vec<String>,
        concurrency: Option<f64>,
        cancel_id: Option<u32>,
    ) -> napi::Result<AsyncBlock<String>> {
        let options = postato_ffi::many_options(concurrency).map_err(|e| publish_error(&e))?;
        let client = self.client.clone();
        let (token, guard) = self.cancels.register(cancel_id);
        AsyncBlockBuilder::new(async move {
            let _guard = guard;
            let results = postato_ffi::publish_many(&client, &posts_json, &options.cancel(token))
                .await
                .map_err(|e| publish_error(&e))?;
            let entries: Vec<serde_json::Value> = results
                .iter()
                .map(|result| match result {
                    Ok(p) => serde_json::json!({ "post": PublishedPost::new(p.clone(), false).to_json() }),
                    Err(e) => serde_json::json!({ "error": error_json(e) }),
                })
                .collect();
            Ok(serde_json::Value::Array(entries).to_string())
        })
        .build(env)
    }

    /// Cancels the publish registered under `cancel_id`, if it is still running.
    #[napi]
    pub fn cancel(&self, cancel_id: u32) {
        self.cancels.cancel(cancel_id);
    }

    #[napi(getter)]
    pub fn workspace_id(&self) -> String {
        self.client.workspace_id().to_owned()
    }

    #[napi(getter)]
    pub fn base_url(&self) -> String {
        self.client.base_url().to_owned()
    }
}
