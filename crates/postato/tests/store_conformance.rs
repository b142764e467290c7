//! The claim protocol's shared suite (`postato::store::conformance`) against the memory and
//! SQLite stores; the PostgreSQL store runs it in its own crate.
use postato::store::conformance::check_store;
use postato::{MemoryStore, SqliteStore};
use std::sync::Arc;

#[tokio::test]
async fn the_memory_store_keeps_the_claim_protocol() {
    check_store(Arc::new(MemoryStore::new()), "memory").await;
}

#[tokio::test]
async fn the_sqlite_store_keeps_the_claim_protocol() {
    let dir = tempfile::tempdir().unwrap();
    check_store(Arc::new(SqliteStore::open(dir.path().join("store.db")).unwrap()), "sqlite").await;
}
