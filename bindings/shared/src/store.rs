//! Where a binding's result store keeps its records, and opening it. The same three choices
//! in every language: memory, a SQLite file, a PostgreSQL database shared by many workers.

use postato::postato_core::defaults;
use postato::store::Begin;
use postato::{
    DeadLetter, Deferral, Intent, MemoryStore, PublishError, PublishedRecord, ResultStore, SqliteStore, StoreCounts,
    StoreError,
};
use std::sync::Arc;
use std::time::Duration;

/// A result store's location. Its Debug output never shows a PostgreSQL URL (it may hold a
/// password).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// In this process's memory: lost when it ends.
    Memory,
    /// A SQLite file.
    Sqlite(String),
    /// A PostgreSQL database (connects on first use); `pool_size` defaults to
    /// [`defaults::POOL_SIZE`].
    Postgres {
        /// A `postgres://` URL.
        url: String,
        /// Connections in the pool.
        pool_size: Option<usize>,
    },
}

impl StoreLocation {
    /// Checks the location as given, before anything is opened: a SQLite path by
    /// [`check_sqlite_path`](postato::store::check_sqlite_path), the one rule for it.
    pub fn check(&self) -> Result<(), PublishError> {
        match self {
            StoreLocation::Sqlite(path) => Ok(postato::store::check_sqlite_path(path)?),
            StoreLocation::Memory | StoreLocation::Postgres { .. } => Ok(()),
        }
    }

    /// Opens the store. The error names what was wrong (never the URL's password).
    pub fn open(&self) -> Result<Arc<dyn ResultStore>, String> {
        Ok(match self {
            StoreLocation::Memory => Arc::new(MemoryStore::new()),
            StoreLocation::Sqlite(path) => Arc::new(SqliteStore::open(path).map_err(|e| e.to_string())?),
            StoreLocation::Postgres { url, pool_size } => Arc::new(
                postato_postgres::PostgresStore::lazy(url, pool_size.unwrap_or(defaults::POOL_SIZE))
                    .map_err(|e| e.to_string())?,
            ),
        })
    }
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreLocation::Memory => f.write_str("Memory"),
            StoreLocation::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            StoreLocation::Postgres { pool_size, .. } => {
                f.debug_struct("Postgres").field("url", &"<hidden>").field("pool_size", pool_size).finish()
            }
        }
    }
}

/// A store opened on its first use, on a blocking thread, for bindings whose constructors run
/// on an event loop (Node): opening SQLite may wait for another process's lock, and that wait
/// must not block the loop. An error opening it is the error of that first use.
pub struct OpenedOnFirstUse {
    location: StoreLocation,
    store: tokio::sync::OnceCell<Arc<dyn ResultStore>>,
}

impl OpenedOnFirstUse {
    /// A store at `location`, not opened yet.
    pub fn new(location: StoreLocation) -> Self {
        OpenedOnFirstUse { location, store: tokio::sync::OnceCell::new() }
    }

    async fn get(&self) -> Result<&Arc<dyn ResultStore>, StoreError> {
        self.store
            .get_or_try_init(|| async {
                let location = self.location.clone();
                tokio::task::spawn_blocking(move || location.open())
                    .await
                    .map_err(|e| StoreError::new(format!("opening the store failed: {e}")))?
                    .map_err(StoreError::new)
            })
            .await
    }
}

#[async_trait::async_trait]
impl ResultStore for OpenedOnFirstUse {
    async fn begin(&self, key: &str, worker: &str, lease: Duration) -> Result<Begin, StoreError> {
        self.get().await?.begin(key, worker, lease).await
    }
    async fn renew(&self, key: &str, worker: &str, lease: Duration) -> Result<(), StoreError> {
        self.get().await?.renew(key, worker, lease).await
    }
    async fn intent(&self, key: &str) -> Result<Option<Intent>, StoreError> {
        self.get().await?.intent(key).await
    }
    async fn record_intent(&self, intent: &Intent) -> Result<(), StoreError> {
        self.get().await?.record_intent(intent).await
    }
    async fn note_intent(&self, fresh: &Intent) -> Result<Option<Intent>, StoreError> {
        self.get().await?.note_intent(fresh).await
    }
    async fn forget_intent(&self, key: &str) -> Result<bool, StoreError> {
        self.get().await?.forget_intent(key).await
    }
    async fn record_published(&self, record: &PublishedRecord, worker: &str) -> Result<(), StoreError> {
        self.get().await?.record_published(record, worker).await
    }
    async fn record_dead_letter(&self, letter: &DeadLetter, worker: &str) -> Result<(), StoreError> {
        self.get().await?.record_dead_letter(letter, worker).await
    }
    async fn record_deferral(&self, deferral: &Deferral, worker: &str) -> Result<(), StoreError> {
        self.get().await?.record_deferral(deferral, worker).await
    }
    async fn deferrals(&self, after: Option<&str>, limit: usize) -> Result<Vec<Deferral>, StoreError> {
        self.get().await?.deferrals(after, limit).await
    }
    async fn release(&self, key: &str, worker: &str) -> Result<(), StoreError> {
        self.get().await?.release(key, worker).await
    }
    async fn published(&self, key: &str) -> Result<Option<PublishedRecord>, StoreError> {
        self.get().await?.published(key).await
    }
    async fn dead_letters(&self, after: Option<&str>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        self.get().await?.dead_letters(after, limit).await
    }
    async fn remove_dead_letter(&self, key: &str) -> Result<bool, StoreError> {
        self.get().await?.remove_dead_letter(key).await
    }
    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.get().await?.counts().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_postgres_url() {
        let location = StoreLocation::Postgres { url: "postgres://u:hunter2@db/x".into(), pool_size: None };
        assert!(!format!("{location:?}").contains("hunter2"));
    }
}
