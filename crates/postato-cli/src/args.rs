//! Flags shared by the commands that talk to the API: connection, policy, store and output.
//! Each connection setting comes from its flag, then the environment, then the default.

use clap::{Args, ValueEnum};
use postato::{Client, ClientBuilder, PublishError, ResultStore, SqliteStore, ValidationError};
use std::sync::Arc;
use std::time::Duration;

use postato::postato_core::defaults;

/// A default duration as the flags take it.
const fn millis(duration: Duration) -> u64 {
    duration.as_millis() as u64
}

/// How results are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// For people.
    #[default]
    Text,
    /// One JSON object per line, for programs.
    Json,
}

/// Where to find the API and how to retry.
#[derive(Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// The API's base URL [env: POSTATO_BASE_URL; default: the production API]
    #[arg(long)]
    pub base_url: Option<String>,
    /// The API key [env: POSTATO_API_KEY]; never printed
    #[arg(long)]
    pub api_key: Option<String>,
    /// The workspace to publish into [env: POSTATO_WORKSPACE_ID]
    #[arg(long)]
    pub workspace: Option<String>,
    /// The limit on each attempt, in ms
    #[arg(long, default_value_t = millis(defaults::ATTEMPT_TIMEOUT))]
    pub timeout_ms: u64,
    /// Attempts that may fail with a retryable error
    #[arg(long, default_value_t = defaults::MAX_ATTEMPTS)]
    pub max_attempts: u32,
    /// The backoff base, in ms
    #[arg(long, default_value_t = millis(defaults::BACKOFF_BASE))]
    pub backoff_base_ms: u64,
    /// The backoff cap, in ms
    #[arg(long, default_value_t = millis(defaults::BACKOFF_CAP))]
    pub backoff_cap_ms: u64,
    /// A limit on each whole publish (waits included), in ms
    #[arg(long)]
    pub deadline_ms: Option<u64>,
    /// For tests: waits advance a virtual clock instead of sleeping
    #[arg(long, hide = true)]
    pub fast_forward_waits: bool,
}

fn setting(flag: &Option<String>, env: &str) -> Option<String> {
    flag.clone().or_else(|| std::env::var(env).ok()).filter(|v| !v.is_empty())
}

fn missing(field: &str, flag: &str, env: &str) -> PublishError {
    PublishError::InvalidInput(ValidationError::new(field, format!("is missing: pass {flag} or set {env}")))
}

impl ConnectionArgs {
    /// A client builder from the flags and environment.
    pub fn builder(&self) -> Result<ClientBuilder, PublishError> {
        let api_key = setting(&self.api_key, "POSTATO_API_KEY")
            .ok_or_else(|| missing("apiKey", "--api-key", "POSTATO_API_KEY"))?;
        let workspace = setting(&self.workspace, "POSTATO_WORKSPACE_ID")
            .ok_or_else(|| missing("workspaceId", "--workspace", "POSTATO_WORKSPACE_ID"))?;
        let mut builder = Client::builder()
            .api_key(api_key)
            .workspace_id(workspace)
            .language("cli")
            .timeout(Duration::from_millis(self.timeout_ms))
            .max_attempts(self.max_attempts)
            .backoff(Duration::from_millis(self.backoff_base_ms), Duration::from_millis(self.backoff_cap_ms))
            .deadline(self.deadline_ms.map(Duration::from_millis))
            .fast_forward_waits(self.fast_forward_waits);
        if let Some(url) = setting(&self.base_url, "POSTATO_BASE_URL") {
            builder = builder.base_url(url);
        }
        Ok(builder)
    }

    /// The client.
    pub fn client(&self) -> Result<Client, PublishError> {
        self.builder()?.build()
    }
}

/// Opens the result store named by `--store`: a `postgres://` URL (shared by many workers;
/// `pool` connections) or a SQLite file path.
pub async fn open_store(location: &str, pool: usize) -> Result<Arc<dyn ResultStore>, String> {
    if location.starts_with("postgres://") || location.starts_with("postgresql://") {
        let audit = std::env::var("POSTATO_AUDIT_CLAIMS").as_deref() == Ok("1");
        let store = postato_postgres::PostgresStore::connect(location, pool).await.map_err(|e| e.to_string())?;
        return Ok(Arc::new(store.with_audit(audit)));
    }
    SqliteStore::open(location).map(|s| Arc::new(s) as Arc<dyn ResultStore>).map_err(|e| e.to_string())
}
