//! Records crossing the boundary: client options, the post, the published post, store
//! counts, dead letters; and their conversion to the core's types.

use postato_bindings::{Column, GivenCallOptions, GivenOptions, Units};
use postato_bindings::{Content as CoreContent, Media as CoreMedia, Post, PostStatus, ThreadItem as CoreItem};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Client settings (times in ms); every one left null takes its default (`clientDefaults()`).
/// The API key is a separate constructor argument, so that no generated `toString` can print it.
#[derive(uniffi::Record, Default)]
pub struct ClientOptions {
    /// Default: the production API.
    #[uniffi(default = None)]
    pub base_url: Option<String>,
    #[uniffi(default = None)]
    pub max_attempts: Option<u32>,
    #[uniffi(default = None)]
    pub timeout_ms: Option<u64>,
    #[uniffi(default = None)]
    pub connect_timeout_ms: Option<u64>,
    #[uniffi(default = None)]
    pub backoff_base_ms: Option<u64>,
    #[uniffi(default = None)]
    pub backoff_cap_ms: Option<u64>,
    /// Default: none.
    #[uniffi(default = None)]
    pub deadline_ms: Option<u64>,
    #[uniffi(default = None)]
    pub max_rate_limit_waits: Option<u32>,
    #[uniffi(default = None)]
    pub max_retry_after_ms: Option<u64>,
    /// For tests: waits advance a virtual clock instead of sleeping.
    #[uniffi(default = None)]
    pub fast_forward_waits: Option<bool>,
    /// A file of CA certificates (PEM) to trust beside the built-in roots and `SSL_CERT_FILE`
    /// (last, so that constructors written positionally before it keep their meaning).
    #[uniffi(default = None)]
    pub ca_bundle: Option<String>,
    /// Headers sent with every request and a proxy (`HttpOptions`): an object, so that the
    /// generated `toString` of these options prints none of their values.
    #[uniffi(default = None)]
    pub http: Option<Arc<HttpOptions>>,
    /// Gather the client's metrics for `Client.takeMetrics` (and `PostatoMetrics` in Kotlin).
    #[uniffi(default = None)]
    pub metrics: Option<bool>,
}

/// Headers sent with every request (a tenant or tracing header of your own; a `User-Agent`
/// goes before postato's) and a proxy for every request (`http://` or `https://`, credentials
/// in the URL; null: `HTTPS_PROXY`/`HTTP_PROXY`). `Authorization`, `Idempotency-Key`,
/// `Content-Type` and the headers that frame a request are postato's: the client refuses them
/// when built. Its `toString` shows no value.
#[derive(uniffi::Object)]
pub struct HttpOptions(postato_bindings::HttpOptions);

#[uniffi::export]
impl HttpOptions {
    #[uniffi::constructor(default(default_headers = None, proxy = None))]
    pub fn new(default_headers: Option<HashMap<String, String>>, proxy: Option<String>) -> Arc<Self> {
        // Sorted, so that an error names the same header on every run.
        let headers = default_headers.unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>().into_iter().collect();
        Arc::new(HttpOptions(postato_bindings::HttpOptions::new(headers, proxy)))
    }
}

impl ClientOptions {
    /// The options as the shared FFI layer takes them.
    pub fn given(self) -> GivenOptions {
        // Each field under its Kotlin and Swift name, the settings table's (a test in
        // kotlin/ checks that every setting of the table is a field here).
        let settings = [
            ("maxAttempts", self.max_attempts.map(f64::from)),
            ("timeoutMs", self.timeout_ms.map(|ms| ms as f64)),
            ("connectTimeoutMs", self.connect_timeout_ms.map(|ms| ms as f64)),
            ("backoffBaseMs", self.backoff_base_ms.map(|ms| ms as f64)),
            ("backoffCapMs", self.backoff_cap_ms.map(|ms| ms as f64)),
            ("deadlineMs", self.deadline_ms.map(|ms| ms as f64)),
            ("maxRateLimitWaits", self.max_rate_limit_waits.map(f64::from)),
            ("maxRetryAfterMs", self.max_retry_after_ms.map(|ms| ms as f64)),
        ];
        GivenOptions {
            base_url: self.base_url,
            ca_bundle: self.ca_bundle,
            settings: settings.into_iter().filter_map(|(name, value)| Some((name.to_owned(), value?))).collect(),
            fast_forward_waits: self.fast_forward_waits,
            http: self.http.map(|http| http.0.clone()).unwrap_or_default(),
            tally: None,
        }
    }
}

