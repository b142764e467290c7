//! [`ClientBuilder`]: configuration with validation; every mistake is an `InvalidInput` error
//! naming the setting.

use postato_core::{
    check_workspace_id, defaults, settings, ApiKey, Jitter, PublishError, RetryBudgetConfig, RetryPolicy,
    ValidationError,
};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::client::{Client, ClientConfig};
use crate::http_options::HttpOptions;
use crate::metrics::Metrics;
use crate::observe::{Hooks, Notice, RetryInfo};
use crate::transport::ReqwestTransport;

/// The production API ([`defaults::BASE_URL`]).
pub const DEFAULT_BASE_URL: &str = defaults::BASE_URL;
/// Response bodies are read up to this size by default ([`defaults::MAX_RESPONSE_BYTES`]).
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = defaults::MAX_RESPONSE_BYTES;

/// Builds a [`Client`]. Only the API key and workspace id are required.
#[derive(Clone)]
pub struct ClientBuilder {
    api_key: Option<ApiKey>,
    workspace_id: Option<String>,
    base_url: String,
    ca_bundle: Option<PathBuf>,
    http: HttpOptions,
    policy: RetryPolicy,
    connect_timeout: Duration,
    budget: RetryBudgetConfig,
    max_response_bytes: usize,
    allow_insecure_http: bool,
    language: String,
    seed: Option<u64>,
    fast_forward_waits: bool,
    hooks: Hooks,
    metrics: Option<Arc<dyn Metrics>>,
    #[cfg(feature = "opentelemetry")]
    meter: Option<opentelemetry::metrics::Meter>,
}

