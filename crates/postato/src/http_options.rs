//! [`HttpOptions`]: what a client's connection takes beyond the API's own settings, headers
//! sent with every request and a proxy, checked once when the client is built. The headers
//! postato sets itself (the key, the idempotency key, the body's type) and those that frame a
//! request can never be replaced: a default header could otherwise send a post under another
//! key or publish it twice. A `User-Agent` is put before postato's own, which stays.

use postato_core::{without_credentials, PublishError, ValidationError};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// The setting that names the extra headers in errors (`defaultHeaders`; Python
/// `default_headers`).
pub const DEFAULT_HEADERS: &str = "defaultHeaders";
/// The setting that names the proxy in errors.
pub const PROXY: &str = "proxy";

/// The headers every publish sets itself, which no default header may replace.
pub const RESERVED_HEADERS: [&str; 3] = ["authorization", "idempotency-key", "content-type"];
/// The headers the HTTP client sets to frame a request, route it or describe its body (any
/// `Content-*` too: a `Content-Encoding` would make the server misread every body).
const FRAMING_HEADERS: [&str; 11] = [
    "host",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
    "proxy-authorization",
    "proxy-connection",
    "forwarded",
];

/// Headers sent with every request and the proxy requests go through, as given.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpOptions {
    /// `(name, value)` pairs, sent with every request.
    pub headers: Vec<(String, String)>,
    /// A proxy for every request (`http://` or `https://`, credentials in the URL), `NO_PROXY`
    /// notwithstanding; `None`: the environment's (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`),
    /// as reqwest reads it.
    pub proxy: Option<String>,
}

/// Values and the proxy's credentials may be secrets: only names are shown.
impl std::fmt::Debug for HttpOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("HttpOptions")
            .field("headers", &names)
            .field("proxy", &self.proxy.as_deref().map(without_credentials))
            .finish()
    }
}

/// [`HttpOptions`] checked, as the HTTP client takes them.
#[derive(Clone, Default)]
pub(crate) struct CheckedHttp {
    /// Every value marked sensitive, so that no Debug output of reqwest's shows it.
    pub headers: HeaderMap,
    /// A `User-Agent` given, sent before postato's own (`my-app/2.1 postato/0.1.0 (rust)`).
    pub user_agent: Option<HeaderValue>,
    /// Its Debug output would show the URL's password: never print it.
    pub proxy: Option<reqwest::Proxy>,
}

/// Names only: values and the proxy's URL may hold secrets.
impl std::fmt::Debug for CheckedHttp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckedHttp")
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("user_agent", &self.user_agent.is_some())
            .field("proxy", &self.proxy.is_some())
            .finish()
    }
}

fn invalid(setting: &str, message: impl Into<String>) -> PublishError {
    PublishError::InvalidInput(ValidationError::setting(setting, message))
}

impl HttpOptions {
    /// `headers` sent with every request, and a proxy for every request.
    pub fn new(headers: Vec<(String, String)>, proxy: Option<String>) -> Self {
        HttpOptions { headers, proxy }
    }

    /// Whether nothing is given.
    pub fn is_empty(&self) -> bool {
        self.headers.is_empty() && self.proxy.is_none()
    }

    /// The options as the HTTP client takes them; a header postato sets itself, one that
    /// frames the request, a name or value HTTP cannot carry, or a proxy that is not an
    /// `http://` or `https://` URL is an `InvalidInput` naming it (never a value).
    pub(crate) fn check(&self) -> Result<CheckedHttp, PublishError> {
        let mut headers = HeaderMap::with_capacity(self.headers.len());
        let mut user_agent = None;
        for (name, value) in &self.headers {
            let parsed = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                // Only its first characters: a secret pasted as a name (`X-Api-Key: secret`, a
                // token) must not reach the message.
                let shown: String = name.trim().chars().take(3).collect();
                invalid(
                    DEFAULT_HEADERS,
                    format!(
                        "a header name ({shown}…, {} characters) holds a character a name cannot: use letters, \
                         digits and '-', and give the value apart",
                        name.trim().chars().count()
                    ),
                )
            })?;
            // `Idempotency_Key` reaches some servers as `Idempotency-Key` (CGI-style names).
            let normalized = parsed.as_str().replace('_', "-");
            if RESERVED_HEADERS.contains(&normalized.as_str()) {
                return Err(invalid(
                    DEFAULT_HEADERS,
                    format!(
                        "{name} is set by postato on every publish (the API key, the idempotency key and the JSON \
                         body) and cannot be replaced: leave it out"
                    ),
                ));
            }
            if FRAMING_HEADERS.contains(&normalized.as_str()) || normalized.starts_with("content-") {
                return Err(invalid(
                    DEFAULT_HEADERS,
                    format!(
                        "{name} is set by the HTTP client for each request and its body: leave it out (a proxy's \
                         credentials go in its URL)"
                    ),
                ));
            }
            let mut value = HeaderValue::from_str(value).map_err(|_| {
                invalid(
                    DEFAULT_HEADERS,
                    format!("the value of {name} is not a header value: use visible ASCII, without line breaks"),
                )
            })?;
            if normalized == "user-agent" {
                if user_agent.is_some() {
                    return Err(invalid(DEFAULT_HEADERS, "User-Agent is given twice: give it once"));
                }
                user_agent = Some(value);
                continue;
            }
            value.set_sensitive(true);
            headers.append(parsed, value);
        }
        let proxy = match &self.proxy {
            None => None,
            Some(url) => Some(proxy(url)?),
        };
        Ok(CheckedHttp { headers, user_agent, proxy })
    }
}

