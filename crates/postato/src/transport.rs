//! The HTTP transport over reqwest with rustls: one pooled client, no redirects, a timeout
//! per attempt, and response bodies read with a cap.
//!
//! An answer is trusted as the answer to its request only when it can be: a connection on
//! which bytes arrive while it is idle is discarded by hyper (a stray answer sent with or soon
//! after the real one); a stray answer that arrives after the next request was written cannot
//! be told from that request's answer by HTTP/1.1 itself, but the API echoes each request's
//! `Idempotency-Key` (as Stripe's does), so an answer carrying another request's key is a
//! protocol failure: the pool is replaced (its connections close as their requests end) and
//! the request sent again on a fresh connection, with the same key (safe). Once a server has
//! echoed keys, a 2xx without one is refused the same way (a proxy's own stray answer); a
//! server that never echoes is not checked.

use postato_core::{Request, Response, Transport, TransportFailure, TransportFailureKind};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use crate::http_options::CheckedHttp;

/// Sends publish requests over HTTPS (or loopback HTTP) with reqwest.
#[derive(Clone, Debug)]
pub struct ReqwestTransport {
    /// The pooled client and its generation, replaced by a fresh one (the next generation)
    /// when a connection is found out of step.
    client: Arc<RwLock<(u64, reqwest::Client)>>,
    /// What builds it again.
    settings: Arc<HttpSettings>,
    /// Whether the server has echoed an `Idempotency-Key`: from then on, a 2xx must.
    echoes: Arc<AtomicBool>,
    base_url: String,
    max_response_bytes: usize,
    /// The first path sent and its URL: a client's requests all go to its workspace's path.
    posts_url: Arc<OnceLock<(String, Result<Url, String>)>>,
    /// The `Authorization` and `User-Agent` values of the first request, reused while a
    /// request carries the same strings (every request of one client does).
    fixed_headers: Arc<OnceLock<FixedHeaders>>,
}

/// Header values made once per client rather than on every attempt. Its `Debug` names them and
/// shows no value.
struct FixedHeaders {
    /// Marked sensitive: its `Debug` shows no key.
    authorization: HeaderValue,
    /// The request's own `User-Agent`, and the value sent for it (the app's agent before it).
    user_agent: (String, HeaderValue),
}

fn parse_url(base_url: &str, path: &str) -> Result<Url, String> {
    Url::parse(&format!("{base_url}{path}")).map_err(|e| format!("the URL {base_url}{path} is not valid: {e}"))
}

impl ReqwestTransport {
    /// A transport to `base_url` (scheme, host, optional port and path prefix).
    /// `roots` are trusted beside the built-in ones ([`crate::tls`]); `http` holds the
    /// headers sent with every request and the proxy.
    pub(crate) fn new(
        base_url: &str,
        connect_timeout: Duration,
        max_response_bytes: usize,
        roots: Vec<reqwest::Certificate>,
        http: CheckedHttp,
    ) -> Result<Self, String> {
        let settings = HttpSettings { connect_timeout, roots, http };
        let client = settings.client()?;
        Ok(ReqwestTransport {
            client: Arc::new(RwLock::new((0, client))),
            settings: Arc::new(settings),
            echoes: Arc::new(AtomicBool::new(false)),
            base_url: base_url.trim_end_matches('/').to_owned(),
            max_response_bytes,
            posts_url: Arc::new(OnceLock::new()),
            fixed_headers: Arc::new(OnceLock::new()),
        })
    }

    /// The URL of `path`: parsed once per client for its workspace's path.
    fn url(&self, path: &str) -> Result<Url, String> {
        let parsed = self.posts_url.get_or_init(|| (path.to_owned(), parse_url(&self.base_url, path)));
        let (cached_path, url) = parsed;
        if cached_path == path {
            return url.clone();
        }
        parse_url(&self.base_url, path)
    }

