//! The HTTP transport over reqwest with rustls: one pooled client, no redirects, a timeout
//! per attempt, and response bodies read with a cap.

use bytes::Bytes;
use postato_core::{Request, Response, Transport, TransportFailure, TransportFailureKind};
use std::time::Duration;

/// Sends publish requests over HTTPS (or loopback HTTP) with reqwest.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    client: reqwest::Client,
    base_url: String,
    max_response_bytes: usize,
}

impl ReqwestTransport {
    /// A transport to `base_url` (scheme, host, optional port and path prefix).
    pub(crate) fn new(base_url: &str, connect_timeout: Duration, max_response_bytes: usize) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(postato_core::defaults::POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))?;
        Ok(ReqwestTransport { client, base_url: base_url.trim_end_matches('/').to_owned(), max_response_bytes })
    }

    async fn exchange(&self, request: &Request, timeout: Duration) -> Result<Response, reqwest::Error> {
        let mut builder = self
            .client
            .post(format!("{}{}", self.base_url, request.path()))
            .timeout(timeout)
            .body(Bytes::copy_from_slice(request.body()));
        for (name, value) in request.headers() {
            builder = builder.header(name, value);
        }
        let mut response = builder.send().await?;
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect();
        let mut body = Vec::new();
        let mut body_truncated = false;
        while let Some(chunk) = response.chunk().await? {
            if body.len() + chunk.len() > self.max_response_bytes {
                body.extend_from_slice(&chunk[..self.max_response_bytes - body.len()]);
                body_truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status, headers, body, body_truncated })
    }
}

fn failure(error: reqwest::Error) -> TransportFailure {
    let kind = if error.is_timeout() {
        TransportFailureKind::Timeout
    } else if error.is_connect() {
        TransportFailureKind::Connect
    } else if error.is_body() || error.is_decode() {
        TransportFailureKind::Protocol
    } else {
        TransportFailureKind::Io
    };
    // The error's chain says what happened (reset, refused, …); it never holds headers.
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    // rustls meeting a server that answers in plain HTTP says "corrupt message" or "invalid
    // content type": name the likely mistake.
    if message.contains("CorruptMessage")
        || message.contains("corrupt message")
        || message.contains("InvalidContentType")
    {
        message.push_str(
            " (the server did not answer in TLS: if it serves plain HTTP, give a base URL with http://, which is \
             allowed for loopback hosts)",
        );
    }
    TransportFailure::new(kind, message)
}

impl Transport for ReqwestTransport {
    async fn send(&self, request: &Request, timeout: Duration) -> Result<Response, TransportFailure> {
        self.exchange(request, timeout).await.map_err(failure)
    }
}
