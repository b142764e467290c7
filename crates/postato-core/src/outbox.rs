//! A post's outbox entry: what an application writes into its own database, in its own
//! transaction, for a worker to publish once that transaction commits (the transactional
//! outbox). The entry is made by the rules of a publish, here and nowhere else, so every
//! language's enqueue agrees with every other's and with the worker that sends it: the post is
//! validated as a publish validates it, and keyed by its business key, with the fingerprint
//! that tells the same post from another under that key.

use std::time::Duration;

use crate::{
    payload_fingerprint, request::check_body_size, ErrorKind, Failure, Post, PublishError, Timestamp, ValidationError,
};

/// How long a row waits before it is taken again when its publish could not reach the store,
/// or its publish was not recorded (the server's replay of it is recorded then).
pub const OUTBOX_STORE_RETRY: Duration = Duration::from_secs(5);

/// How long a row whose post another worker is publishing waits before it is looked at again.
pub const OUTBOX_HELD_RETRY: Duration = Duration::from_secs(2);

/// How long a row waits while no post can be published (a wrong setting, a refused API key).
pub const OUTBOX_BLOCKED_RETRY: Duration = Duration::from_secs(60);

/// A row whose publish failed for a reason that may pass is tried again this many times (its
/// deliveries), later each time, before it is dead-lettered.
pub const OUTBOX_MAX_DELIVERIES: u32 = 8;

/// What a worker does with an outbox row whose publish failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RowNext {
    /// Put it back, due at once (a cancelled publish).
    DueNow,
    /// Put it back, due at this time (a deferred post).
    DueAt(Timestamp),
    /// Put it back, due after this long.
    DueIn(Duration),
    /// Put it back, due after this long, and say that no post can be published until
    /// someone fixes a setting or the API key (none is dead-lettered meanwhile).
    Blocked(Duration),
    /// Mark it dead-lettered.
    DeadLetter,
}

impl RowNext {
    /// The row's next step after its `deliveries`th publish failed with `error`: a failure
    /// that holds for every post (a setting, a refused key) never dead-letters the backlog; one
    /// that may pass (the API or the network down, the retry budget spent, a deadline) is tried
    /// again 30 s, 1 min, 2 min, … later, until its [`OUTBOX_MAX_DELIVERIES`]th delivery.
    pub fn after_failure(error: &PublishError, deliveries: u32) -> RowNext {
        match error {
            PublishError::Deferred { retry_at, .. } => RowNext::DueAt(*retry_at),
            e if e.kind() == ErrorKind::Cancelled => RowNext::DueNow,
            PublishError::Transient { last: Failure::StoreUnavailable(_), .. } => RowNext::DueIn(OUTBOX_STORE_RETRY),
            e if e.is_setting() || matches!(e.status(), Some(401 | 403)) => RowNext::Blocked(OUTBOX_BLOCKED_RETRY),
            e if may_pass(e) && deliveries < OUTBOX_MAX_DELIVERIES => {
                RowNext::DueIn(Duration::from_secs(30 << deliveries.saturating_sub(1).min(7)))
            }
            _ => RowNext::DeadLetter,
        }
    }
}

impl RowNext {
    /// Whether `error` counts among a row's failed deliveries (of which the
    /// [`OUTBOX_MAX_DELIVERIES`]th dead-letters it): only a failure the API answered (an error
    /// status, a rate limit, a deadline passed after an error status). A network that cannot be
    /// reached (a phone offline), an attempt that timed out, a retry budget spent, a store that
    /// cannot answer or a cancel says nothing of the post, and never dead-letters it.
    pub fn counts(error: &PublishError) -> bool {
        match error {
            PublishError::Transient { last, .. } => matches!(last, Failure::Status { .. }),
            PublishError::DeadlineExceeded { last, .. } => matches!(last, Some(Failure::Status { .. })),
            e => matches!(e.kind(), ErrorKind::RateLimited | ErrorKind::Permanent),
        }
    }
}

/// A failure that may pass by itself: tried again later rather than dead-lettered at once.
fn may_pass(error: &PublishError) -> bool {
    matches!(error.kind(), ErrorKind::Transient | ErrorKind::RateLimited | ErrorKind::Deadline)
}

