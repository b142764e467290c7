//! [`Client`]: publishes posts by driving the core's machine over a transport, with
//! rate-limit gates (one per account scope, one for the workspace) and a retry budget shared
//! by all its publishes. It decides nothing itself.

use postato_core::{
    drive, ApiKey, Event, GateSnapshot, LimitsSnapshot, Post, PublishError, PublishMachine, Published, Request,
    RequestParts, RetryBudgetConfig, RetryPolicy, Scope, SharedLimits, Transport, ValidationError,
};
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use tokio_util::sync::CancellationToken;

use crate::builder::ClientBuilder;
use crate::call::{CallOptions, PublishCall};
use crate::clock::ClientClock;
use crate::metrics::Metrics;
use crate::observe::{observe, Hooks};
use crate::spans::{Endpoint, PublishSpans};
use crate::transport::ReqwestTransport;

pub(crate) struct ClientConfig {
    pub api_key: ApiKey,
    pub workspace_id: String,
    pub base_url: String,
    pub policy: RetryPolicy,
    pub language: String,
    pub seed: Option<u64>,
    pub fast_forward_waits: bool,
    pub hooks: Hooks,
    pub metrics: Option<Arc<dyn Metrics>>,
}

struct Inner<T> {
    config: ClientConfig,
    transport: T,
    clock: ClientClock,
    limits: SharedLimits,
    seed: u64,
    publishes: AtomicU64,
    /// Where requests go, for the attempt spans.
    endpoint: Endpoint,
    /// What every request shares (path, headers), built once; or why the workspace id or API
    /// key cannot make one, reported by each publish after its post's own checks.
    parts: Result<Arc<RequestParts>, ValidationError>,
}

/// Publishes posts to one workspace. Cheap to clone: clones share the connection pool, the
/// rate-limit gate and the retry budget. Its `Debug` output never shows the API key.
pub struct Client<T = ReqwestTransport> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Client<T> {
    fn clone(&self) -> Self {
        Client { inner: Arc::clone(&self.inner) }
    }
}

impl<T> std::fmt::Debug for Client<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let c = &self.inner.config;
        f.debug_struct("Client")
            .field("api_key", &c.api_key)
            .field("workspace_id", &c.workspace_id)
            .field("base_url", &c.base_url)
            .field("policy", &c.policy)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts building a client.
    pub fn builder() -> ClientBuilder {
        ClientBuilder::default()
    }

    /// Starts building a client from the environment (see [`ClientBuilder::from_env`]).
    pub fn builder_from_env() -> Result<ClientBuilder, PublishError> {
        ClientBuilder::from_env()
    }
}

impl<T: Transport> Client<T> {
    pub(crate) fn from_parts(config: ClientConfig, budget: RetryBudgetConfig, transport: T) -> Self {
        let seed = config.seed.unwrap_or_else(|| RandomState::new().build_hasher().finish());
        let limits = SharedLimits::with_default_retry_after(budget, config.policy.default_retry_after);
        Client {
            inner: Arc::new(Inner {
                clock: ClientClock::new(config.fast_forward_waits),
                endpoint: Endpoint::new(&config.base_url, &config.workspace_id),
                parts: RequestParts::new(&config.workspace_id, &config.api_key, &config.language).map(Arc::new),
                config,
                transport,
                limits,
                seed,
                publishes: AtomicU64::new(0),
            }),
        }
    }

    /// The workspace this client publishes into.
    pub fn workspace_id(&self) -> &str {
        &self.inner.config.workspace_id
    }

    /// The base URL.
    pub fn base_url(&self) -> &str {
        &self.inner.config.base_url
    }

