//! `NativeClient`: the Rust client behind the JS `Client`. A publish may be given a cancel id;
//! `cancel(id)` (called by the wrapper on `abort`) ends it with nothing retried after.

use napi::bindgen_prelude::{AsyncBlock, AsyncBlockBuilder};
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi::{Env, Status};
use napi_derive::napi;
use postato_bindings::{parse_post, ClientDefaults, GivenCallOptions, GivenOptions, Units};
use postato_bindings::{
    CallOptions, CancellationToken, Client, HttpOptions, Notice, Post, PublishError, Published, Tally,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::errors::{error_json, publish_error};

/// The client's settings (times in ms); an absent setting takes its default.
#[napi(object)]
pub struct ClientOptions {
    /// Absent: `POSTATO_API_KEY`.
    pub api_key: Option<String>,
    /// Absent: `POSTATO_WORKSPACE_ID`.
    pub workspace_id: Option<String>,
    pub base_url: Option<String>,
    /// A file of CA certificates (PEM) to trust; absent: `POSTATO_CA_BUNDLE`.
    pub ca_bundle: Option<String>,
    /// Each bounded client setting given, by its Node name (`clientSettings()`): numbers, never
    /// wrapped to 32 bits; the bounds are checked in Rust.
    pub settings: Vec<(String, f64)>,
    pub fast_forward_waits: Option<bool>,
    pub language: Option<String>,
    /// Headers sent with every request, as `[name, value]` pairs.
    pub default_headers: Option<Vec<(String, String)>>,
    /// A proxy for every request; absent: `HTTPS_PROXY`/`HTTP_PROXY`.
    pub proxy: Option<String>,
    /// Gather metrics for the wrapper's OpenTelemetry instruments (`takeMetrics`).
    pub metrics: Option<bool>,
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
    pub request_id: Option<String>,
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
            "requestId": self.request_id,
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
            request_id: p.request_id,
        }
    }
}

/// The wrapper's event listener: called (without blocking a worker, and without keeping
/// Node alive) with a JSON event for each notice: a retry, a failed publish, a past schedule.
pub type EventListener = ThreadsafeFunction<String, (), String, Status, false, true>;

/// The JSON the wrapper's listener reads: `{"event": "retry", …}`, `{"event": "failed", …}` or
/// `{"event": "notice", …}`.
fn notice_json(notice: &Notice) -> Option<String> {
    let json = match notice {
        Notice::PastSchedule { business_key, message } => serde_json::json!({
            "event": "notice",
            "businessKey": business_key,
            "message": message,
        }),
        Notice::Retry(retry) => serde_json::json!({
            "event": "retry",
            "businessKey": retry.business_key,
            "attempt": retry.next_attempt,
            "delayMs": retry.delay.as_millis() as u64,
            "reason": retry.reason.to_string(),
            "status": retry.reason.status(),
        }),
        Notice::Failed { business_key, attempts, kind } => serde_json::json!({
            "event": "failed",
            "businessKey": business_key,
            "attempts": attempts,
            "kind": kind.as_str(),
        }),
        _ => return None,
    };
    Some(json.to_string())
}

fn build(o: ClientOptions, listener: Option<EventListener>, tally: Option<Arc<Tally>>) -> Result<Client, PublishError> {
    let given = GivenOptions {
        base_url: o.base_url,
        ca_bundle: o.ca_bundle,
        settings: o.settings,
        fast_forward_waits: o.fast_forward_waits,
        http: HttpOptions::new(o.default_headers.unwrap_or_default(), o.proxy),
        tally,
    };
    let language = o.language.unwrap_or_else(|| "node".into());
    let mut builder =
        postato_bindings::client_builder(o.api_key, o.workspace_id, given, (Units::Millis, |n| n.node), &language)?;
    if let Some(listener) = listener {
        builder = builder.on_notice(move |notice: &Notice| {
            if let Some(json) = notice_json(notice) {
                listener.call(json, ThreadsafeFunctionCallMode::NonBlocking);
            }
        });
    }
    napi::bindgen_prelude::within_runtime_if_available(|| builder.build())
}

/// The Node names and units of the per-call options.
pub(crate) const CALL: (Units, postato_bindings::Column) = (Units::Millis, |n| n.node);

/// Per-call options as given, by their Node names (`callSettings()`), times in ms; checked by
/// the client settings' rules.
pub(crate) fn call_options(call: Vec<(String, f64)>) -> napi::Result<CallOptions> {
    GivenCallOptions(call).resolve(CALL.0, CALL.1).map_err(|e| publish_error(&e))
}

