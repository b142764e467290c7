//! # postato-core
//!
//! Everything about publishing one post to the Postato API retry-safely, as pure logic in the
//! sans-IO style: the caller tells the [`PublishMachine`] the time and the outcome of each
//! attempt; it answers what to do next ([`Action`]: send, wait, done). This crate never opens
//! a socket, reads a clock, sleeps, or draws from a global random generator.
//!
//! It owns the [`Post`] model and its validation, the [`idempotency_key`] (byte-compatible
//! with the reference), the [`Request`] (serialised once, identical on every attempt), the
//! [`RetryPolicy`], the classification of each outcome, [`Event`]s for every decision, the
//! [`SharedLimits`] a client shares across publishes, and the seams ([`Transport`],
//! [`Clock`]) with a runtime-agnostic [`drive`]r.
//!
//! ## The outcome table
//!
//! | outcome | decision |
//! |---|---|
//! | 2xx with a body `{id, status}` | done: published |
//! | 2xx whose body is not that | `InvalidResponse`: not retried; the post may exist, and retrying with the same business key is safe |
//! | 400, 401, 403, 404, 413, 415 and other 4xx not listed (and unexpected 1xx/3xx) | `Permanent`: never retried |
//! | 408 Request Timeout, 409 Conflict (request in progress) | retried with backoff, same key |
//! | 422 with error code `idempotency_key_reused` | `IdempotencyConflict`: never retried |
//! | 429 | wait Retry-After (seconds or HTTP-date; missing, unreadable or zero: 1 s), retry with the same key; these waits do not use up attempts but are capped (20) and bounded by the deadline; a Retry-After above `max_retry_after` (60 s) ends with `RateLimited` |
//! | 500, 502, 503, 504 and other 5xx except 501, 505 | retried with backoff; a 503's Retry-After is a minimum (capped at `max_retry_after`) |
//! | 501, 505 | `Permanent` |
//! | transport failure | retried with backoff, same key |
//! | cancellation | `Cancelled`, never retried |
//! | attempts exhausted | `Transient` with the last failure and the attempts |
//! | next wait past the deadline | `DeadlineExceeded` |
//!
//! ## Driving the machine by hand
//!
//! ```
//! use postato_core::*;
//!
//! let post = Post::new("draft-1", "x", "acc_1", PostStatus::Publish, "post", "hello");
//! let request = Request::new(&post, "ws_1", &ApiKey::new("secret"), "rust").unwrap();
//! let mut now = Timestamp::from_millis(1_000);
//! let mut machine = PublishMachine::new(request, RetryPolicy::default(), 42, now);
//! let mut answers = vec![
//!     Response::new(202, r#"{"id":"post_1","status":"published"}"#),
//!     Response::new(429, "").with_header("Retry-After", "2"),
//!     Response::new(503, "down"),
//! ];
//! let published = loop {
//!     match machine.poll(now) {
//!         Action::Send(attempt) => {
//!             assert_eq!(attempt.request.idempotency_key(), idempotency_key("draft-1"));
//!             machine.handle_response(now, &answers.pop().unwrap());
//!         }
//!         Action::Wait { until } => now = until,
//!         Action::Done(result) => break result.unwrap(),
//!         Action::AwaitingOutcome => unreachable!(),
//!     }
//! };
//! assert_eq!(published.attempts, 3);
//! ```
//!
//! ## Semver: what may grow
//!
//! The error kinds, events and settings that a minor release may extend are
//! `#[non_exhaustive]`: [`PublishError`], [`ErrorKind`], [`Failure`], [`Event`], [`WaitReason`],
//! [`RetryPolicy`], [`RetryBudgetConfig`], [`Post`], …. Match on them with a `_` arm (or on
//! [`PublishError::kind`]); change a policy with its `with_*` methods, build a post with
//! [`Post::builder`]. Neither of these compiles outside this crate:
//!
//! ```compile_fail
//! fn exit_code(kind: postato_core::ErrorKind) -> u8 {
//!     use postato_core::ErrorKind::*;
//!     match kind {
//!         InvalidInput => 2,
//!         Permanent | IdempotencyConflict | BusinessKeyReused | InvalidResponse | OutcomeUnknown => 3,
//!         RateLimited | Transient | Deadline => 4,
//!         Cancelled => 130,
//!         Deferred => 5,
//!     }
//! }
//! ```
//!
//! ```compile_fail
//! let policy = postato_core::RetryPolicy { max_attempts: 3, ..Default::default() };
//! ```
//!
//! ```
//! let policy = postato_core::RetryPolicy::default().with_max_attempts(3);
//! assert_eq!(policy.max_attempts, 3);
//! ```
#![deny(missing_docs)]

pub mod bounds;
pub mod defaults;
mod driver;
mod error;
mod event;
mod key;
mod limits;
mod machine;
mod outbox;
mod policy;
mod post;
mod post_builder;
mod request;
mod response;
mod retry_after;
#[cfg(feature = "testing")]
pub mod scenario;
mod secret;
pub mod settings;
mod time;
mod validate;

pub use driver::{drive, Clock, Transport};
pub use error::{
    body_text, ErrorKind, Failure, PublishError, ResponseHeaders, TransportFailure, TransportFailureKind,
    ERROR_BODY_LIMIT, REQUEST_ID_HEADERS,
};
pub use event::{Decision, Event, WaitReason};
pub use key::{
    check_business_key_reuse, checked_idempotency_key, compose_business_key, idempotency_key, payload_fingerprint,
};
pub use limits::{
    Admission, GateSnapshot, LimitsSnapshot, PacingPlace, RateLimitGate, RetryBudget, RetryBudgetConfig, Scope,
    SharedLimits, WhenBudgetEmpty, MAX_IDLE_SCOPES,
};
pub use machine::{Action, NextSend, PublishMachine, Published, SendAttempt};
pub use outbox::{
    outbox_error, Enqueued, OutboxEntry, RowNext, OUTBOX_BLOCKED_RETRY, OUTBOX_HELD_RETRY, OUTBOX_MAX_DELIVERIES,
    OUTBOX_MISSING, OUTBOX_REUSED, OUTBOX_STORE_RETRY,
};
pub use policy::{Jitter, RetryPolicy};
pub use post::{format_timestamp, parse_timestamp, Content, Media, Post, PostStatus, ThreadItem};
pub use post_builder::PostBuilder;
pub use request::{Request, RequestParts, VERSION};
pub use response::{classify, parse_published_body, LimitScope, PublishedBody, Response, Verdict, LONGEST_SERVER_WAIT};
pub use retry_after::{format_http_date, parse_http_date, parse_retry_after};
pub use secret::{without_credentials, ApiKey, REDACTED};
pub use time::Timestamp;
pub use validate::{check_business_key, check_workspace_id, Subject, ValidationError};
