//! Transport security: TLS through rustls with certificates verified. A server whose
//! certificate fails the check (an unknown issuer, another host's name) is a setting to fix,
//! ended at its first handshake and never retried; a company CA is trusted through the
//! `caBundle` setting. (`SSL_CERT_FILE` is tested in `tls_environment.rs`, a process of its
//! own, as it changes the environment.)
use postato::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

mod common;
use common::post;

/// A TLS server for `names`, with a certificate signed by itself, answering every request
/// 201; how many connections it accepted and how many handshakes completed.
struct TlsServer {
    port: u16,
    pem: String,
    connections: Arc<AtomicUsize>,
    handshakes: Arc<AtomicUsize>,
}

impl TlsServer {
    async fn start(names: &[&str]) -> TlsServer {
        let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
        let names = names.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        let certified = rcgen::generate_simple_self_signed(names).unwrap();
        let pem = certified.cert.pem();
        let cert = certified.cert.der().clone();
        let key = tokio_rustls::rustls::pki_types::PrivateKeyDer::try_from(certified.key_pair.serialize_der()).unwrap();
        let config = tokio_rustls::rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(vec![cert], key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (connections, handshakes) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (accepted, completed) = (Arc::clone(&connections), Arc::clone(&handshakes));
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let (acceptor, completed) = (acceptor.clone(), Arc::clone(&completed));
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(stream).await else { return };
                    completed.fetch_add(1, Ordering::SeqCst);
                    let mut request = vec![0; 64 * 1024];
                    let _ = tls.read(&mut request).await;
                    let body = r#"{"id":"post_tls","status":"published"}"#;
                    let answer = format!("HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    let _ = tls.write_all(answer.as_bytes()).await;
                });
            }
        });
        TlsServer { port, pem, connections, handshakes }
    }

    fn client(&self, host: &str) -> ClientBuilder {
        Client::builder()
            .api_key("sk_live_never_sent")
            .workspace_id("w")
            .base_url(format!("https://{host}:{}", self.port))
            .max_attempts(3)
            .fast_forward_waits(true)
    }

    /// The server's certificate in a PEM file, to trust.
    fn pem_file(&self, dir: &tempfile::TempDir) -> std::path::PathBuf {
        let path = dir.path().join("company-ca.pem");
        std::fs::write(&path, &self.pem).unwrap();
        path
    }
}

#[tokio::test]
async fn a_certificate_from_an_unknown_issuer_is_a_setting_to_fix_never_retried() {
    let server = TlsServer::start(&["localhost"]).await;
    let error = server.client("localhost").build().unwrap().publish(&post("tls")).await.unwrap_err();
    assert_eq!((error.kind(), error.field()), (ErrorKind::InvalidInput, Some("caBundle")), "{error}");
    let message = error.to_string();
    for said in ["not trusted", "UnknownIssuer", "caBundle", "SSL_CERT_FILE", "retrying cannot help"] {
        assert!(message.contains(said), "{said:?} not in {message}");
    }
    assert_eq!(server.connections.load(Ordering::SeqCst), 1, "one handshake, not one per attempt");
    assert_eq!(server.handshakes.load(Ordering::SeqCst), 0, "no handshake completed: the key was never sent");
}

#[tokio::test]
async fn a_trusted_certificate_for_another_host_names_the_base_url() {
    let server = TlsServer::start(&["api.example.test"]).await;
    let dir = tempfile::tempdir().unwrap();
    let client = server.client("localhost").ca_bundle(server.pem_file(&dir)).build().unwrap();
    let error = client.publish(&post("tls")).await.unwrap_err();
    assert_eq!((error.kind(), error.field()), (ErrorKind::InvalidInput, Some("baseUrl")), "{error}");
    assert!(error.to_string().contains("for another host"), "{error}");
    assert!(error.to_string().contains("check baseUrl"), "{error}");
    assert_eq!(server.connections.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_company_ca_given_as_the_ca_bundle_is_trusted() {
    let server = TlsServer::start(&["localhost"]).await;
    let dir = tempfile::tempdir().unwrap();
    let client = server.client("localhost").ca_bundle(server.pem_file(&dir)).build().unwrap();
    let published = client.publish(&post("tls")).await.unwrap();
    assert_eq!((published.id.as_str(), published.attempts), ("post_tls", 1));
    // The options every binding converts into carry it the same way.
    let mut options = ClientOptions::default();
    options.ca_bundle = Some(server.pem_file(&dir).to_string_lossy().into_owned());
    let client = options.apply(server.client("localhost")).build().unwrap();
    assert_eq!(client.publish(&post("tls-2")).await.unwrap().id, "post_tls");
}

#[test]
fn a_ca_bundle_that_cannot_be_read_or_holds_no_certificate_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let not_pem = dir.path().join("notes.txt");
    std::fs::write(&not_pem, "not a certificate").unwrap();
    let missing = dir.path().join("missing.pem");
    for (path, said) in [(&missing, "cannot be read"), (&not_pem, "holds no certificate")] {
        let built = Client::builder().api_key("k").workspace_id("w").ca_bundle(path).build();
        let error = built.unwrap_err();
        assert_eq!((error.kind(), error.field()), (ErrorKind::InvalidInput, Some("caBundle")), "{error}");
        assert!(error.to_string().contains(said) && error.to_string().contains(&path.display().to_string()), "{error}");
    }
}