/// Checks per-call options as `publish` would, for `Client.withOptions` (which checks them when
/// given).
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn check_call_options(call: Vec<(String, f64)>) -> napi::Result<()> {
    call_options(call).map(|_| ())
}

/// The per-call options' Node names (`deadlineMs`, `maxAttempts`, `timeoutMs`), for the
/// wrapper's publish calls.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn call_settings() -> Vec<String> {
    postato_bindings::call_settings(CALL.1, CALL.0).into_iter().map(|(name, _)| name.to_owned()).collect()
}

/// The metrics the process's clients gathered since the last call, as JSON
/// (`Tally::take_json`); null when none did.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn take_metrics() -> Option<String> {
    postato_bindings::process_tally().take_json()
}

/// Rust's metrics as the wrapper makes its OpenTelemetry instruments of them
/// (`metrics_table_json`).
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn metrics_table_json() -> String {
    postato_bindings::metrics_table_json()
}

/// The bounded client settings' Node names, for the wrapper's `Client`.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn client_settings() -> Vec<String> {
    postato_bindings::client_settings(|n| n.node, Units::Millis).into_iter().map(|(name, _)| name.to_owned()).collect()
}

/// The client's defaults keyed by the Node names (times in ms), for the wrapper's `DEFAULTS`.
#[cfg_attr(test, allow(dead_code))]
#[napi]
pub fn client_defaults_json() -> String {
    ClientDefaults::new(Units::Millis).json_in(|n| n.node, "baseUrl")
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

    pub(crate) fn register(&self, id: Option<u32>) -> (CancellationToken, CancelGuard) {
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
pub(crate) struct CancelGuard {
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
    /// `listener`, when given, is called with each notice (`notice_json`).
    #[napi(constructor)]
    pub fn new(
        options: ClientOptions,
        #[napi(ts_arg_type = "((eventJson: string) => void) | undefined | null")] listener: Option<EventListener>,
    ) -> napi::Result<Self> {
        let tally = options.metrics.unwrap_or(false).then(postato_bindings::process_tally);
        let client = build(options, listener, tally).map_err(|e| publish_error(&e))?;
        Ok(NativeClient { client, cancels: Cancels::default() })
    }

    /// Tokens left in the client's shared retry budget (`postato.retry_budget.tokens`).
    #[napi]
    pub fn retry_budget_tokens(&self) -> f64 {
        self.client.retry_budget_tokens()
    }

    /// Publishes; `cancel_id` lets `cancel(cancel_id)` end it, from the first tick; `call`
    /// holds this publish's own options (`call_options`).
    #[napi]
    pub fn publish(
        &self,
        env: &Env,
        post_json: String,
        cancel_id: Option<u32>,
        call: Vec<(String, f64)>,
    ) -> napi::Result<AsyncBlock<PublishedPost>> {
        let options = call_options(call)?;
        let client = self.client.clone();
        self.cancels.start(env, cancel_id, post_json, move |post, token| async move {
            let published = client.publish_with(&post).options(options).cancel_on(&token).await?;
            Ok(PublishedPost::new(published, false))
        })
    }

    /// Publishes many posts (one JSON each, or null for one the wrapper could not convert),
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
        let client = self.client.clone();
        let (token, guard) = self.cancels.register(cancel_id);
        AsyncBlockBuilder::new(async move {
            let _guard = guard;
            let results = postato_bindings::publish_many(
                &client,
                postato_bindings::parse_many(posts_json),
                &options.cancel(token),
            )
            .await
            .map_err(|e| publish_error(&e))?;
            Ok(many_json(results, |p| PublishedPost::new(p, false)))
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

/// The results of a `publish_many` as a JSON array in input order: `{"post": …}` (`post` makes
/// each result's), `{"error": …}`, or null for a null post.
pub fn many_json<R>(results: Vec<Option<Result<R, PublishError>>>, post: impl Fn(R) -> PublishedPost) -> String {
    let entries: Vec<serde_json::Value> = results
        .into_iter()
        .map(|result| match result {
            Some(Ok(result)) => serde_json::json!({ "post": post(result).to_json() }),
            Some(Err(e)) => serde_json::json!({ "error": error_json(&e) }),
            None => serde_json::Value::Null,
        })
        .collect();
    serde_json::Value::Array(entries).to_string()
}
