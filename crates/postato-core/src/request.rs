//! The request for an attempt: built once per publish, identical on every attempt.

use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use std::sync::{Arc, OnceLock};

use crate::key::{idempotency_key, payload_fingerprint};
use crate::limits::Scope;
use crate::post::Post;
use crate::response::Response;
use crate::secret::ApiKey;
use crate::validate::{check_workspace_id, ValidationError};

/// Everything in a path segment except RFC 3986 unreserved characters is percent-encoded.
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

/// This crate's version, named in the `User-Agent`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What every request of one client shares: its path, `User-Agent` and `Authorization`, and
/// the key redacted from answers. Checked and built once per client ([`RequestParts::new`]),
/// not once per publish. Its `Debug` output never shows the API key.
#[derive(Debug)]
pub struct RequestParts {
    path: String,
    user_agent: String,
    /// `Bearer <key>`, kept as a secret so `Debug` never shows it.
    authorization: ApiKey,
    /// The key alone: what is redacted from everything the server sends back.
    api_key: ApiKey,
}

impl RequestParts {
    /// Checks `workspace_id` and `api_key`, then builds what requests to `workspace_id` share.
    /// `language` names the calling language in the `User-Agent` (for example `rust`,
    /// `python/3.11`).
    pub fn new(workspace_id: &str, api_key: &ApiKey, language: &str) -> Result<Self, ValidationError> {
        check_workspace_id(workspace_id)?;
        if api_key.is_empty() {
            return Err(ValidationError::setting("apiKey", "is empty: give a Postato API key"));
        }
        if api_key.expose().chars().any(|c| c.is_control() || c == ' ') {
            return Err(ValidationError::setting(
                "apiKey",
                "contains spaces or control characters: check how it was copied",
            ));
        }
        Ok(RequestParts {
            path: format!("/v1/workspaces/{}/posts", utf8_percent_encode(workspace_id, PATH_SEGMENT)),
            user_agent: format!("postato/{VERSION} ({language})"),
            authorization: ApiKey::new(format!("Bearer {}", api_key.expose())),
            api_key: api_key.clone(),
        })
    }
}

/// One publish request. The body is serialised once; every attempt sends these exact bytes
/// with the same `Idempotency-Key`. Its `Debug` output never shows the API key.
#[derive(Clone)]
pub struct Request {
    parts: Arc<RequestParts>,
    idempotency_key: String,
    /// Worked out when first asked for (a store's records need it; a bare publish does not,
    /// and a SHA-256 of a large body is most of the client's own work on it).
    fingerprint: OnceLock<String>,
    body: Bytes,
    scope: Scope,
}

impl std::fmt::Debug for Request {
    /// The same whether or not the fingerprint was asked for; the API key redacted.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Request")
            .field("parts", &self.parts)
            .field("idempotency_key", &self.idempotency_key)
            .field("body_bytes", &self.body.len())
            .field("scope", &self.scope)
            .finish()
    }
}

impl Request {
    /// Validates `post`, then builds its request for `workspace_id`. `language` names the
    /// calling language in the `User-Agent` (for example `rust`, `python/3.11`).
    pub fn new(post: &Post, workspace_id: &str, api_key: &ApiKey, language: &str) -> Result<Self, ValidationError> {
        post.validate()?;
        Request::build(post, Arc::new(RequestParts::new(workspace_id, api_key, language)?))
    }

    /// Validates `post`, then builds its request from a client's `parts`.
    pub fn with_parts(post: &Post, parts: Arc<RequestParts>) -> Result<Self, ValidationError> {
        post.validate()?;
        Request::build(post, parts)
    }

    /// The request of a validated `post`.
    fn build(post: &Post, parts: Arc<RequestParts>) -> Result<Self, ValidationError> {
        let body = Bytes::from(post.wire_body());
        check_body_size(&body)?;
        Ok(Request {
            parts,
            idempotency_key: idempotency_key(&post.business_key),
            fingerprint: OnceLock::new(),
            body,
            scope: Scope::of(post),
        })
    }

    /// The account scope whose rate limits this request is charged to.
    pub fn scope(&self) -> &Scope {
        &self.scope
    }

