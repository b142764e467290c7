//! A server whose rate limiter is not ours (feature `governed`): the governor crate's GCRA, the
//! Rust ecosystem's well-known limiter, in front of an endpoint that accepts every post. It
//! answers `202 {"id","status"}` while the limiter lets a request through and a bare `429` with
//! `Retry-After: 1` (no `RateLimit-*` headers, no scope) when it does not. Our simulator's token
//! bucket is the limiter the client's learned rate was tuned against; this one tests it
//! against a limiter it was not.

use bytes::Bytes;
use governor::{Quota, RateLimiter};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// What a [`GovernedServer`] answered so far.
#[derive(Debug, Default)]
pub struct GovernedCounts {
    requests: AtomicU64,
    refused: AtomicU64,
}

impl GovernedCounts {
    /// Requests answered.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Requests answered 429.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// The share (0 to 1) of requests answered 429.
    pub fn share_429(&self) -> f64 {
        self.refused() as f64 / self.requests().max(1) as f64
    }
}

/// A running governor-limited server on 127.0.0.1; it stops when dropped.
#[derive(Debug)]
pub struct GovernedServer {
    base_url: String,
    counts: Arc<GovernedCounts>,
    task: tokio::task::JoinHandle<()>,
}

impl GovernedServer {
    /// Starts a server that lets `rate_per_second` requests through a second, `burst` at once.
    pub async fn start(rate_per_second: u32, burst: u32) -> std::io::Result<GovernedServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let one = NonZeroU32::MIN;
        let quota = Quota::per_second(NonZeroU32::new(rate_per_second).unwrap_or(one))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(one));
        let limiter = Arc::new(RateLimiter::direct(quota));
        let counts = Arc::new(GovernedCounts::default());
        let served = Arc::clone(&counts);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    // Out of descriptors, say: wait a moment rather than spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (limiter, counts) = (Arc::clone(&limiter), Arc::clone(&served));
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let (limiter, counts) = (Arc::clone(&limiter), Arc::clone(&counts));
                        async move {
                            let _ = request.into_body().collect().await;
                            let n = counts.requests.fetch_add(1, Ordering::Relaxed);
                            let (status, body) = if limiter.check().is_ok() {
                                (202, Bytes::from(format!(r#"{{"id":"p_{n}","status":"published"}}"#)))
                            } else {
                                counts.refused.fetch_add(1, Ordering::Relaxed);
                                (429, Bytes::new())
                            };
                            let mut answer = hyper::Response::new(Full::new(body));
                            *answer.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
                            let headers = answer.headers_mut();
                            headers.insert("content-type", hyper::header::HeaderValue::from_static("application/json"));
                            if status == 429 {
                                headers.insert("retry-after", hyper::header::HeaderValue::from_static("1"));
                            }
                            Ok::<_, Infallible>(answer)
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Ok(GovernedServer { base_url, counts, task })
    }

    /// Its base URL (`http://127.0.0.1:PORT`); it takes any API key and workspace.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// What it answered so far.
    pub fn counts(&self) -> &GovernedCounts {
        &self.counts
    }
}

impl Drop for GovernedServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}