    /// The retry policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.inner.config.policy
    }

    /// Counts a dead letter of `kind` in the client's metrics (if it has any): called by the
    /// Publisher, and by whoever records a dead letter of its own (the CLI, for a campaign line
    /// that is not a post).
    pub fn count_dead_letter(&self, kind: &str) {
        if let Some(metrics) = &self.inner.config.metrics {
            metrics.add(crate::metrics::DEAD_LETTERS, 1, Some(kind));
        }
    }

    /// Tokens left in the shared retry budget.
    pub fn retry_budget_tokens(&self) -> f64 {
        self.inner.limits.budget_tokens()
    }

    /// Reports the retry budget's tokens as the gauge `postato.retry_budget.tokens` of `meter`,
    /// for as long as the client lives.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn observe_budget(&self, meter: &opentelemetry::metrics::Meter)
    where
        T: 'static,
    {
        let Some(info) = crate::metrics::METRICS.iter().find(|m| m.name == crate::metrics::RETRY_BUDGET_TOKENS) else {
            return;
        };
        let inner = Arc::downgrade(&self.inner);
        meter
            .f64_observable_gauge(info.name)
            .with_unit(info.unit)
            .with_description(info.help)
            .with_callback(move |gauge| {
                if let Some(inner) = inner.upgrade() {
                    gauge.observe(inner.limits.budget_tokens(), &[]);
                }
            })
            .build();
    }

    /// What the workspace's rate-limit gate and the retry budget know now: a hold, the pacing
    /// rate, requests in flight, budget tokens, how many account scopes are kept.
    pub fn limits_snapshot(&self) -> LimitsSnapshot {
        self.inner.limits.snapshot(postato_core::Clock::now(&self.inner.clock))
    }

    /// What the rate-limit gate of one account scope knows now (`None`: it holds nothing,
    /// never met or idle and forgotten). Each account's limits are its own: a hold learned for
    /// one never delays another's posts.
    pub fn scope_snapshot(&self, scope: &Scope) -> Option<GateSnapshot> {
        self.inner.limits.scope_snapshot(scope, postato_core::Clock::now(&self.inner.clock))
    }

    /// The client's time in ms since the Unix epoch: the wall clock read once, advanced by
    /// tokio's monotonic clock (so a paused test clock moves it too).
    pub(crate) fn now_ms(&self) -> u64 {
        self.now().as_millis()
    }

    /// Whether waits take no time (tests): the client's clock then runs ahead of the wall's.
    pub(crate) fn fast_forwards_waits(&self) -> bool {
        self.inner.config.fast_forward_waits
    }

    /// The client's clock: the wall clock read once, advanced by tokio's monotonic clock. A
    /// deferred post's `retry_at` is on this clock, so a caller waiting for it reads this one.
    pub fn now(&self) -> postato_core::Timestamp {
        postato_core::Clock::now(&self.inner.clock)
    }

    /// Builds the request for `post` (validating it): what every attempt sends.
    pub fn request_for(&self, post: &Post) -> Result<Request, PublishError> {
        match &self.inner.parts {
            Ok(parts) => Ok(Request::with_parts(post, Arc::clone(parts))?),
            Err(unusable) => {
                post.validate()?;
                Err(unusable.clone().into())
            }
        }
    }

    /// The retry policy of one publish: the client's, with `options` over it, checked as the
    /// client's settings are (an option outside its bounds is an `InvalidInput` naming it).
    pub(crate) fn policy_for(&self, options: &CallOptions) -> Result<RetryPolicy, PublishError> {
        let policy = &self.inner.config.policy;
        match options.is_empty() {
            true => Ok(policy.clone()),
            false => options.policy(policy),
        }
    }

    /// Publishes `post`, retrying per the policy with the same idempotency key. An invalid
    /// post fails with `InvalidInput` before any request. Dropping the future cancels the
    /// publish: nothing more is sent.
    pub async fn publish(&self, post: &Post) -> Result<Published, PublishError> {
        self.publish_with(post).send().await
    }

    /// A publish with options of its own:
    /// `client.publish_with(&post).deadline(d).cancel_on(&token).await` (see [`PublishCall`]).
    pub fn publish_with<'a>(&'a self, post: &'a Post) -> PublishCall<'a, T> {
        PublishCall::new(self, post)
    }

    /// Publishes `post`'s prepared request (see [`Client::request_for`]) under `policy` (from
    /// [`Client::policy_for`]), counting in `refusals` the requests the server never processed
    /// (answered 429, or never connected): a [`Publisher`](crate::Publisher) whose every
    /// request was so knows that none of them published it. A post scheduled
    /// in the past is noticed here, once, as its first request goes out (a `tracing` warning
    /// and a [`Notice::PastSchedule`](crate::Notice)).
    pub(crate) async fn publish_counting_refusals(
        &self,
        post: &Post,
        request: Request,
        policy: RetryPolicy,
        cancel: Option<&CancellationToken>,
        refusals: &AtomicU32,
    ) -> Result<Published, PublishError> {
        let inner = &*self.inner;
        let business_key = post.business_key.as_str();
        let mut past_schedule = post.schedule_notice(self.now_ms());
        let n = inner.publishes.fetch_add(1, Ordering::Relaxed);
        let seed = inner.seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let machine = PublishMachine::new(request, policy, seed, postato_core::Clock::now(&inner.clock));
        let attempts = AtomicU32::new(0);
        let mut spans = PublishSpans::new(business_key, inner.config.workspace_id.as_str(), &inner.endpoint);
        let span = spans.publish().clone();
        let on_event = |event: &Event| {
            match event {
                Event::AttemptStarted { attempt, .. } => {
                    attempts.store(*attempt, Ordering::Relaxed);
                    if let Some(message) = past_schedule.take() {
                        crate::observe::schedule_notice(business_key, message, &inner.config.hooks);
                    }
                }
                // Never processed: refused before the server looked, or never connected.
                Event::ResponseClassified { status: 429, .. }
                | Event::TransportFailed { kind: postato_core::TransportFailureKind::Connect, .. } => {
                    refusals.fetch_add(1, Ordering::Relaxed);
                }
                _ => {}
            }
            spans.on_event(event);
            // The log events and hooks run in the publish span (when a subscriber wants it):
            // entered once per event, not on every poll of the publish.
            let _in_span = (!spans.publish().is_disabled()).then(|| spans.publish().enter());
            let c = &inner.config;
            observe(business_key, event, &c.hooks, c.metrics.as_deref());
        };
        // The publish span is not entered on every poll of the run (entering costs a subscriber
        // more than the span itself): its attempt and wait spans name it as their parent.
        let run = drive(machine, &inner.transport, &inner.clock, Some(&inner.limits), on_event);
        // With no token, the publish is the only future: nothing to register per poll.
        let Some(cancel) = cancel else { return run.await };
        tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                let attempts = attempts.load(Ordering::Relaxed);
                tracing::info!(parent: &span, business_key, attempts, "postato: publish cancelled");
                Err(PublishError::Cancelled { attempts })
            }
            result = run => result,
        }
    }
}
