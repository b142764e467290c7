//! What can go wrong: transport failures fed to the machine, and the final errors it returns.

use std::fmt;
use std::time::Duration;

use crate::validate::ValidationError;
use crate::Timestamp;

/// Bodies kept in errors are cut to this many bytes.
pub const ERROR_BODY_LIMIT: usize = 8 * 1024;

/// The headers of the answer an error is about (names as the server sent them), with the
/// server's request id: what a support ticket about a failed publish quotes. Its `Debug`
/// output is [`ResponseHeaders::to_map`]'s (no `Set-Cookie`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ResponseHeaders(Vec<(String, String)>);

impl fmt::Debug for ResponseHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.to_map()).finish()
    }
}

/// The headers a server names its request id with, in the order they are looked for.
pub const REQUEST_ID_HEADERS: [&str; 2] = ["x-request-id", "request-id"];

impl ResponseHeaders {
    /// Headers as a transport read them.
    pub fn new(headers: Vec<(String, String)>) -> Self {
        ResponseHeaders(headers)
    }

    /// The first value of header `name` (any case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The server's id for the request (`X-Request-Id`, else `Request-Id`), if it sent one.
    pub fn request_id(&self) -> Option<&str> {
        REQUEST_ID_HEADERS.iter().find_map(|name| self.get(name))
    }

    /// Every header, in the order the server sent them.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The headers by lowercase name, a repeated header's values joined with `, ` (as HTTP
    /// allows): the map every language binding hands its users. `Set-Cookie` is left out: a
    /// session a server hands out does not belong in an exception that gets logged.
    pub fn to_map(&self) -> std::collections::BTreeMap<String, String> {
        let mut map = std::collections::BTreeMap::<String, String>::new();
        for (name, value) in self.0.iter().filter(|(name, _)| !name.eq_ignore_ascii_case("set-cookie")) {
            map.entry(name.to_ascii_lowercase())
                .and_modify(|joined| {
                    joined.push_str(", ");
                    joined.push_str(value);
                })
                .or_insert_with(|| value.clone());
        }
        map
    }

    /// Whether there are none (the error is not about an answer).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// What kind of transport failure ended an attempt before a full response arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportFailureKind {
    /// The connection could not be made.
    Connect,
    /// The attempt's timeout passed.
    Timeout,
    /// The connection closed or reset, or another I/O error happened.
    Io,
    /// The response could not be read as HTTP (invalid headers, truncated body, …).
    Protocol,
    /// The server's TLS certificate is not trusted (an unknown issuer, expired): retrying
    /// cannot help, so the publish ends at once, naming the `caBundle` setting.
    Untrusted,
    /// The server's TLS certificate is for another host: the publish ends at once, naming the
    /// `baseUrl` setting.
    WrongHost,
}

impl TransportFailureKind {
    /// The setting to fix when a failure of this kind ends a publish at once (no retry can
    /// change it); `None` for the failures that are retried.
    pub fn setting_to_fix(self) -> Option<&'static str> {
        match self {
            TransportFailureKind::Untrusted => Some("caBundle"),
            TransportFailureKind::WrongHost => Some("baseUrl"),
            _ => None,
        }
    }
}

impl TransportFailureKind {
    /// A short name: `connect`, `timeout`, `io`, `protocol`, `untrusted`, `wrong_host`.
    pub fn as_str(self) -> &'static str {
        match self {
            TransportFailureKind::Connect => "connect",
            TransportFailureKind::Timeout => "timeout",
            TransportFailureKind::Io => "io",
            TransportFailureKind::Protocol => "protocol",
            TransportFailureKind::Untrusted => "untrusted",
            TransportFailureKind::WrongHost => "wrong_host",
        }
    }
}

/// An attempt that ended without a full response. Retryable, as the server dedupes by
/// idempotency key, so a request that did reach it is not published twice; except a server
/// whose certificate is not trusted or is another host's
/// ([`TransportFailureKind::setting_to_fix`]), which ends the publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransportFailure {
    /// The kind of failure.
    pub kind: TransportFailureKind,
    /// A description for people (never containing the API key).
    pub message: String,
}

impl TransportFailure {
    /// A failure of `kind`.
    pub fn new(kind: TransportFailureKind, message: impl Into<String>) -> Self {
        TransportFailure { kind, message: message.into() }
    }
}

