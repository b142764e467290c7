//! Hostile servers: a huge or endless body, an absurd Retry-After, invalid header bytes,
//! garbage instead of HTTP, a server that trickles one byte a second. The client stays within
//! bounded memory and time and returns a clear error.
use postato::*;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;
use common::post;

/// Serves every connection with `behave`, after reading the request head.
async fn hostile<F, Fut>(behave: F) -> String
where
    F: Fn(TcpStream) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = stream.read(&mut buffer).await;
                behave(stream).await;
            });
        }
    });
    url
}

fn client(url: &str) -> ClientBuilder {
    Client::builder().api_key("sk_hostile").workspace_id("w").base_url(url).fast_forward_waits(true).max_attempts(2)
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::test]
async fn an_endless_chunked_body_is_cut_at_the_cap_in_bounded_memory() {
    let url = hostile(|mut s| async move {
        let _ = s.write_all(b"HTTP/1.1 202 Accepted\r\nTransfer-Encoding: chunked\r\n\r\n").await;
        let chunk = format!("{:x}\r\n{}\r\n", 64 * 1024, "x".repeat(64 * 1024));
        while s.write_all(chunk.as_bytes()).await.is_ok() {}
    })
    .await;
    let before = rss_kib();
    let started = Instant::now();
    let error =
        client(&url).max_response_bytes(256 * 1024).build().unwrap().publish(&post("endless")).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidResponse, "{error}");
    assert!(error.to_string().contains("size limit"));
    assert!(started.elapsed() < Duration::from_secs(5));
    let grown = rss_kib().saturating_sub(before);
    assert!(grown < 32 * 1024, "memory grew by {grown} KiB");
}

#[tokio::test]
async fn a_huge_error_body_is_cut_and_the_message_stays_small() {
    let url = hostile(|mut s| async move {
        let body = "e".repeat(5 * 1024 * 1024);
        let _ = s
            .write_all(format!("HTTP/1.1 400 Bad Request\r\nContent-Length: {}\r\n\r\n{body}", body.len()).as_bytes())
            .await;
    })
    .await;
    let error = client(&url).build().unwrap().publish(&post("huge")).await.unwrap_err();
    assert_eq!((error.kind(), error.status()), (ErrorKind::Permanent, Some(400)));
    assert!(error.to_string().len() < 10_000, "{}", error.to_string().len());
}

#[tokio::test]
async fn an_absurd_retry_after_ends_at_once_as_rate_limited() {
    let url = hostile(|mut s| async move {
        let _ = s
            .write_all(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 1000000000000\r\nContent-Length: 0\r\n\r\n")
            .await;
    })
    .await;
    let started = Instant::now();
    let error = Client::builder()
        .api_key("k")
        .workspace_id("w")
        .base_url(&url)
        .build()
        .unwrap()
        .publish(&post("absurd"))
        .await
        .unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::RateLimited, 1));
    // An absurd wait is read as the longest a server is taken to ask for: a month.
    assert_eq!(error.retry_after(), Some(postato::postato_core::LONGEST_SERVER_WAIT));
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn invalid_header_bytes_and_garbage_are_transport_failures() {
    for answer in [
        &b"HTTP/1.1 202 Accepted\r\nX-Bad\x01: \x02\x03\r\nContent-Length: 2\r\n\r\n{}"[..],
        b"SMTP ready\r\n\r\n",
        b"\x00\x01\x02\x03",
    ] {
        let answer = answer.to_vec();
        let url = hostile_bytes(answer).await;
        let error = client(&url).build().unwrap().publish(&post("garbage")).await.unwrap_err();
        assert_eq!((error.kind(), error.attempts()), (ErrorKind::Transient, 2), "{error}");
        assert!(matches!(&error, PublishError::Transient { last: Failure::Transport(_), .. }), "{error:?}");
    }
}

async fn hostile_bytes(answer: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = stream.read(&mut buffer).await;
                let _ = stream.write_all(&answer).await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_server_trickling_one_byte_a_second_is_cut_off_by_the_timeout_and_deadline() {
    let url = hostile(|mut s| async move {
        let _ = s.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Length: 1000\r\n\r\n").await;
        loop {
            if s.write_all(b"x").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    })
    .await;
    let started = Instant::now();
    let error = client(&url)
        .fast_forward_waits(false)
        .max_attempts(5)
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .timeout(Duration::from_millis(300))
        .deadline(Some(Duration::from_millis(1_500)))
        .build()
        .unwrap()
        .publish(&post("trickle"))
        .await
        .unwrap_err();
    assert!(matches!(error.kind(), ErrorKind::Deadline | ErrorKind::Transient), "{error}");
    assert!(started.elapsed() < Duration::from_secs(3), "{:?}", started.elapsed());
}