    async fn exchange(&self, request: &Request, timeout: Duration) -> Result<Response, TransportFailure> {
        let url = self.url(request.path()).map_err(|why| TransportFailure::new(TransportFailureKind::Io, why))?;
        let headers = self.headers(request)?;
        let (generation, client) = self.client.read().unwrap_or_else(|p| p.into_inner()).clone();
        let sent = client.post(url).timeout(timeout).headers(headers).body(request.body_bytes()).send();
        let response = sent.await.map_err(failure)?;
        if let Some(stray) = self.stray(&response, request) {
            self.drop_connections(generation);
            return Err(TransportFailure::new(
                TransportFailureKind::Protocol,
                format!(
                    "{stray}: the connection is out of step (a proxy that sent an answer nobody asked for?), so the \
                     client's connections are replaced and the request is sent again on a new one"
                ),
            ));
        }
        self.read(response).await.map_err(failure)
    }

    /// The headers of `request`: `Authorization` and `User-Agent` as made for the client's
    /// first request (when they are the same strings), the others made here.
    fn headers(&self, request: &Request) -> Result<HeaderMap, TransportFailure> {
        let fixed = self.fixed_headers.get();
        let mut headers = HeaderMap::with_capacity(4);
        let mut agent_source = "";
        for (name, value) in request.headers() {
            let value = match (name, fixed) {
                ("authorization", Some(f)) if f.authorization.as_bytes() == value.as_bytes() => f.authorization.clone(),
                ("user-agent", Some(f)) if f.user_agent.0 == value => f.user_agent.1.clone(),
                ("user-agent", _) => {
                    agent_source = value;
                    self.header_value(name, value)?
                }
                _ => self.header_value(name, value)?,
            };
            headers.insert(HeaderName::from_static(name), value);
        }
        if fixed.is_none() {
            if let (Some(authorization), Some(agent)) = (headers.get("authorization"), headers.get("user-agent")) {
                let user_agent = (agent_source.to_owned(), agent.clone());
                let _ = self.fixed_headers.set(FixedHeaders { authorization: authorization.clone(), user_agent });
            }
        }
        Ok(headers)
    }

    /// The value of header `name` (a request's own, checked): `Authorization` marked
    /// sensitive, the app's `User-Agent` before postato's.
    fn header_value(&self, name: &str, value: &str) -> Result<HeaderValue, TransportFailure> {
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| TransportFailure::new(TransportFailureKind::Io, format!("the {name} header is not valid")))?;
        value.set_sensitive(name == "authorization");
        if let (Some(app), "user-agent") = (&self.settings.http.user_agent, name) {
            value = join_agents(app, &value);
        }
        Ok(value)
    }

    /// Why `response` is not the answer to `request`, if it is not: it carries another
    /// request's `Idempotency-Key`, or none where this server echoes them.
    fn stray(&self, response: &reqwest::Response, request: &Request) -> Option<String> {
        match response.headers().get("idempotency-key") {
            Some(echoed) if echoed.as_bytes() == request.idempotency_key().as_bytes() => {
                self.echoes.store(true, Ordering::Relaxed);
                None
            }
            Some(echoed) => Some(format!(
                "the answer carries another request's Idempotency-Key ({:?})",
                String::from_utf8_lossy(echoed.as_bytes())
            )),
            None if response.status().is_success() && self.echoes.load(Ordering::Relaxed) => {
                Some("a 2xx answer without the Idempotency-Key this server echoes on every answer".to_owned())
            }
            None => None,
        }
    }

    /// Replaces the pooled client of `generation`, unless another attempt already did: its
    /// connections close once the requests on them end, and new requests open fresh ones.
    fn drop_connections(&self, generation: u64) {
        let mut client = self.client.write().unwrap_or_else(|p| p.into_inner());
        if client.0 == generation {
            // Built once already with the same settings, so it builds again; should it not,
            // the old pool stays and the retry still goes out with the same key.
            if let Ok(fresh) = self.settings.client() {
                *client = (generation + 1, fresh);
            }
        }
    }

    async fn read(&self, mut response: reqwest::Response) -> Result<Response, reqwest::Error> {
        let status = response.status().as_u16();
        let headers = response
            .headers()
            .iter()
            .filter(|(name, _)| Response::keeps_header(status, name.as_str()))
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

impl std::fmt::Debug for FixedHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FixedHeaders([authorization, user-agent])")
    }
}

/// What a transport's HTTP client is built from; Debug shows no header value or proxy URL.
#[derive(Debug)]
struct HttpSettings {
    connect_timeout: Duration,
    /// Trusted beside the built-in roots.
    roots: Vec<reqwest::Certificate>,
    /// Headers for every request, and the proxy.
    http: CheckedHttp,
}