/// The SQLSTATE of the error an enqueue of another post under an enqueued key raises (its
/// message begins `postato: business_key_reused`, its detail names both fingerprints).
pub const OUTBOX_REUSED: &str = "PT409";

/// The SQLSTATE of a call to a function that does not exist: the outbox was never created.
pub const OUTBOX_MISSING: &str = "42883";

/// What a database driver's error about an enqueue means, read from its SQLSTATE (never its
/// message, which may be translated): another post under an enqueued key, or an outbox not
/// created yet; `None` for anything else (the driver's own error stands). `detail` is the
/// error's detail (or its whole text), where the stored fingerprint is named.
pub fn outbox_error(
    sqlstate: Option<&str>,
    detail: Option<&str>,
    business_key: &str,
    fingerprint: &str,
) -> Option<PublishError> {
    match sqlstate? {
        OUTBOX_REUSED => {
            let stored = detail
                .and_then(|d| d.split("stored fingerprint ").nth(1))
                .and_then(|s| s.split(',').next())
                .unwrap_or("unknown");
            Some(PublishError::BusinessKeyReused {
                business_key: business_key.to_owned(),
                stored_fingerprint: stored.to_owned(),
                new_fingerprint: fingerprint.to_owned(),
            })
        }
        OUTBOX_MISSING => Some(PublishError::InvalidInput(ValidationError::setting(
            "outbox",
            "does not exist in this database yet: run `postato worker --store URL` once (or open a PostgresStore on \
             it) to create it",
        ))),
        _ => None,
    }
}

/// What an enqueue did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Enqueued {
    /// The post is in the outbox: published once the transaction commits.
    Enqueued,
    /// The same post was already enqueued under its key: nothing changed.
    AlreadyEnqueued,
}

/// One post, ready to be written into an outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The post's business key: one entry per key.
    pub business_key: String,
    /// The fingerprint of the post's request body: the same post enqueued again is a no-op,
    /// another post under its key is refused (`business_key_reused`).
    pub fingerprint: String,
    /// The post as JSON (the campaign-line format), which the worker publishes.
    pub payload: String,
    /// Not sent before this time (ms since the Unix epoch; 0: at once). A post's own
    /// `scheduledAt` is kept in its payload, for the server.
    pub not_before_ms: u64,
}

impl OutboxEntry {
    /// The entry of `post`, sent no earlier than `not_before`; an invalid post is refused with
    /// the error a publish of it would end with, before anything is written.
    pub fn of(post: &Post, not_before: Option<Timestamp>) -> Result<Self, ValidationError> {
        post.validate()?;
        let body = post.wire_body();
        check_body_size(&body)?;
        let payload = serde_json::to_string(post).map_err(|e| ValidationError::new("post", e.to_string()))?;
        Ok(OutboxEntry {
            business_key: post.business_key.clone(),
            fingerprint: payload_fingerprint(&body),
            payload,
            not_before_ms: not_before.map_or(0, Timestamp::as_millis),
        })
    }

