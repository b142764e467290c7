//! PostgreSQL over TLS against the test server (scripts/postgres.sh starts it with `ssl=on`
//! and a certificate for "localhost" signed by a throwaway CA): `verify-full` with the CA as
//! `sslrootcert` connects encrypted; without it, or under another host name, it refuses;
//! `require` connects encrypted; a URL that asks for TLS never falls back to plain text.
use postato::ResultStore;
use postato_postgres::testing::fresh_database;
use postato_postgres::PostgresStore;

/// The test server's certificate, or `None` (outside CI) when none is configured.
fn ca() -> Option<String> {
    match std::env::var("POSTATO_TEST_POSTGRES_CA") {
        Ok(path) => Some(path),
        Err(_) => {
            assert!(std::env::var_os("CI").is_none(), "POSTATO_TEST_POSTGRES_CA is not set (scripts/postgres.sh --ca)");
            eprintln!("skipping: set POSTATO_TEST_POSTGRES_CA (./scripts/postgres.sh --ca)");
            None
        }
    }
}

/// Whether the store's own connection is encrypted, as the server sees it.
async fn encrypted(url: &str) -> bool {
    let store = PostgresStore::connect(url, 1).await.unwrap();
    store.counts().await.unwrap();
    store.connection_is_encrypted().await.unwrap()
}

#[tokio::test]
async fn verify_full_with_the_servers_certificate_connects_encrypted() {
    let (Some(url), Some(ca)) = (fresh_database("tls_full").await, ca()) else { return };
    let by_name = url.replace("127.0.0.1", "localhost");
    assert!(encrypted(&format!("{by_name}?sslmode=verify-full&sslrootcert={ca}")).await);
    assert!(encrypted(&format!("{url}?sslmode=verify-ca&sslrootcert={ca}")).await);
    assert!(encrypted(&format!("{url}?sslmode=require")).await);
    assert!(!encrypted(&format!("{url}?sslmode=disable")).await);
}

#[tokio::test]
async fn an_untrusted_or_misnamed_certificate_is_refused() {
    let (Some(url), Some(ca)) = (fresh_database("tls_refused").await, ca()) else { return };
    // The throwaway CA is not among the public roots.
    let by_name = url.replace("127.0.0.1", "localhost");
    let untrusted = PostgresStore::connect(&format!("{by_name}?sslmode=verify-full"), 1).await.unwrap_err();
    assert!(untrusted.to_string().contains("certificate"), "{untrusted}");
    // The certificate names localhost, not 127.0.0.1.
    let wrong_host = PostgresStore::connect(&format!("{url}?sslmode=verify-full&sslrootcert={ca}"), 1).await;
    let wrong_host = wrong_host.unwrap_err().to_string();
    assert!(wrong_host.contains("certificate"), "a certificate for another host name is refused: {wrong_host}");
}

#[tokio::test]
async fn a_url_that_asks_for_tls_never_falls_back_to_plain_text() {
    // A server that answers "no TLS" to every SSLRequest.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        while let Ok((mut socket, _)) = listener.accept().await {
            let mut request = [0u8; 8];
            if socket.read_exact(&mut request).await.is_ok() {
                let _ = socket.write_all(b"N").await;
            }
        }
    });
    for mode in ["require", "verify-full"] {
        let url = format!("postgres://postgres@{addr}/postgres?sslmode={mode}");
        let refused = PostgresStore::connect(&url, 1).await.unwrap_err();
        assert!(refused.to_string().to_lowercase().contains("tls"), "{mode}: {refused}");
    }
}