impl fmt::Display for TransportFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} failure: {}", self.kind.as_str(), self.message)
    }
}

/// The last retryable failure of a publish.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// The server answered with a retryable status.
    Status {
        /// The HTTP status.
        status: u16,
        /// The body, cut to [`ERROR_BODY_LIMIT`].
        body: String,
        /// The answer's headers.
        headers: ResponseHeaders,
    },
    /// No full response arrived.
    Transport(TransportFailure),
    /// The client's retry budget was empty and it is configured to fail rather than wait.
    BudgetExhausted,
    /// A Publisher's result store could not be reached, so nothing was sent: without its
    /// answer a post published long ago could be published again.
    StoreUnavailable(String),
}

impl Failure {
    /// The HTTP status, if the server answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Failure::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The answer's headers, if the server answered.
    pub fn headers(&self) -> Option<&ResponseHeaders> {
        match self {
            Failure::Status { headers, .. } => Some(headers),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Status { status, .. } => write!(f, "the server answered {status}"),
            Failure::Transport(t) => write!(f, "{t}"),
            Failure::BudgetExhausted => {
                f.write_str("the client's retry budget is exhausted (too many recent failures)")
            }
            Failure::StoreUnavailable(reason) => {
                write!(f, "the result store could not be reached, so nothing was sent ({reason})")
            }
        }
    }
}

/// The kind of a [`PublishError`], with stable snake_case names used by every binding and
/// by the CLI's JSON output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// `invalid_input`
    InvalidInput,
    /// `permanent`
    Permanent,
    /// `idempotency_conflict`
    IdempotencyConflict,
    /// `business_key_reused`
    BusinessKeyReused,
    /// `rate_limited`
    RateLimited,
    /// `transient`
    Transient,
    /// `deadline`
    Deadline,
    /// `invalid_response`
    InvalidResponse,
    /// `cancelled`
    Cancelled,
    /// `outcome_unknown`
    OutcomeUnknown,
    /// `deferred`
    Deferred,
}