    /// The post of a stored payload, checked again (the row may have been written by hand).
    pub fn post_of(payload: &str) -> Result<Post, ValidationError> {
        let post = Post::from_json(payload)?;
        post.validate()?;
        Ok(post)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PostStatus;

    #[test]
    fn an_entry_is_the_post_as_a_publish_sees_it() {
        let post = Post::new("k-1", "x", "acc_1", PostStatus::Publish, "post", "hello");
        let entry = OutboxEntry::of(&post, Some(Timestamp::from_millis(42))).unwrap();
        assert_eq!(entry.business_key, "k-1");
        assert_eq!(entry.fingerprint, payload_fingerprint(&post.wire_body()));
        assert_eq!(entry.not_before_ms, 42);
        assert_eq!(OutboxEntry::post_of(&entry.payload).unwrap(), post);
        let edited = Post::new("k-1", "x", "acc_1", PostStatus::Publish, "post", "edited");
        assert_ne!(OutboxEntry::of(&edited, None).unwrap().fingerprint, entry.fingerprint);
        assert_eq!(OutboxEntry::of(&edited, None).unwrap().not_before_ms, 0);
    }

    #[test]
    fn a_failed_row_waits_or_is_dead_lettered_by_what_failed() {
        use std::time::Duration;
        let transient = PublishError::Transient {
            attempts: 5,
            last: Failure::Status { status: 503, body: String::new(), headers: Default::default() },
        };
        assert_eq!(RowNext::after_failure(&transient, 1), RowNext::DueIn(Duration::from_secs(30)));
        assert_eq!(RowNext::after_failure(&transient, 3), RowNext::DueIn(Duration::from_secs(120)));
        assert_eq!(RowNext::after_failure(&transient, OUTBOX_MAX_DELIVERIES), RowNext::DeadLetter);
        let store = PublishError::Transient { attempts: 0, last: Failure::StoreUnavailable("down".into()) };
        assert_eq!(RowNext::after_failure(&store, 20), RowNext::DueIn(OUTBOX_STORE_RETRY));
        let refused =
            PublishError::Permanent { status: 401, body: String::new(), attempts: 1, headers: Default::default() };
        assert_eq!(RowNext::after_failure(&refused, 20), RowNext::Blocked(OUTBOX_BLOCKED_RETRY));
        let rejected =
            PublishError::Permanent { status: 422, body: String::new(), attempts: 1, headers: Default::default() };
        assert_eq!(RowNext::after_failure(&rejected, 1), RowNext::DeadLetter);
        let at = Timestamp::from_millis(42);
        let deferred = PublishError::Deferred { retry_at: at, retry_after: Duration::ZERO, attempts: 1 };
        assert_eq!(RowNext::after_failure(&deferred, 1), RowNext::DueAt(at));
        assert_eq!(RowNext::after_failure(&PublishError::Cancelled { attempts: 1 }, 1), RowNext::DueNow);
    }

    #[test]
    fn only_a_failure_the_api_answered_counts_as_a_delivery() {
        use crate::{TransportFailure, TransportFailureKind};
        let status = Failure::Status { status: 503, body: String::new(), headers: Default::default() };
        assert!(RowNext::counts(&PublishError::Transient { attempts: 5, last: status }));
        let offline = Failure::Transport(TransportFailure::new(TransportFailureKind::Connect, "network unreachable"));
        assert!(!RowNext::counts(&PublishError::Transient { attempts: 5, last: offline }));
        assert!(!RowNext::counts(&PublishError::Transient {
            attempts: 0,
            last: Failure::StoreUnavailable("x".into())
        }));
        assert!(!RowNext::counts(&PublishError::Transient { attempts: 1, last: Failure::BudgetExhausted }));
        assert!(!RowNext::counts(&PublishError::Cancelled { attempts: 1 }));
        let offline_past_deadline = PublishError::DeadlineExceeded { attempts: 3, last: None };
        assert!(!RowNext::counts(&offline_past_deadline));
    }

    #[test]
    fn a_drivers_error_is_read_by_its_sqlstate() {
        let reused = outbox_error(Some("PT409"), Some("stored fingerprint abc, this post def"), "k", "def").unwrap();
        let crate::PublishError::BusinessKeyReused { stored_fingerprint, .. } = &reused else { panic!("{reused:?}") };
        assert_eq!(stored_fingerprint, "abc");
        assert_eq!(outbox_error(Some("42883"), None, "k", "f").unwrap().kind(), crate::ErrorKind::InvalidInput);
        assert!(outbox_error(Some("40001"), Some("function postato_enqueue does not exist"), "k", "f").is_none());
        assert!(outbox_error(None, None, "k", "f").is_none());
    }

    #[test]
    fn an_invalid_post_is_refused_as_a_publish_refuses_it() {
        let blank = Post::new("k-2", "x", "acc_1", PostStatus::Publish, "post", " ");
        assert_eq!(OutboxEntry::of(&blank, None).unwrap_err().field, "content");
        let huge = Post::new("k-3", "x", "acc_1", PostStatus::Publish, "post", "x".repeat(2 << 20));
        assert_eq!(OutboxEntry::of(&huge, None).unwrap_err().field, "post");
        assert!(OutboxEntry::post_of("{}").is_err());
    }
}