    /// Always `POST`.
    pub fn method(&self) -> &'static str {
        "POST"
    }

    /// `/v1/workspaces/{workspaceId}/posts`, the workspace id percent-encoded.
    pub fn path(&self) -> &str {
        &self.parts.path
    }

    /// The `Idempotency-Key` sent on every attempt.
    pub fn idempotency_key(&self) -> &str {
        &self.idempotency_key
    }

    /// The payload fingerprint of the body (see [`payload_fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        self.fingerprint.get_or_init(|| payload_fingerprint(&self.body))
    }

    /// The JSON body bytes.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The headers to send, `Authorization` included: never log these values.
    pub fn headers(&self) -> [(&'static str, &str); 4] {
        [
            ("authorization", self.parts.authorization.expose()),
            ("content-type", "application/json"),
            ("idempotency-key", &self.idempotency_key),
            ("user-agent", &self.parts.user_agent),
        ]
    }

    /// `response` with the API key redacted from its body and header values, or `None` when
    /// it holds no copy of the key (the common case: nothing is copied).
    pub fn redacted(&self, response: &Response) -> Option<Response> {
        let raw = self.parts.api_key.redact_bytes(&response.body);
        let body = self.redacted_json(raw.as_deref().unwrap_or(&response.body)).or(raw);
        let echoed = |(_, value): &(String, String)| value.contains(self.parts.api_key.expose());
        if body.is_none() && !response.headers.iter().any(echoed) {
            return None;
        }
        let headers = response
            .headers
            .iter()
            .map(|(name, value)| (name.clone(), self.parts.api_key.redact(value).unwrap_or_else(|| value.clone())))
            .collect();
        let body = body.unwrap_or_else(|| response.body.clone());
        Some(Response { headers, body, ..response.clone() })
    }

    /// A JSON body whose strings hold the key only once decoded (`\u0073k_…`, `sk\/…`), with
    /// those strings redacted; `None` when it holds no escape or no such string. A reader that
    /// parses the body (Python's and Node's `error.body`) would otherwise see the key.
    fn redacted_json(&self, body: &[u8]) -> Option<Vec<u8>> {
        if !body.contains(&b'\\') {
            return None;
        }
        let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
        fn redact(value: &mut serde_json::Value, key: &ApiKey) -> bool {
            match value {
                serde_json::Value::String(text) => key.redact(text).map(|redacted| *text = redacted).is_some(),
                serde_json::Value::Array(items) => {
                    items.iter_mut().fold(false, |found, item| redact(item, key) | found)
                }
                serde_json::Value::Object(fields) => {
                    let mut found = false;
                    *fields = std::mem::take(fields)
                        .into_iter()
                        .map(|(name, mut field)| {
                            found |= redact(&mut field, key);
                            let redacted = key.redact(&name);
                            found |= redacted.is_some();
                            (redacted.unwrap_or(name), field)
                        })
                        .collect();
                    found
                }
                _ => false,
            }
        }
        redact(&mut value, &self.parts.api_key).then(|| serde_json::to_vec(&value).unwrap_or_default())
    }

    /// `text` (a transport's message, say) with the API key redacted.
    pub fn redact(&self, text: String) -> String {
        self.parts.api_key.redact(&text).unwrap_or(text)
    }

    /// The body as shared bytes: every attempt sends this one buffer, never a copy.
    pub fn body_bytes(&self) -> Bytes {
        self.body.clone()
    }
}

/// Refuses a request body larger than the API accepts.
pub(crate) fn check_body_size(body: &[u8]) -> Result<(), ValidationError> {
    if body.len() > crate::defaults::MAX_POST_BYTES {
        return Err(ValidationError::new(
            "post",
            format!(
                "is {} bytes as JSON, more than the {} bytes (1 MiB) the API accepts: shorten its content",
                body.len(),
                crate::defaults::MAX_POST_BYTES
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::post::PostStatus;

    #[test]
    fn a_request_from_a_clients_parts_is_the_request_built_alone() {
        let post = Post::new("order-1", "x", "acc_1", PostStatus::Publish, "post", "hello");
        let key = ApiKey::new("sk_test");
        let alone = Request::new(&post, "ws 1", &key, "rust").unwrap();
        let parts = Arc::new(RequestParts::new("ws 1", &key, "rust").unwrap());
        let shared = Request::with_parts(&post, parts).unwrap();
        assert_eq!((shared.path(), shared.headers(), shared.body()), (alone.path(), alone.headers(), alone.body()));
        assert_eq!(shared.path(), "/v1/workspaces/ws%201/posts");
        assert_eq!(shared.fingerprint(), payload_fingerprint(alone.body()));
        assert!(!format!("{shared:?}").contains("sk_test"), "{shared:?}");
    }

    #[test]
    fn parts_refuse_what_no_request_could_carry() {
        assert_eq!(RequestParts::new("ws_1", &ApiKey::new(""), "rust").unwrap_err().field, "apiKey");
        assert_eq!(RequestParts::new("ws_1", &ApiKey::new("sk x"), "rust").unwrap_err().field, "apiKey");
        assert!(RequestParts::new("", &ApiKey::new("sk"), "rust").is_err());
    }
}