impl std::fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("api_key", &self.api_key)
            .field("workspace_id", &self.workspace_id)
            .field("base_url", &self.base_url)
            .field("ca_bundle", &self.ca_bundle)
            .field("http", &self.http)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Default for ClientBuilder {
    fn default() -> Self {
        ClientBuilder {
            api_key: None,
            workspace_id: None,
            base_url: DEFAULT_BASE_URL.to_owned(),
            ca_bundle: None,
            http: HttpOptions::default(),
            policy: RetryPolicy::default(),
            connect_timeout: defaults::CONNECT_TIMEOUT,
            budget: RetryBudgetConfig::default(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_insecure_http: false,
            language: "rust".to_owned(),
            seed: None,
            fast_forward_waits: false,
            hooks: Hooks::default(),
            metrics: None,
            #[cfg(feature = "opentelemetry")]
            meter: None,
        }
    }
}

fn invalid(setting: &str, message: impl Into<String>) -> PublishError {
    PublishError::InvalidInput(ValidationError::setting(setting, message))
}

impl ClientBuilder {
    /// A builder with the settings the environment gives ([`crate::env`]: `POSTATO_API_KEY`,
    /// `POSTATO_WORKSPACE_ID`, `POSTATO_BASE_URL`, `POSTATO_CA_BUNDLE`); a setting given
    /// afterwards wins over its variable. A variable set but empty is an error naming it.
    pub fn from_env() -> Result<Self, PublishError> {
        let mut builder = ClientBuilder::default();
        if let Some(key) = crate::env::setting(crate::env::API_KEY)? {
            builder = builder.api_key(key);
        }
        if let Some(workspace) = crate::env::setting(crate::env::WORKSPACE_ID)? {
            builder = builder.workspace_id(workspace);
        }
        if let Some(url) = crate::env::setting(crate::env::BASE_URL)? {
            builder = builder.base_url(url);
        }
        if let Some(path) = crate::env::setting(crate::env::CA_BUNDLE)? {
            builder = builder.ca_bundle(path);
        }
        Ok(builder)
    }

    /// The API key (required). It never appears in Debug output, errors or logs.
    pub fn api_key(mut self, key: impl Into<String>) -> Self {
        self.api_key = Some(ApiKey::new(key));
        self
    }

    /// The workspace to publish into (required).
    pub fn workspace_id(mut self, id: impl Into<String>) -> Self {
        self.workspace_id = Some(id.into());
        self
    }

    /// The API's base URL; default the production URL. Plain `http://` is accepted only for
    /// loopback hosts unless [`ClientBuilder::allow_insecure_http`] is set.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into();
        self
    }

    /// A file of CA certificates (PEM) to trust beside the built-in roots and `SSL_CERT_FILE`:
    /// your company's CA, when a proxy inspects TLS. Read when the client is built; a file that
    /// cannot be read or holds no certificate is an error naming `caBundle`.
    pub fn ca_bundle(mut self, path: impl Into<PathBuf>) -> Self {
        self.ca_bundle = Some(path.into());
        self
    }

    /// A header sent with every request (a tenant or tracing header of your own); postato's
    /// errors and Debug output never show its value (unlike the API key, a value a server
    /// echoes back is not removed from its answer). `Authorization`, `Idempotency-Key` and
    /// `Content-Type` are postato's and refused when the client is built, as are the headers
    /// that frame a request and its body (`Host`, `Content-*`, …); a `User-Agent` is sent
    /// before postato's own.
    pub fn default_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.http.headers.push((name.into(), value.into()));
        self
    }

    /// A proxy for every request (`http://` or `https://`; credentials in the URL, never
    /// shown), `NO_PROXY` notwithstanding; without one, `HTTPS_PROXY`, `HTTP_PROXY` and
    /// `NO_PROXY` apply.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.http.proxy = Some(url.into());
        self
    }

    /// The default headers and proxy at once (replacing any given before).
    pub fn http_options(mut self, http: HttpOptions) -> Self {
        self.http = http;
        self
    }

    /// The whole retry policy (replaces the settings below).
    pub fn policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Attempts that may end in a retryable failure; default [`defaults::MAX_ATTEMPTS`].
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.policy.max_attempts = attempts;
        self
    }

    /// Backoff base and cap; default [`defaults::BACKOFF_BASE`] and [`defaults::BACKOFF_CAP`].
    pub fn backoff(mut self, base: Duration, cap: Duration) -> Self {
        self.policy.backoff_base = base;
        self.policy.backoff_cap = cap;
        self
    }

    /// The longest wait a publish sits through: a longer Retry-After, rate-limit hold or pace
    /// ends it `RateLimited` (deferred by a [`Publisher`](crate::Publisher)), a longer wait for
    /// the retry budget `Transient`; default [`defaults::MAX_RETRY_AFTER`].
    pub fn max_retry_after(mut self, wait: Duration) -> Self {
        self.policy.max_retry_after = wait;
        self
    }

    /// The jitter; default additive up to [`defaults::JITTER_MAX`], as the reference.
    pub fn jitter(mut self, jitter: Jitter) -> Self {
        self.policy.jitter = jitter;
        self
    }

    /// The limit on one attempt; default [`defaults::TIMEOUT`].
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.policy.timeout = timeout;
        self
    }

    /// The limit on connecting; default [`defaults::CONNECT_TIMEOUT`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// A limit on each whole publish, waits included; default none.
    pub fn deadline(mut self, deadline: Option<Duration>) -> Self {
        self.policy.deadline = deadline;
        self
    }

    /// The shared retry budget; see [`RetryBudgetConfig`] for the defaults and why.
    pub fn retry_budget(mut self, budget: RetryBudgetConfig) -> Self {
        self.budget = budget;
        self
    }

    /// The cap on response bodies; default [`defaults::MAX_RESPONSE_BYTES`].
    pub fn max_response_bytes(mut self, bytes: usize) -> Self {
        self.max_response_bytes = bytes;
        self
    }

    /// Allows plain `http://` to non-loopback hosts (the API key then crosses the network in
    /// clear text). Off by default.
    pub fn allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }

    /// Names the calling language in the `User-Agent`; bindings set it (`python/3.11`).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = language.into();
        self
    }

    /// Seeds the jitter, for reproducible schedules; default random.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// For tests: waits (backoff, Retry-After) advance a virtual clock instead of sleeping,
    /// so a test of a 30 s Retry-After takes no time. Attempt timeouts stay real.
    pub fn fast_forward_waits(mut self, on: bool) -> Self {
        self.fast_forward_waits = on;
        self
    }

    /// Calls `hook` before each retry.
    pub fn on_retry(mut self, hook: impl Fn(&RetryInfo) + Send + Sync + 'static) -> Self {
        self.hooks.on_retry = Some(Arc::new(hook));
        self
    }

    /// Calls `hook` with each [`Notice`]: a post scheduled in the past as it is sent, every
    /// retry and every failed publish, what a language binding's logger and retry callback
    /// report.
    pub fn on_notice(mut self, hook: impl Fn(&Notice) + Send + Sync + 'static) -> Self {
        self.hooks.on_notice = Some(Arc::new(hook));
        self
    }

    /// Calls `hook` with every event of every publish (and the post's business key).
    pub fn on_event(mut self, hook: impl Fn(&str, &postato_core::Event) + Send + Sync + 'static) -> Self {
        self.hooks.on_event = Some(Arc::new(hook));
        self
    }

    /// Records the client's metrics ([`crate::metrics`]) in `metrics`.
    pub fn metrics(mut self, metrics: Arc<dyn Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// Records the client's metrics as OpenTelemetry instruments of `meter`
    /// ([`crate::metrics::METRICS`] names them), the retry budget as an observable gauge.
    #[cfg(feature = "opentelemetry")]
    pub fn meter(mut self, meter: opentelemetry::metrics::Meter) -> Self {
        self.metrics = Some(Arc::new(crate::metrics::OpenTelemetryMetrics::new(&meter)));
        self.meter = Some(meter);
        self
    }

    fn check(&self) -> Result<(ApiKey, String, String), PublishError> {
        let api_key = self.api_key.clone().ok_or_else(|| {
            invalid("apiKey", format!("is missing: give a Postato API key, or set {}", crate::env::API_KEY))
        })?;
        if api_key.is_empty() {
            return Err(invalid("apiKey", "is empty: give a Postato API key"));
        }
        let workspace_id = self.workspace_id.clone().ok_or_else(|| {
            invalid(
                "workspaceId",
                format!("is missing: give the workspace to publish into, or set {}", crate::env::WORKSPACE_ID),
            )
        })?;
        check_workspace_id(&workspace_id)?;
        self.policy.validate()?;
        settings::CONNECT_TIMEOUT.check(self.connect_timeout)?;
        settings::MAX_RESPONSE_BYTES.check(self.max_response_bytes as u64)?;
        let base_url = check_base_url(&self.base_url, self.allow_insecure_http)?;
        Ok((api_key, workspace_id, base_url))
    }

    /// Builds the client over reqwest.
    pub fn build(self) -> Result<Client, PublishError> {
        let (_, _, base_url) = self.check()?;
        let tls = base_url.starts_with("https://");
        let roots =
            crate::tls::extra_roots(self.ca_bundle.as_deref(), tls).map_err(|message| invalid("caBundle", message))?;
        let http = self.http.check()?;
        let transport = ReqwestTransport::new(&base_url, self.connect_timeout, self.max_response_bytes, roots, http)
            .map_err(|message| invalid("baseUrl", message))?;
        self.build_with_transport(transport)
    }

    /// Builds the client over your own transport.
    pub fn build_with_transport<T: postato_core::Transport + 'static>(
        self,
        transport: T,
    ) -> Result<Client<T>, PublishError> {
        let (api_key, workspace_id, base_url) = self.check()?;
        let client = Client::from_parts(
            ClientConfig {
                api_key,
                workspace_id,
                base_url,
                policy: self.policy,
                language: self.language,
                seed: self.seed,
                fast_forward_waits: self.fast_forward_waits,
                hooks: self.hooks,
                metrics: self.metrics,
            },
            self.budget,
            transport,
        );
        #[cfg(feature = "opentelemetry")]
        if let Some(meter) = &self.meter {
            client.observe_budget(meter);
        }
        Ok(client)
    }
}

/// Checks a base URL: https anywhere; http only to loopback unless allowed.
fn check_base_url(url: &str, allow_insecure_http: bool) -> Result<String, PublishError> {
    if url.trim().is_empty() {
        return Err(invalid(
            "baseUrl",
            "is empty: give the API's URL, such as https://api.postato.com.br, or leave the setting out for it",
        ));
    }
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        let url = postato_core::without_credentials(url);
        invalid("baseUrl", format!("{url:?} is not a URL ({e}): give one like https://api.postato.com.br"))
    })?;
    if parsed.query().is_some()
        || parsed.fragment().is_some()
        || !parsed.username().is_empty()
        || parsed.password().is_some()
    {
        return Err(invalid(
            "baseUrl",
            "must not carry a query, fragment or credentials: give scheme, host and port only",
        ));
    }
    let loopback = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        None => false,
    };
    match parsed.scheme() {
        "https" => {}
        "http" if loopback || allow_insecure_http => {}
        "http" => {
            return Err(invalid(
                "baseUrl",
                "plain http:// is only allowed for loopback hosts: use https://, or allow insecure HTTP explicitly",
            ))
        }
        other => return Err(invalid("baseUrl", format!("scheme {other:?} is not supported: use https://"))),
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}