/// A proxy for every request, from its URL.
fn proxy(url: &str) -> Result<reqwest::Proxy, PublishError> {
    let shown = without_credentials(url);
    let parsed = url::Url::parse(url.trim()).map_err(|e| {
        invalid(PROXY, format!("{shown:?} is not a URL ({e}): give one like http://proxy.internal:3128"))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(invalid(
            PROXY,
            format!("{shown:?} is not an http:// or https:// proxy URL: give one like http://proxy.internal:3128"),
        ));
    }
    reqwest::Proxy::all(parsed.as_str())
        .map_err(|e| invalid(PROXY, format!("{shown:?} cannot be used as a proxy ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HttpOptions {
        HttpOptions { headers: pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(), proxy: None }
    }

    fn refusal(options: &HttpOptions) -> ValidationError {
        match options.check() {
            Err(PublishError::InvalidInput(e)) => e,
            other => panic!("taken: {other:?}"),
        }
    }

    #[test]
    fn the_headers_postato_sets_and_those_that_frame_a_request_are_refused_in_any_case() {
        for name in [
            "Authorization",
            "idempotency-key",
            "Idempotency_Key",
            "Content-Type",
            "content_type",
            "Content-Encoding",
            "Host",
            "Content-Length",
            "Expect",
            "Keep-Alive",
        ] {
            let e = refusal(&headers(&[(name, "x")]));
            assert_eq!(e.field, DEFAULT_HEADERS);
            assert!(e.message.starts_with(name) && e.message.contains("leave it out"), "{}", e.message);
        }
    }

    #[test]
    fn a_header_http_cannot_carry_is_refused_without_showing_its_value() {
        let e = refusal(&headers(&[("X-Api-Key: s3cret", "")]));
        assert!(e.message.contains("(X-A…, 17 characters)") && !e.message.contains("s3cret"), "{}", e.message);
        let e = refusal(&headers(&[("sk_live/abc+def=", "")]));
        assert!(!e.message.contains("abc"), "{}", e.message);
        let e = refusal(&headers(&[("X-Secret", "s3cret\r\nX-Injected: 1")]));
        assert!(e.message.contains("X-Secret") && !e.message.contains("s3cret"), "{}", e.message);
    }

    #[test]
    fn headers_are_kept_in_order_and_repeated_names_kept_both() {
        let checked = headers(&[("X-Team", "growth"), ("X-Tag", "a"), ("x-tag", "b")]).check().unwrap();
        assert_eq!(checked.headers.get("x-team").unwrap(), "growth");
        assert_eq!(checked.headers.get_all("x-tag").iter().collect::<Vec<_>>(), ["a", "b"]);
        assert!(checked.headers.get("x-team").unwrap().is_sensitive());
        let with_agent = headers(&[("User-Agent", "my-app/2.1")]).check().unwrap();
        assert_eq!(with_agent.user_agent.unwrap(), "my-app/2.1");
        assert!(with_agent.headers.is_empty());
    }

    #[test]
    fn a_proxy_must_be_an_http_url_and_its_credentials_are_never_shown() {
        for url in [
            "socks5://user:hunter2@proxy:1080",
            "not a url",
            "http://user:hunter2@/",
            "user:hunter2@proxy.internal:3128",
            "http//user:hunter2@proxy",
        ] {
            let e = refusal(&HttpOptions { proxy: Some(url.to_owned()), ..HttpOptions::default() });
            assert_eq!(e.field, PROXY);
            assert!(!e.message.contains("hunter2"), "{}", e.message);
        }
        let given = HttpOptions { proxy: Some("http://user:hunter2@proxy:3128".into()), ..headers(&[("X-K", "v1")]) };
        assert!(given.check().unwrap().proxy.is_some());
        let shown = format!("{given:?} {:?}", given.check().unwrap());
        assert!(!shown.contains("hunter2") && !shown.contains("v1") && shown.contains("X-K"), "{shown}");
        let e = refusal(&headers(&[("User-Agent", "a/1"), ("user-agent", "b/2")]));
        assert!(e.message.contains("twice"), "{}", e.message);
    }
}