impl ErrorKind {
    /// Every kind, in the order of the outcome table.
    pub const ALL: [ErrorKind; 11] = [
        ErrorKind::InvalidInput,
        ErrorKind::Permanent,
        ErrorKind::IdempotencyConflict,
        ErrorKind::BusinessKeyReused,
        ErrorKind::RateLimited,
        ErrorKind::Transient,
        ErrorKind::Deadline,
        ErrorKind::InvalidResponse,
        ErrorKind::Cancelled,
        ErrorKind::OutcomeUnknown,
        ErrorKind::Deferred,
    ];

    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidInput => "invalid_input",
            ErrorKind::Permanent => "permanent",
            ErrorKind::IdempotencyConflict => "idempotency_conflict",
            ErrorKind::BusinessKeyReused => "business_key_reused",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::Transient => "transient",
            ErrorKind::Deadline => "deadline",
            ErrorKind::InvalidResponse => "invalid_response",
            ErrorKind::Cancelled => "cancelled",
            ErrorKind::OutcomeUnknown => "outcome_unknown",
            ErrorKind::Deferred => "deferred",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<ErrorKind> {
        ErrorKind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Whether trying again later with the same business key may succeed (rate limits,
    /// outages, deadlines, cancellations), as opposed to needing a change first.
    pub fn is_retryable_later(self) -> bool {
        matches!(
            self,
            ErrorKind::RateLimited
                | ErrorKind::Transient
                | ErrorKind::Deadline
                | ErrorKind::Cancelled
                | ErrorKind::Deferred
        )
    }
}

impl ErrorKind {
    /// Whether a publish that ended this way is recorded as a dead letter by a result store.
    /// Not: invalid input (nothing was attempted; the caller fixes it), a cancellation (the
    /// key is left for a later run), a reused business key (its published record stands), a
    /// deferral (the store keeps it as deferred, to be published once due).
    pub fn is_dead_lettered(self) -> bool {
        !matches!(
            self,
            ErrorKind::InvalidInput | ErrorKind::Cancelled | ErrorKind::BusinessKeyReused | ErrorKind::Deferred
        )
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a publish did not succeed. Each variant is one row of the outcome table; a new row may
/// come in a minor release, so a `match` needs a `_` arm (or match on [`PublishError::kind`]).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PublishError {
    /// The post (or the client's configuration) is invalid; nothing was sent.
    #[error("{0}")]
    InvalidInput(ValidationError),
    /// The server rejected the request; retrying the same request cannot help.
    #[error("permanent failure: {}", permanent_reason(*status, body, headers))]
    Permanent {
        /// The HTTP status.
        status: u16,
        /// The response body, cut to [`ERROR_BODY_LIMIT`].
        body: String,
        /// Requests sent.
        attempts: u32,
        /// The answer's headers.
        headers: ResponseHeaders,
    },
    /// The idempotency key was already used with a different payload.
    #[error("idempotency conflict: the server already holds a different post under this business key's idempotency key ({status}); the business key was reused for different content: give edited content a new business key")]
    IdempotencyConflict {
        /// The HTTP status (422).
        status: u16,
        /// The response body.
        body: String,
        /// Requests sent.
        attempts: u32,
        /// The answer's headers.
        headers: ResponseHeaders,
    },
    /// A result store holds this business key with a different payload.
    #[error("business key {business_key:?} was already used for a different payload (stored fingerprint {stored_fingerprint}, this payload {new_fingerprint}); give edited content a new business key")]
    BusinessKeyReused {
        /// The business key.
        business_key: String,
        /// The fingerprint stored with the earlier payload.
        stored_fingerprint: String,
        /// The fingerprint of this payload.
        new_fingerprint: String,
    },
    /// The server asked to wait longer than the policy allows (a 429's or any other answer's
    /// `Retry-After`, or a shared hold), or 429s went on past their limit.
    #[error("rate limited: the server asked to wait {retry_after:?}{} after {attempts} attempt(s); reschedule the post for later with the same business key", answering(*status))]
    RateLimited {
        /// How long the server asked to wait.
        retry_after: Duration,
        /// The status of the answer that asked: 429, or another (a `503` with a long
        /// `Retry-After`); 429 for a shared hold that ended the publish before sending.
        status: u16,
        /// Requests sent.
        attempts: u32,
        /// The 429's headers (empty when the client's shared gate ended the publish before
        /// sending, since an earlier 429 asked every publish to wait that long).
        headers: ResponseHeaders,
    },
    /// Every attempt failed with a retryable failure.
    #[error("transient failure after {attempts} attempt(s): {last}; the post may or may not exist, and publishing again later with the same business key is safe")]
    Transient {
        /// The last failure.
        last: Failure,
        /// Requests sent.
        attempts: u32,
    },
    /// The next wait or attempt would end past the deadline.
    #[error("deadline exceeded after {attempts} attempt(s){}; the post may or may not exist, and publishing again later with the same business key is safe", last.as_ref().map(|l| format!(" (last: {l})")).unwrap_or_default())]
    DeadlineExceeded {
        /// The last failure, if any.
        last: Option<Failure>,
        /// Requests sent.
        attempts: u32,
    },
    /// A 2xx whose body is not `{id, status}`.
    #[error("invalid response: the server answered {status} but {reason}; the post may exist, and publishing again with the same business key is safe (the server replays the original answer): {body}")]
    InvalidResponse {
        /// The HTTP status.
        status: u16,
        /// What was wrong with the body.
        reason: String,
        /// The body, cut to [`ERROR_BODY_LIMIT`].
        body: String,
        /// Requests sent.
        attempts: u32,
        /// The answer's headers.
        headers: ResponseHeaders,
    },
    /// A publish of this business key was sent longer ago than the server keeps idempotency
    /// keys, and its outcome was never recorded (a crash between the send and the record):
    /// sending again could publish the post a second time, so it is not sent. A person checks
    /// whether the post exists, then publishes it with `force` (`postato dlq retry --force`).
    #[error("outcome unknown: this business key was first sent {:.1} h ago, longer than the server keeps idempotency keys ({:.1} h), and its outcome was never recorded; it was not sent again, since the server would publish it a second time: check whether the post exists, then publish it with force (postato dlq retry --force)", *age_ms as f64 / 3_600_000.0, *retention_ms as f64 / 3_600_000.0)]
    OutcomeUnknown {
        /// When the first request was about to be sent, in ms since the Unix epoch.
        first_sent_at_ms: u64,
        /// Milliseconds since then.
        age_ms: u64,
        /// The idempotency-key retention it exceeds, in ms.
        retention_ms: u64,
    },
    /// A [`Publisher`](https://docs.rs/postato)'s post whose rate limit holds longer than the
    /// policy waits (the server asked for it, or its account's limit is known to be spent):
    /// recorded in the result store as deferred until `retry_at`, not dead-lettered, and
    /// nothing more is sent for it until then. Publishing it again once due (or publishing the
    /// store's due posts) sends it. A plain client without a store ends `RateLimited` instead.
    #[error("deferred: its rate limit holds for {retry_after:?} more, until {}, after {attempts} attempt(s); it is kept as deferred and nothing is sent for it until then: publish it again after that time, or publish the store's due posts then", retry_at.to_rfc3339())]
    Deferred {
        /// When it may be sent again.
        retry_at: Timestamp,
        /// How long from the deferral until then.
        retry_after: Duration,
        /// Requests sent by this publish.
        attempts: u32,
    },
    /// The caller cancelled the publish; nothing is retried after it.
    #[error("cancelled after {attempts} attempt(s); the post may or may not exist, and publishing again with the same business key is safe")]
    Cancelled {
        /// Requests sent.
        attempts: u32,
    },
}

impl PublishError {
    /// The error's kind.
    pub fn kind(&self) -> ErrorKind {
        match self {
            PublishError::InvalidInput(_) => ErrorKind::InvalidInput,
            PublishError::Permanent { .. } => ErrorKind::Permanent,
            PublishError::IdempotencyConflict { .. } => ErrorKind::IdempotencyConflict,
            PublishError::BusinessKeyReused { .. } => ErrorKind::BusinessKeyReused,
            PublishError::RateLimited { .. } => ErrorKind::RateLimited,
            PublishError::Transient { .. } => ErrorKind::Transient,
            PublishError::DeadlineExceeded { .. } => ErrorKind::Deadline,
            PublishError::InvalidResponse { .. } => ErrorKind::InvalidResponse,
            PublishError::Cancelled { .. } => ErrorKind::Cancelled,
            PublishError::OutcomeUnknown { .. } => ErrorKind::OutcomeUnknown,
            PublishError::Deferred { .. } => ErrorKind::Deferred,
        }
    }

    /// The HTTP status the error is about, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            PublishError::Permanent { status, .. }
            | PublishError::IdempotencyConflict { status, .. }
            | PublishError::InvalidResponse { status, .. } => Some(*status),
            PublishError::RateLimited { status, .. } => Some(*status),
            PublishError::Transient { last, .. } => last.status(),
            PublishError::DeadlineExceeded { last, .. } => last.as_ref().and_then(Failure::status),
            _ => None,
        }
    }

    /// The response body the error is about, if any.
    pub fn body(&self) -> Option<&str> {
        match self {
            PublishError::Permanent { body, .. }
            | PublishError::IdempotencyConflict { body, .. }
            | PublishError::InvalidResponse { body, .. }
            | PublishError::Transient { last: Failure::Status { body, .. }, .. }
            | PublishError::DeadlineExceeded { last: Some(Failure::Status { body, .. }), .. } => Some(body),
            _ => None,
        }
    }

    /// Requests sent before the error (0 when nothing was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            PublishError::InvalidInput(_)
            | PublishError::BusinessKeyReused { .. }
            | PublishError::OutcomeUnknown { .. } => 0,
            PublishError::Permanent { attempts, .. }
            | PublishError::IdempotencyConflict { attempts, .. }
            | PublishError::RateLimited { attempts, .. }
            | PublishError::Transient { attempts, .. }
            | PublishError::DeadlineExceeded { attempts, .. }
            | PublishError::InvalidResponse { attempts, .. }
            | PublishError::Deferred { attempts, .. }
            | PublishError::Cancelled { attempts } => *attempts,
        }
    }

    /// The headers of the answer the error is about: the final answer, or the last retryable
    /// one for `Transient` and `DeadlineExceeded`. `None` when no answer is behind the error.
    pub fn headers(&self) -> Option<&ResponseHeaders> {
        let headers = match self {
            PublishError::Permanent { headers, .. }
            | PublishError::IdempotencyConflict { headers, .. }
            | PublishError::InvalidResponse { headers, .. }
            | PublishError::RateLimited { headers, .. } => Some(headers),
            PublishError::Transient { last, .. } => last.headers(),
            PublishError::DeadlineExceeded { last, .. } => last.as_ref().and_then(Failure::headers),
            _ => None,
        };
        headers.filter(|h| !h.is_empty())
    }

    /// The server's request id for the answer the error is about (see
    /// [`PublishError::headers`]), if it sent one.
    pub fn request_id(&self) -> Option<&str> {
        self.headers().and_then(ResponseHeaders::request_id)
    }

    /// The wait the server asked for, for `RateLimited`; the wait until the post is due, for
    /// `Deferred`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            PublishError::RateLimited { retry_after, .. } | PublishError::Deferred { retry_after, .. } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// When a `Deferred` post may be sent again.
    pub fn retry_at(&self) -> Option<Timestamp> {
        match self {
            PublishError::Deferred { retry_at, .. } => Some(*retry_at),
            _ => None,
        }
    }

    /// The invalid field, for `InvalidInput`.
    pub fn field(&self) -> Option<&str> {
        match self {
            PublishError::InvalidInput(e) => Some(&e.field),
            _ => None,
        }
    }

    /// Whether this is an `InvalidInput` about a setting (a client's, a store's or a call's
    /// option, such as a missing API key or an untrusted certificate) rather than about the
    /// post: every language raises its own settings error for it (`InvalidSettingError`,
    /// `PostatoException.InvalidSetting`), still of kind `invalid_input`.
    pub fn is_setting(&self) -> bool {
        matches!(self, PublishError::InvalidInput(e) if e.subject == crate::validate::Subject::Setting)
    }
}