/// Options for one publish (times in ms); null: the client's. Checked by the rules of the
/// client's settings of the same names.
#[derive(uniffi::Record, Default, Clone, Copy)]
pub struct PublishOptions {
    /// A limit on this whole publish, waits included.
    #[uniffi(default = None)]
    pub deadline_ms: Option<u64>,
    /// Attempts that may end in a retryable failure, for this publish.
    #[uniffi(default = None)]
    pub max_attempts: Option<u32>,
    /// The limit on each attempt of this publish, from sending to the end of the response
    /// (last, so that constructors written positionally before it keep their meaning).
    #[uniffi(default = None)]
    pub timeout_ms: Option<u64>,
}

impl PublishOptions {
    /// The Kotlin and Swift names and units of the per-call options.
    pub const UNITS: (Units, Column) = (Units::Millis, |n| n.kotlin);

    /// The options as the shared FFI layer takes them, each under its Kotlin and Swift name
    /// (the settings table's; `SettingsTest` in kotlin/ checks `callSettings()` against these fields).
    pub fn given(self) -> GivenCallOptions {
        let options = [
            ("deadlineMs", self.deadline_ms.map(|ms| ms as f64)),
            ("maxAttempts", self.max_attempts.map(f64::from)),
            ("timeoutMs", self.timeout_ms.map(|ms| ms as f64)),
        ];
        GivenCallOptions(options.into_iter().filter_map(|(name, value)| Some((name.to_owned(), value?))).collect())
    }

    /// The options, checked by the rules of the client's settings of the same names.
    pub fn resolve(options: Option<Self>) -> Result<postato_bindings::CallOptions, postato_bindings::PublishError> {
        options.unwrap_or_default().given().resolve(Self::UNITS.0, Self::UNITS.1)
    }
}

/// The default of every client setting, from the Rust client (times in ms).
#[derive(uniffi::Record)]
pub struct ClientDefaults {
    pub base_url: String,
    pub max_attempts: u32,
    pub timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    pub deadline_ms: Option<u64>,
    pub max_rate_limit_waits: u32,
    pub max_retry_after_ms: u64,
    /// Posts in flight at once in `publish_many`.
    pub concurrency: u32,
}

impl From<postato_bindings::ClientDefaults> for ClientDefaults {
    fn from(d: postato_bindings::ClientDefaults) -> Self {
        ClientDefaults {
            base_url: d.base_url,
            max_attempts: d.max_attempts,
            timeout_ms: d.timeout as u64,
            connect_timeout_ms: d.connect_timeout as u64,
            backoff_base_ms: d.backoff_base as u64,
            backoff_cap_ms: d.backoff_cap as u64,
            deadline_ms: d.deadline.map(|ms| ms as u64),
            max_rate_limit_waits: d.max_rate_limit_waits,
            max_retry_after_ms: d.max_retry_after as u64,
            concurrency: d.concurrency,
        }
    }
}

/// Uploaded media, by id.
#[derive(uniffi::Record)]
pub struct Media {
    pub id: String,
}

/// One item of a thread.
#[derive(uniffi::Record)]
pub struct ThreadItem {
    pub text: String,
    #[uniffi(default = None)]
    pub media: Option<Vec<Media>>,
}

/// A post's content.
#[derive(uniffi::Enum)]
pub enum Content {
    Text { text: String },
    Thread { items: Vec<ThreadItem> },
}

/// The post to publish.
#[derive(uniffi::Record)]
pub struct PostInput {
    /// Your stable id for this logical post; the idempotency key derives from it.
    pub business_key: String,
    pub platform: String,
    pub account_id: String,
    pub content: Content,
    /// `publish`, `scheduled` or `draft`; null: `scheduled` with a `scheduled_at`, else
    /// `publish` (`publish` with a `scheduled_at` is refused: it would publish at once).
    #[uniffi(default = None)]
    pub status: Option<String>,
    #[uniffi(default = "post")]
    pub post_type: String,
    /// RFC 3339, such as `2026-12-01T09:00:00Z`; implies status `scheduled`.
    #[uniffi(default = None)]
    pub scheduled_at: Option<String>,
}

