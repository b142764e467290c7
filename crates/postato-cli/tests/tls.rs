//! TLS through the command line: a server whose certificate is not trusted stops a batch at
//! once with exit 2 (a setting to fix: no post is dead-lettered, a handful of handshakes, not
//! one per post and attempt), and the same campaign publishes once its CA is given with
//! `--ca-bundle`. The server's certificate is the fixture in tests/tls.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

mod common;
use common::*;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/tls");

/// A TLS server with the fixture certificate answering every request 201 (a new id each);
/// its URL and how many connections it accepted.
async fn tls_server() -> (String, Arc<AtomicUsize>) {
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let cert = CertificateDer::from_pem_file(format!("{FIXTURE}/localhost.pem")).unwrap();
    let key = PrivateKeyDer::from_pem_file(format!("{FIXTURE}/localhost.key")).unwrap();
    let config =
        tokio_rustls::rustls::ServerConfig::builder().with_no_client_auth().with_single_cert(vec![cert], key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://localhost:{}", listener.local_addr().unwrap().port());
    let (connections, ids) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let accepted = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            let (acceptor, ids) = (acceptor.clone(), Arc::clone(&ids));
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let mut pending = Vec::new();
                loop {
                    let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                        let mut buffer = [0u8; 16 * 1024];
                        match tls.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buffer[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&pending[..end]).to_lowercase();
                    let length = head
                        .lines()
                        .find_map(|l| l.strip_prefix("content-length:").map(|v| v.trim().parse::<usize>().unwrap()))
                        .unwrap_or(0);
                    if pending.len() < end + 4 + length {
                        let mut buffer = [0u8; 16 * 1024];
                        match tls.read(&mut buffer).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => pending.extend_from_slice(&buffer[..n]),
                        }
                        continue;
                    }
                    pending.drain(..end + 4 + length);
                    let id = ids.fetch_add(1, Ordering::SeqCst);
                    let body = format!(r#"{{"id":"post_{id}","status":"published"}}"#);
                    let answer = format!("HTTP/1.1 201 Created\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    if tls.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, connections)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_server_stops_a_batch_at_once_and_its_ca_given_with_ca_bundle_publishes_it() {
    let (url, connections) = tls_server().await;
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("tls.jsonl");
    let lines: Vec<String> = (0..50).map(|i| post_line(&format!("tls-{i}"), "c")).collect();
    std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
    let store = dir.path().join("tls.db");
    let batch = |extra: &[&str]| {
        let mut args: Vec<String> = [
            "batch",
            campaign.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--output",
            "json",
            "--no-progress",
            "--concurrency",
            "4",
            "--max-attempts",
            "3",
            "--base-url",
            &url,
            "--api-key",
            "sk_test_tls",
            "--workspace",
            "ws_cli",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        args.extend(extra.iter().map(|a| a.to_string()));
        args
    };
    let output = postato(&strings(&batch(&[])), None).await;
    assert_eq!(code(&output), 2, "{output:?}");
    let summary = json_line(&output);
    assert_eq!((summary["published"].as_u64(), summary["deadLettered"].as_u64()), (Some(0), Some(0)), "{summary}");
    assert_eq!(summary["error"]["kind"], "invalid_input", "{summary}");
    let message = summary["error"]["message"].as_str().unwrap();
    assert!(message.contains("--ca-bundle") && message.contains("not trusted"), "{message}");
    let handshakes = connections.load(Ordering::SeqCst);
    assert!(handshakes <= 8, "{handshakes} handshakes for 50 posts: the batch went on");

    let pem = format!("{FIXTURE}/localhost.pem");
    let output = postato(&strings(&batch(&["--ca-bundle", &pem])), None).await;
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(json_line(&output)["published"].as_u64(), Some(50));
}