impl From<ValidationError> for PublishError {
    fn from(e: ValidationError) -> Self {
        PublishError::InvalidInput(e)
    }
}

/// Why a permanent failure happened and what to do, by status: 401 names the API key, 403
/// its permissions, a redirect its `Location` and why it is not followed; then the server's
/// body, when it sent one.
fn permanent_reason(status: u16, body: &str, headers: &ResponseHeaders) -> String {
    let advice = match status {
        401 => "the API key was refused: check the key given (or POSTATO_API_KEY) and that it is one of this workspace's".to_owned(),
        403 => "the API key may not publish this post: check the key's permissions for the workspace and the account, and the account itself".to_owned(),
        300..=399 => format!(
            "a redirect to {}, never followed (the post and the API key would go to another address): check the base URL",
            headers.get("location").map_or_else(|| "no Location".to_owned(), crate::secret::without_credentials)
        ),
        _ => "fix the request before publishing again".to_owned(),
    };
    let body = body.trim();
    let body = if body.is_empty() { String::new() } else { format!(": {body}") };
    format!("the server answered {status} and the request was not retried; {advice}{body}")
}

/// ` (it answered 503)` for a wait asked by an answer other than a 429, else nothing.
fn answering(status: u16) -> String {
    match status {
        429 => String::new(),
        other => format!(" (it answered {other})"),
    }
}

