//! A response as the core sees it, and the classification of each outcome: the one place
//! where the outcome table is written.

use serde::Deserialize;
use std::time::Duration;

use crate::policy::RetryPolicy;
use crate::retry_after::{parse_http_date, parse_retry_after};
use crate::time::Timestamp;

/// A full HTTP response to one attempt.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The headers, names in any case.
    pub headers: Vec<(String, String)>,
    /// The body (possibly cut at the transport's cap).
    pub body: Vec<u8>,
    /// Whether the body was cut because it exceeded the transport's cap.
    pub body_truncated: bool,
}

/// The longest wait a server's answer is taken to ask for: a longer one (`Retry-After:
/// 10^12`, `RateLimit-Reset: 1e300`) is absurd, and is read as this, a month, so that a post it
/// defers becomes due again and is asked about anew, never deferred for ever.
pub const LONGEST_SERVER_WAIT: Duration = Duration::from_secs(31 * 24 * 3600);

/// The headers of a 2xx answer the client reads (lowercase): whether it was a replay, the
/// rate limit's state, and the server's request id. A transport may keep only these from a
/// 2xx; any other answer keeps every header, for the error's metadata.
pub const SUCCESS_HEADERS_READ: [&str; 7] = [
    "idempotent-replayed",
    "ratelimit-policy",
    "ratelimit-remaining",
    "ratelimit-reset",
    "ratelimit-scope",
    "x-request-id",
    "request-id",
];

impl Response {
    /// Whether a transport keeps header `name` (lowercase) of an answer with `status`.
    pub fn keeps_header(status: u16, name: &str) -> bool {
        !(200..300).contains(&status) || SUCCESS_HEADERS_READ.contains(&name)
    }

    /// A response with a status and a body, without headers.
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Response { status, body: body.into(), ..Response::default() }
    }

    /// The same response with one more header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// The first value of header `name`, compared case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The server's id for the request (`X-Request-Id`, else `Request-Id`), if it sent one.
    pub fn request_id(&self) -> Option<&str> {
        crate::error::REQUEST_ID_HEADERS.iter().find_map(|name| self.header(name))
    }

    /// Whether the server says it replayed a stored response (`Idempotent-Replayed: true`).
    pub fn replayed(&self) -> bool {
        self.header("idempotent-replayed").is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// The `Retry-After` delay. An HTTP-date is read against the answer's own `Date` when it
    /// has one, so that the client's clock does not matter; but a wait of more than a day by
    /// the server's `Date` that the client's clock makes shorter is the server's clock being
    /// wrong, and the client's reading is taken (a date two seconds ahead beside a `Date:`
    /// from 1970 is a 2 s wait, not 56 years).
    pub fn retry_after(&self, now: Timestamp) -> Option<Duration> {
        const TRUSTED_DATE_WAIT: Duration = Duration::from_secs(24 * 3600);
        let value = self.header("retry-after")?;
        let by_client = parse_retry_after(value, now)?;
        let by_server = self.header("date").and_then(parse_http_date).and_then(|date| parse_retry_after(value, date));
        let wait = match by_server {
            Some(wait) if wait > TRUSTED_DATE_WAIT && by_client < wait => by_client,
            Some(wait) => wait,
            None => by_client,
        };
        Some(wait.min(LONGEST_SERVER_WAIT))
    }

    /// Which limit this answer's 429 or `RateLimit-*` headers are about, when the server says:
    /// its `RateLimit-Scope` header, else a 429 body's `error.scope` (`workspace` or
    /// `account`, in any case); any other value says nothing.
    pub fn limit_scope(&self) -> Option<LimitScope> {
        if let Some(scope) = self.header("ratelimit-scope").and_then(LimitScope::parse) {
            return Some(scope);
        }
        if self.status != 429 {
            return None;
        }
        serde_json::from_slice::<ErrorEnvelope>(&self.body).ok()?.error.scope.as_deref().and_then(LimitScope::parse)
    }

    /// The wait a 429 asks for: its `Retry-After` (else its `RateLimit-Reset`), or `default`
    /// when it has neither, an unreadable one, or one below the clock's millisecond (zero, a date
    /// not in the future). A 429 is
    /// never an invitation to retry at once: the request that got it would go again in the
    /// same instant. The machine and the gates all read a 429's wait here.
    pub fn rate_limit_wait(&self, now: Timestamp, default: Duration) -> Duration {
        self.retry_after(now)
            .or_else(|| self.ratelimit_reset())
            .filter(|wait| *wait >= Duration::from_millis(1))
            .unwrap_or(default)
    }

    /// The `RateLimit-Reset` delay, in delta-seconds as the IETF RateLimit fields have it: on a
    /// 429 without `Retry-After`, when the spent quota comes back, so the wait it asks for.
    pub fn ratelimit_reset(&self) -> Option<Duration> {
        let seconds: f64 = self.header("ratelimit-reset")?.trim().parse().ok()?;
        (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::try_from_secs_f64(seconds).unwrap_or(Duration::MAX).min(LONGEST_SERVER_WAIT))
    }
}

