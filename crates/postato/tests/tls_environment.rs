//! `SSL_CERT_FILE`, OpenSSL's variable, is honoured as curl and Python's `ssl` honour it: its
//! certificates are trusted beside the built-in roots, and a file it names that cannot be read
//! is an error naming the variable. One test, in a process of its own: it sets the variable.
use postato::*;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

mod common;
use common::post;

#[tokio::test]
async fn ssl_cert_file_is_trusted_and_a_file_it_names_that_cannot_be_read_is_refused() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let pem = dir.path().join("system-ca.pem");
    std::fs::write(&pem, certified.cert.pem()).unwrap();
    let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(certified.key_pair.serialize_der()).unwrap();
    let config = tokio_rustls::rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let _ = tls.read(&mut vec![0; 64 * 1024]).await;
                let body = r#"{"id":"post_env","status":"published"}"#;
                let answer = format!("HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                let _ = tls.write_all(answer.as_bytes()).await;
            });
        }
    });
    let client = || {
        Client::builder()
            .api_key("k")
            .workspace_id("w")
            .base_url(format!("https://localhost:{port}"))
            .fast_forward_waits(true)
            .build()
    };
    let untrusted = client().unwrap().publish(&post("env")).await.unwrap_err();
    assert_eq!(untrusted.kind(), ErrorKind::InvalidInput, "{untrusted}");

    std::env::set_var(SSL_CERT_FILE, &pem);
    assert_eq!(client().unwrap().publish(&post("env")).await.unwrap().id, "post_env");

    let missing = dir.path().join("missing.pem");
    std::env::set_var(SSL_CERT_FILE, &missing);
    let refused = client().unwrap_err();
    assert_eq!((refused.kind(), refused.field()), (ErrorKind::InvalidInput, Some("caBundle")), "{refused}");
    assert!(refused.to_string().contains("SSL_CERT_FILE names"), "{refused}");
    // A client of a plain-http simulator speaks no TLS: a stale variable never stops it.
    Client::builder().api_key("k").workspace_id("w").base_url("http://127.0.0.1:9").build().unwrap();
}