impl PostInput {
    pub fn to_post(&self) -> Result<Post, postato_bindings::PublishError> {
        let content = match &self.content {
            Content::Text { text } => CoreContent::Text(text.clone()),
            Content::Thread { items } => CoreContent::Thread(
                items
                    .iter()
                    .map(|i| CoreItem {
                        text: i.text.clone(),
                        media: i.media.as_ref().map(|m| m.iter().map(|m| CoreMedia { id: m.id.clone() }).collect()),
                    })
                    .collect(),
            ),
        };
        let scheduled_at = self.scheduled_at.as_deref().map(postato_bindings::parse_timestamp).transpose()?;
        let status = match &self.status {
            Some(status) => status.parse::<PostStatus>()?,
            None => PostStatus::implied(scheduled_at.is_some()),
        };
        let mut post =
            Post::new(&self.business_key, &self.platform, &self.account_id, status, &self.post_type, content);
        post.scheduled_at = scheduled_at;
        post.validate()?;
        Ok(post)
    }
}

/// A published post.
#[derive(uniffi::Record)]
pub struct PublishedPost {
    pub id: String,
    pub status: String,
    pub idempotency_key: String,
    pub attempts: u32,
    pub replayed: bool,
    /// True when a Publisher answered from its store (no request was made).
    pub from_store: bool,
    /// The server's id for the request that published it (`X-Request-Id`); null when it sent
    /// none or the store answered.
    pub request_id: Option<String>,
}

impl PublishedPost {
    pub fn new(p: postato_bindings::Published, from_store: bool) -> Self {
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

/// Counts in a store.
#[derive(uniffi::Record)]
pub struct StoreCounts {
    pub published: u64,
    pub dead_letters: u64,
    /// Deferred posts (not dead letters: each is published once due).
    pub deferred: u64,
    /// When the first deferred post is due, in ms since the Unix epoch.
    pub next_due_ms: Option<u64>,
    /// When the last deferred post is due, in ms since the Unix epoch.
    pub deferred_until_ms: Option<u64>,
}

/// What `Publisher.publishDue` did.
#[derive(uniffi::Record)]
pub struct DueReport {
    /// Due posts published now (or found published).
    pub published: u64,
    /// Due posts that failed (dead-lettered).
    pub failed: u64,
    /// Posts still deferred: not due yet, or deferred again.
    pub deferred: u64,
    /// When the next of them is due, in ms since the Unix epoch.
    pub next_due_ms: Option<u64>,
}

/// A post that could not be published.
#[derive(uniffi::Record)]
pub struct DeadLetter {
    pub business_key: String,
    pub kind: String,
    pub status: Option<u16>,
    pub message: String,
    pub attempts: u32,
    pub failed_at_ms: u64,
}

/// A counter's increase since the last take, with its label's value (`reason`, `outcome`,
/// `kind`) when it has one.
#[derive(uniffi::Record)]
pub struct MetricCount {
    pub name: String,
    pub label: Option<String>,
    pub increase: u64,
}

/// One wait before an attempt, for the histogram `postato.wait.duration`.
#[derive(uniffi::Record)]
pub struct MetricWait {
    pub reason: String,
    pub seconds: f64,
}

/// What a client gathered since the last `takeMetrics`.
#[derive(uniffi::Record)]
pub struct MetricsTaken {
    pub counts: Vec<MetricCount>,
    pub waits: Vec<MetricWait>,
    /// Waits not kept (more than 100,000 between two takes).
    pub dropped: u64,
}

impl From<postato_bindings::Taken> for MetricsTaken {
    fn from(t: postato_bindings::Taken) -> Self {
        MetricsTaken {
            counts: t
                .counts
                .into_iter()
                .map(|(name, label, increase)| MetricCount { name: name.to_owned(), label, increase })
                .collect(),
            waits: t.waits.into_iter().map(|(reason, seconds)| MetricWait { reason, seconds }).collect(),
            dropped: t.dropped,
        }
    }
}

/// One of the Rust client's metrics, as every language names it.
#[derive(uniffi::Record)]
pub struct MetricInfo {
    pub name: String,
    /// `counter`, `histogram` or `gauge`.
    pub kind: String,
    /// UCUM, as OpenTelemetry writes units (`s`, `{request}`).
    pub unit: String,
    pub help: String,
    /// Its label, if it has one.
    pub label: Option<String>,
}
