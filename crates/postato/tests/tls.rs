//! Transport security: TLS through rustls with certificates verified. A server with a
//! self-signed certificate is refused (a connect failure), never trusted.
use postato::*;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

mod common;
use common::post;

#[tokio::test]
async fn a_self_signed_certificate_is_refused() {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(certified.key_pair.serialize_der()).unwrap();
    let config =
        tokio_rustls::rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let handshakes = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let completed = Arc::clone(&handshakes);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (acceptor, completed) = (acceptor.clone(), Arc::clone(&completed));
            tokio::spawn(async move {
                if let Ok(mut tls) = acceptor.accept(stream).await {
                    completed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    let _ = tls.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 35\r\n\r\n{\"id\":\"forged\",\"status\":\"published\"}").await;
                }
            });
        }
    });
    let client = Client::builder()
        .api_key("sk_live_never_sent")
        .workspace_id("w")
        .base_url(format!("https://localhost:{port}"))
        .max_attempts(2)
        .fast_forward_waits(true)
        .build()
        .unwrap();
    let error = client.publish(&post("tls")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Transient, "{error}");
    let PublishError::Transient { last: Failure::Transport(failure), .. } = &error else { panic!("{error:?}") };
    assert!(failure.message.to_lowercase().contains("certificate"), "{}", failure.message);
    assert_eq!(
        handshakes.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no handshake completed, so the API key was never sent"
    );
}