/// The body of a successful publish.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
pub struct PublishedBody {
    /// The post's id at Postato.
    pub id: String,
    /// Its status at Postato.
    pub status: String,
}

/// What an outcome means, per the outcome table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// 2xx with `{id, status}`.
    Published(PublishedBody),
    /// 2xx whose body is not `{id, status}`.
    InvalidResponse {
        /// What is wrong with the body.
        reason: String,
    },
    /// 4xx (and unexpected 1xx/3xx, 501, 505): never retried.
    Permanent,
    /// 422 saying the idempotency key was reused with a different payload.
    IdempotencyConflict,
    /// 408, 409, 5xx: retry with backoff, waiting at least `min_wait`.
    Retry {
        /// The answer's Retry-After, when it has one: a lower bound on the wait. One longer
        /// than the policy's `max_retry_after` ends the publish, as a 429's does.
        min_wait: Option<Duration>,
    },
    /// 429: wait `retry_after` and retry.
    RateLimited {
        /// The server's Retry-After, or the policy's default.
        retry_after: Duration,
    },
}

#[derive(Deserialize)]
struct ErrorEnvelope {
    error: ErrorBody,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: Option<String>,
    scope: Option<String>,
}

/// Which limit an answer's 429 or `RateLimit-*` headers are about, when the server says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitScope {
    /// The workspace's: every account's posts wait on it.
    Workspace,
    /// The account's the post was published through: no other account's posts wait on it.
    Account,
}

impl LimitScope {
    fn parse(value: &str) -> Option<LimitScope> {
        match value.trim() {
            v if v.eq_ignore_ascii_case("workspace") => Some(LimitScope::Workspace),
            v if v.eq_ignore_ascii_case("account") => Some(LimitScope::Account),
            _ => None,
        }
    }
}

/// Whether a 422 body says the idempotency key was reused with a different payload:
/// `{"error": {"code": "idempotency_key_reused"}}`.
fn says_key_reused(body: &[u8]) -> bool {
    serde_json::from_slice::<ErrorEnvelope>(body)
        .ok()
        .and_then(|e| e.error.code)
        .is_some_and(|code| code == "idempotency_key_reused")
}

/// Reads a 2xx body as `{id, status}` with a non-empty id.
pub fn parse_published_body(body: &[u8]) -> Result<PublishedBody, String> {
    match serde_json::from_slice::<PublishedBody>(body) {
        Ok(parsed) if parsed.id.trim().is_empty() => Err("its body has an empty \"id\"".to_owned()),
        Ok(parsed) => Ok(parsed),
        Err(e) => Err(format!("its body is not {{\"id\", \"status\"}} ({e})")),
    }
}

/// Classifies a response. `now` is used for HTTP-date Retry-After values.
pub fn classify(response: &Response, policy: &RetryPolicy, now: Timestamp) -> Verdict {
    match response.status {
        200..=299 if response.body_truncated => {
            Verdict::InvalidResponse { reason: "its body exceeded the client's size limit".to_owned() }
        }
        200..=299 => match parse_published_body(&response.body) {
            Ok(body) => Verdict::Published(body),
            Err(reason) => Verdict::InvalidResponse { reason },
        },
        429 => Verdict::RateLimited { retry_after: response.rate_limit_wait(now, policy.default_retry_after) },
        422 if says_key_reused(&response.body) => Verdict::IdempotencyConflict,
        501 | 505 => Verdict::Permanent,
        408 | 409 | 500..=599 => Verdict::Retry { min_wait: response.retry_after(now) },
        _ => Verdict::Permanent,
    }
}
