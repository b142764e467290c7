//! `PostatoError` (Kotlin: `PostatoException`, Swift: `PostatoError`): one case per error
//! kind, with its fields. Messages never contain the API key.

use postato_bindings::PublishError;
use std::collections::HashMap;

/// Why a call failed.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum PostatoError {
    /// The post is invalid; nothing was sent. `field` names the culprit.
    #[error("{reason}")]
    InvalidPost { reason: String, field: Option<String> },
    /// A setting is missing or invalid (an option, the API key, an untrusted certificate);
    /// nothing was sent. `field` names it.
    #[error("{reason}")]
    InvalidSetting { reason: String, field: Option<String> },
    /// The server rejected the request; retrying cannot help.
    #[error("{reason}")]
    Permanent { reason: String, status: u16, body: Option<String>, attempts: u32, meta: ResponseMeta },
    /// The business key was reused for different content (server-side).
    #[error("{reason}")]
    IdempotencyConflict { reason: String, status: u16, body: Option<String>, attempts: u32, meta: ResponseMeta },
    /// The store holds this business key with a different payload.
    #[error("{reason}")]
    BusinessKeyReused { reason: String },
    /// Every attempt failed with a retryable failure; retrying later is safe.
    #[error("{reason}")]
    Transient { reason: String, status: Option<u16>, body: Option<String>, attempts: u32, meta: ResponseMeta },
    /// The server asked to wait longer than allowed: reschedule. `status` is the answer's that
    /// asked (429, or a 503 with a long Retry-After).
    #[error("{reason}")]
    RateLimited { reason: String, status: u16, retry_after_ms: u64, attempts: u32, meta: ResponseMeta },
    /// The deadline passed; retrying later is safe.
    #[error("{reason}")]
    DeadlineExceeded { reason: String, status: Option<u16>, attempts: u32, meta: ResponseMeta },
    /// A 2xx whose body is not `{id, status}`; retrying is safe.
    #[error("{reason}")]
    InvalidResponse { reason: String, status: u16, body: Option<String>, attempts: u32, meta: ResponseMeta },
    /// Cancelled; nothing is retried after it.
    #[error("{reason}")]
    Cancelled { reason: String, attempts: u32 },
    /// Sent longer ago than the server keeps idempotency keys, with no recorded outcome: not
    /// sent again. Check whether the post exists, then `publish(post, force = true)` (Swift:
    /// `publish(post:force:)`).
    #[error("{reason}")]
    OutcomeUnknown { reason: String, first_sent_at_ms: u64 },
    /// A Publisher's post whose rate limit holds longer than it waits: kept in the store as
    /// deferred until `retry_at`, not dead-lettered, and nothing is sent for it before then.
    /// Publish it again after that time, or call `publishDue`.
    #[error("{reason}")]
    Deferred { reason: String, retry_at: std::time::SystemTime, retry_after_ms: u64, attempts: u32 },
    /// A result store or the simulator failed.
    #[error("{reason}")]
    Store { reason: String },
    /// A bug inside postato (a panic), caught at the boundary.
    #[error("{reason}")]
    Internal { reason: String },
}

/// The answer an error is about: its headers (lowercase names) and the server's request id;
/// empty when no answer is behind the error.
#[derive(Clone, Debug, Default, PartialEq, Eq, uniffi::Record)]
pub struct ResponseMeta {
    pub headers: HashMap<String, String>,
    pub request_id: Option<String>,
}

impl From<PublishError> for PostatoError {
    fn from(e: PublishError) -> Self {
        let reason = e.to_string();
        let body = e.body().map(str::to_owned);
        let attempts = e.attempts();
        let meta = ResponseMeta {
            headers: e.headers().map(|h| h.to_map().into_iter().collect()).unwrap_or_default(),
            request_id: e.request_id().map(str::to_owned),
        };
        match &e {
            PublishError::InvalidInput(v) if e.is_setting() => {
                PostatoError::InvalidSetting { reason, field: Some(v.field.clone()) }
            }
            PublishError::InvalidInput(v) => PostatoError::InvalidPost { reason, field: Some(v.field.clone()) },
            PublishError::Permanent { status, .. } => {
                PostatoError::Permanent { reason, status: *status, body, attempts, meta }
            }
            PublishError::IdempotencyConflict { status, .. } => {
                PostatoError::IdempotencyConflict { reason, status: *status, body, attempts, meta }
            }
            PublishError::BusinessKeyReused { .. } => PostatoError::BusinessKeyReused { reason },
            PublishError::RateLimited { retry_after, status, .. } => PostatoError::RateLimited {
                reason,
                status: *status,
                retry_after_ms: retry_after.as_millis().min(u128::from(u64::MAX)) as u64,
                attempts,
                meta,
            },
            PublishError::Transient { .. } => {
                PostatoError::Transient { reason, status: e.status(), body, attempts, meta }
            }
            PublishError::DeadlineExceeded { .. } => {
                PostatoError::DeadlineExceeded { reason, status: e.status(), attempts, meta }
            }
            PublishError::InvalidResponse { status, .. } => {
                PostatoError::InvalidResponse { reason, status: *status, body, attempts, meta }
            }
            PublishError::Cancelled { .. } => PostatoError::Cancelled { reason, attempts },
            PublishError::OutcomeUnknown { first_sent_at_ms, .. } => {
                PostatoError::OutcomeUnknown { reason, first_sent_at_ms: *first_sent_at_ms }
            }
            PublishError::Deferred { retry_at, retry_after, .. } => PostatoError::Deferred {
                reason,
                retry_at: std::time::UNIX_EPOCH + std::time::Duration::from_millis(retry_at.as_millis()),
                retry_after_ms: retry_after.as_millis().min(u128::from(u64::MAX)) as u64,
                attempts,
            },
            _ => PostatoError::Internal { reason },
        }
    }
}

impl From<postato_bindings::ValidationError> for PostatoError {
    fn from(e: postato_bindings::ValidationError) -> Self {
        PublishError::InvalidInput(e).into()
    }
}

impl PostatoError {
    pub fn store(e: impl std::fmt::Display) -> Self {
        PostatoError::Store { reason: e.to_string() }
    }

    pub fn internal(reason: String) -> Self {
        PostatoError::Internal { reason }
    }
}
