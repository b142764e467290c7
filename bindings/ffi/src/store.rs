//! Where a binding's result store keeps its records, and opening it. The same three choices
//! in every language: memory, a SQLite file, a PostgreSQL database shared by many workers.

use postato::postato_core::defaults;
use postato::{MemoryStore, ResultStore, SqliteStore};
use std::sync::Arc;

/// A result store's location. Its Debug output never shows a PostgreSQL URL (it may hold a
/// password).
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// In this process's memory: lost when it ends.
    Memory,
    /// A SQLite file.
    Sqlite(String),
    /// A PostgreSQL database (connects on first use); `pool_size` defaults to
    /// [`defaults::POSTGRES_POOL_SIZE`].
    Postgres {
        /// A `postgres://` URL.
        url: String,
        /// Connections in the pool.
        pool_size: Option<usize>,
    },
}

impl StoreLocation {
    /// Opens the store. The error names what was wrong (never the URL's password).
    pub fn open(&self) -> Result<Arc<dyn ResultStore>, String> {
        Ok(match self {
            StoreLocation::Memory => Arc::new(MemoryStore::new()),
            StoreLocation::Sqlite(path) => Arc::new(SqliteStore::open(path).map_err(|e| e.to_string())?),
            StoreLocation::Postgres { url, pool_size } => Arc::new(
                postato_postgres::PostgresStore::lazy(url, pool_size.unwrap_or(defaults::POSTGRES_POOL_SIZE))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_output_never_shows_a_postgres_url() {
        let location = StoreLocation::Postgres { url: "postgres://u:hunter2@db/x".into(), pool_size: None };
        assert!(!format!("{location:?}").contains("hunter2"));
    }
}