/// Cuts `bytes` to [`ERROR_BODY_LIMIT`] as lossy UTF-8, marking the cut.
pub fn body_text(bytes: &[u8]) -> String {
    if bytes.len() <= ERROR_BODY_LIMIT {
        return String::from_utf8_lossy(bytes).into_owned();
    }
    let mut text = String::from_utf8_lossy(&bytes[..ERROR_BODY_LIMIT]).into_owned();
    text.push_str("… (truncated)");
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_found_in_any_case_and_mapped_by_lowercase_name() {
        let headers = ResponseHeaders::new(vec![
            ("Request-Id".into(), "r-2".into()),
            ("X-Request-Id".into(), "r-1".into()),
            ("Warning".into(), "a".into()),
            ("warning".into(), "b".into()),
            ("Set-Cookie".into(), "session=secret".into()),
        ]);
        assert_eq!(headers.request_id(), Some("r-1"), "X-Request-Id comes first");
        assert_eq!(headers.get("WARNING"), Some("a"));
        let map = headers.to_map();
        assert_eq!(map.get("warning").map(String::as_str), Some("a, b"));
        assert_eq!(map.get("request-id").map(String::as_str), Some("r-2"));
        assert!(!map.contains_key("set-cookie"), "a session never reaches an exception");
        assert_eq!(ResponseHeaders::new(vec![("Request-Id".into(), "r-2".into())]).request_id(), Some("r-2"));
        assert_eq!(ResponseHeaders::default().request_id(), None);
    }
}