impl HttpSettings {
    /// A pooled HTTP client: no redirects, the connect timeout, `roots` trusted beside the
    /// built-in ones, the default headers, and the proxy (else the environment's).
    fn client(&self) -> Result<reqwest::Client, String> {
        let builder = self
            .roots
            .iter()
            .cloned()
            .fold(reqwest::Client::builder(), |builder, root| builder.add_root_certificate(root));
        let builder = match &self.http.proxy {
            Some(proxy) => builder.proxy(proxy.clone()),
            None => builder,
        };
        builder
            .default_headers(self.http.headers.clone())
            .connect_timeout(self.connect_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .tcp_nodelay(true)
            .pool_idle_timeout(postato_core::defaults::POOL_IDLE_TIMEOUT)
            .build()
            .map_err(|e| format!("could not build the HTTP client: {e}"))
    }
}

/// The app's `User-Agent` before postato's (`my-app/2.1 postato/0.1.0 (rust)`).
fn join_agents(app: &HeaderValue, postato: &HeaderValue) -> HeaderValue {
    let mut joined = Vec::with_capacity(app.len() + 1 + postato.len());
    joined.extend_from_slice(app.as_bytes());
    joined.push(b' ');
    joined.extend_from_slice(postato.as_bytes());
    HeaderValue::from_bytes(&joined).unwrap_or_else(|_| postato.clone())
}

fn failure(error: reqwest::Error) -> TransportFailure {
    if let Some(untrusted) = crate::tls::untrusted(&error) {
        return untrusted;
    }
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
        self.exchange(request, timeout).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postato_core::{ApiKey, Post, PostStatus};
    use postato_sim::{ScriptAction, SimConfig, Simulator, SimulatorHandle};

    /// A simulator and a transport to it with the client's defaults.
    async fn transport_to_simulator() -> (SimulatorHandle, ReqwestTransport) {
        let sim = Simulator::start(SimConfig::default()).await.unwrap();
        let transport =
            ReqwestTransport::new(&sim.base_url(), Duration::from_secs(5), 1 << 20, Vec::new(), CheckedHttp::default())
                .unwrap();
        (sim, transport)
    }

    /// The request of a short post under `key`, naming `language` in its `User-Agent`.
    fn request(sim: &SimulatorHandle, key: &str, language: &str) -> Request {
        let post = Post::new(key, "x", "acc_1", PostStatus::Publish, "post", "hello");
        Request::new(&post, "ws_1", &ApiKey::new(sim.api_key()), language).unwrap()
    }

    #[tokio::test]
    async fn every_request_carries_the_clients_headers_and_the_transport_shows_none() {
        let (sim, transport) = transport_to_simulator().await;
        for key in ["fixed-1", "fixed-2", "fixed-3"] {
            let request = request(&sim, key, "rust-agent-probe");
            // The simulator answers 401 to a request without its key: each 202 says it was sent.
            assert_eq!(transport.send(&request, Duration::from_secs(5)).await.unwrap().status, 202, "{key}");
        }
        assert!(transport.fixed_headers.get().is_some(), "made once, after the first request");
        let shown = format!("{transport:?}");
        assert!(!shown.contains(sim.api_key()) && !shown.contains("rust-agent-probe"), "{shown}");
    }

    #[tokio::test]
    async fn a_2xx_keeps_only_the_headers_the_client_reads_and_an_error_keeps_them_all() {
        let (sim, transport) = transport_to_simulator().await;
        let send = |key: &str| request(&sim, key, "rust");
        let ok = transport.send(&send("headers-ok"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(ok.status, 202);
        assert!(ok.header("content-type").is_none() && ok.header("date").is_none(), "{:?}", ok.headers);
        let extra = [("x-extra".to_owned(), "kept".to_owned())].into_iter().collect();
        sim.script_business_key(
            "headers-error",
            vec![ScriptAction::Respond { status: 400, headers: extra, body: None, body_text: None }],
        );
        let error = transport.send(&send("headers-error"), Duration::from_secs(5)).await.unwrap();
        assert_eq!(error.status, 400);
        assert_eq!(error.header("x-extra"), Some("kept"));
        assert!(error.header("content-type").is_some(), "{:?}", error.headers);
    }
}
