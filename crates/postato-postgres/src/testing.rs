//! Test support: a fresh database per test on the server named by `POSTATO_TEST_POSTGRES_URL`.
//! In CI (`CI` set) a missing server fails the test; elsewhere the test is skipped with a note.

use tokio_postgres::NoTls;

/// The URL of a new, empty database, or `None` (outside CI) when no server is configured.
pub async fn fresh_database(name_hint: &str) -> Option<String> {
    let Ok(url) = std::env::var("POSTATO_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "POSTATO_TEST_POSTGRES_URL is not set: CI must start PostgreSQL (scripts/postgres.sh)"
        );
        eprintln!("skipping: set POSTATO_TEST_POSTGRES_URL (./scripts/postgres.sh starts a server)");
        return None;
    };
    let (client, connection) = tokio_postgres::connect(&url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at POSTATO_TEST_POSTGRES_URL: {e}"));
    tokio::spawn(connection);
    let name = format!(
        "postato_{}_{}_{}",
        name_hint,
        std::process::id(),
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos()
            % 1_000_000_000
    );
    client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("the test database is created");
    let base = url.rsplit_once('/').map(|(base, _)| base).unwrap_or(&url);
    Some(format!("{base}/{name}"))
}
