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

#[tokio::test]
async fn sqlite_stores_open_on_one_file_in_one_process_share_their_claims() {
    use postato::store::Begin;
    use postato::ResultStore;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let first = SqliteStore::open(dir.path().join("store.db")).unwrap();
    // The same file, spelt another way.
    let second = SqliteStore::open(dir.path().join("sub/../store.db")).unwrap();
    let lease = Duration::from_secs(60);
    assert_eq!(first.begin("k", "first", lease).await.unwrap(), Begin::Claimed);
    assert!(matches!(second.begin("k", "second", lease).await.unwrap(), Begin::HeldByOther { .. }));
    first.release("k", "first").await.unwrap();
    assert_eq!(second.begin("k", "second", lease).await.unwrap(), Begin::Claimed);
    // The lock file says which process publishes through the store.
    let holder = std::fs::read_to_string(dir.path().join("store.db-lock")).unwrap();
    assert_eq!(holder, std::process::id().to_string());
    // Let go with the last store on the file, the lock file removed (no stale file to delete).
    drop(first);
    assert!(dir.path().join("store.db-lock").exists(), "the other store still holds it");
    drop(second);
    assert!(!dir.path().join("store.db-lock").exists());
}
