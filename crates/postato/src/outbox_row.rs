//! What becomes of an outbox row once its publish ended: one rule for PostgreSQL's worker
//! (`postato worker`) and a device's drain ([`LocalOutbox`](crate::LocalOutbox)). A failure is
//! decided by [`RowNext::after_failure`] (postato-core owns it); the rest is here: a publish
//! not recorded, a key another worker holds, a row whose post cannot be read.

use postato_core::{
    OutboxEntry, PublishError, RowNext, Timestamp, Transport, OUTBOX_HELD_RETRY, OUTBOX_MAX_DELIVERIES,
    OUTBOX_STORE_RETRY,
};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::publisher::{PublishReport, Publisher};
use crate::store::{now_ms, Begin, DeadLetter};

/// The next step for an outbox row.
#[derive(Clone, Debug)]
pub enum RowStep {
    /// Mark the row published: the post was published (now, or before: `from_store`).
    Published(PublishReport),
    /// Put the row back for `wait` (the outbox adds it to its own clock: the database's, or
    /// the device's wall clock, so that no two clocks are ever compared).
    PutBack {
        /// How long until it is due again.
        wait: Duration,
        /// Whether this counts among the row's failed deliveries ([`RowNext::counts`]).
        failed: bool,
        /// Why.
        why: PutBack,
    },
    /// Mark the row dead-lettered (after [`Publisher::dead_letter_row`], which records the
    /// dead letters a publish does not).
    DeadLetter(PublishError),
}

/// Why a row is put back.
#[derive(Clone, Debug)]
pub enum PutBack {
    /// Published, but the store could not record it: due again soon, when the server's
    /// replay of it is recorded.
    Unrecorded,
    /// Another worker holds the post's key: looked at again soon.
    Held,
    /// Its account's rate limit holds past what a publish waits: due when it lifts.
    Deferred,
    /// Its publish was cancelled (a stop, a drain's deadline): due at once.
    Cancelled,
    /// No post can be published until a setting or the API key is fixed; none is
    /// dead-lettered meanwhile.
    Blocked(PublishError),
    /// A failure that may pass (the API or the network down): tried again later.
    Failed(PublishError),
}

impl RowStep {
    /// The step after a publish (`try_send`: `None` when another worker holds the key) of a
    /// row whose deliveries failed `failures` times before this one, at `now` (the client's
    /// clock, which a deferral's time is on).
    pub(crate) fn after(
        outcome: Result<Option<PublishReport>, PublishError>,
        failures: u32,
        now: Timestamp,
    ) -> RowStep {
        let put_back = |wait, failed, why| RowStep::PutBack { wait, failed, why };
        let error = match outcome {
            Ok(Some(report)) if report.store_error.is_some() => {
                return put_back(OUTBOX_STORE_RETRY, false, PutBack::Unrecorded)
            }
            Ok(Some(report)) => return RowStep::Published(report),
            Ok(None) => return put_back(OUTBOX_HELD_RETRY, false, PutBack::Held),
            Err(error) => error,
        };
        // The how-manieth failure this is; one that does not count never reaches the limit.
        let failed = RowNext::counts(&error);
        let nth = if failed { failures.saturating_add(1) } else { failures.clamp(1, OUTBOX_MAX_DELIVERIES - 1) };
        match RowNext::after_failure(&error, nth) {
            RowNext::DueAt(retry_at) => put_back(retry_at.saturating_since(now), false, PutBack::Deferred),
            RowNext::DueNow => put_back(Duration::ZERO, false, PutBack::Cancelled),
            RowNext::Blocked(wait) => put_back(wait, false, PutBack::Blocked(error)),
            RowNext::DueIn(wait) => put_back(wait, failed, PutBack::Failed(error)),
            RowNext::DeadLetter => RowStep::DeadLetter(error),
        }
    }
}

impl<T: Transport> Publisher<T> {
    /// Publishes the post of an outbox row (its stored `payload`, read and checked again: a
    /// row may have been written by hand) whose publishes failed `failures` times before, and
    /// answers the row's next step. A key another publish holds is not waited for (the row is
    /// put back); `cancel` ends the publish (`PutBack::Cancelled`).
    pub async fn publish_row(&self, payload: &str, failures: u32, cancel: &CancellationToken) -> RowStep {
        let outcome = match OutboxEntry::post_of(payload) {
            Ok(post) => self.publish_with(&post).cancel_on(cancel).try_send().await,
            Err(invalid) => Err(PublishError::InvalidInput(invalid)),
        };
        RowStep::after(outcome, failures, self.client().now())
    }

    /// Records the dead letter of an outbox row that a publish did not record itself: a row
    /// whose post cannot be read, or whose key was reused (a publish records its other
    /// failures). Best effort: a key published meanwhile keeps its record; a store that cannot
    /// answer is named in the log.
    pub async fn dead_letter_row(&self, business_key: &str, error: &PublishError, payload: Option<String>) {
        if error.kind().is_dead_lettered() {
            return;
        }
        let letter = DeadLetter {
            business_key: business_key.to_owned(),
            kind: error.kind().as_str().to_owned(),
            status: None,
            message: error.to_string(),
            body: None,
            attempts: error.attempts(),
            failed_at_ms: now_ms(),
            payload,
            line: None,
        };
        let claimant = format!("{}/outbox", self.worker());
        let store = self.store();
        if let Ok(Begin::Claimed | Begin::ClaimedDeferred(_)) =
            store.begin(business_key, &claimant, Duration::from_secs(30)).await
        {
            match store.record_dead_letter(&letter, &claimant).await {
                Ok(()) => self.client().count_dead_letter(&letter.kind),
                Err(e) => {
                    let _ = store.release(business_key, &claimant).await;
                    tracing::error!(business_key, error = %e, "postato: could not record an outbox row's dead letter");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use postato_core::{Failure, Published, TransportFailure, TransportFailureKind};

    const NOW: Timestamp = Timestamp::from_millis(1_800_000_000_000);

    fn status(code: u16) -> PublishError {
        PublishError::Transient {
            attempts: 3,
            last: Failure::Status { status: code, body: String::new(), headers: Default::default() },
        }
    }

    fn offline() -> PublishError {
        let failure = TransportFailure::new(TransportFailureKind::Connect, "network unreachable");
        PublishError::Transient { attempts: 3, last: Failure::Transport(failure) }
    }

    fn report(store_error: Option<&str>) -> PublishReport {
        let published = Published {
            id: "post_1".into(),
            status: "published".into(),
            idempotency_key: "k".into(),
            attempts: 1,
            replayed: false,
            request_id: None,
        };
        PublishReport { published, from_store: false, store_error: store_error.map(str::to_owned) }
    }

    #[test]
    fn a_row_is_dead_lettered_at_its_eighth_failure_the_api_answered() {
        for failures in 0..OUTBOX_MAX_DELIVERIES - 1 {
            let RowStep::PutBack { wait, failed: true, why: PutBack::Failed(_) } =
                RowStep::after(Err(status(503)), failures, NOW)
            else {
                panic!("failure {} put the row back", failures + 1)
            };
            assert_eq!(wait, Duration::from_secs(30 << failures));
        }
        let last = RowStep::after(Err(status(503)), OUTBOX_MAX_DELIVERIES - 1, NOW);
        assert!(matches!(last, RowStep::DeadLetter(_)), "{last:?}");
    }

    #[test]
    fn a_network_out_of_reach_never_dead_letters_a_row_however_long_it_lasts() {
        for failures in [0, 3, OUTBOX_MAX_DELIVERIES - 1, OUTBOX_MAX_DELIVERIES + 20] {
            let step = RowStep::after(Err(offline()), failures, NOW);
            assert!(matches!(step, RowStep::PutBack { failed: false, why: PutBack::Failed(_), .. }), "{step:?}");
        }
    }

    #[test]
    fn a_held_key_an_unrecorded_publish_and_a_cancel_put_the_row_back_without_a_failure() {
        let held = RowStep::after(Ok(None), 7, NOW);
        assert!(
            matches!(held, RowStep::PutBack { wait, failed: false, why: PutBack::Held } if wait == OUTBOX_HELD_RETRY)
        );
        let unrecorded = RowStep::after(Ok(Some(report(Some("disk full")))), 7, NOW);
        assert!(matches!(unrecorded, RowStep::PutBack { failed: false, why: PutBack::Unrecorded, .. }));
        let cancelled = RowStep::after(Err(PublishError::Cancelled { attempts: 1 }), 7, NOW);
        assert!(matches!(cancelled, RowStep::PutBack { wait: Duration::ZERO, failed: false, .. }));
        assert!(matches!(RowStep::after(Ok(Some(report(None))), 7, NOW), RowStep::Published(_)));
        // A deferral's time, on the client's clock, becomes a wait from the client's now.
        let at = Timestamp::from_millis(NOW.as_millis() + 90_000);
        let deferred = PublishError::Deferred { retry_at: at, retry_after: Duration::ZERO, attempts: 1 };
        let step = RowStep::after(Err(deferred), 7, NOW);
        assert!(
            matches!(step, RowStep::PutBack { wait, failed: false, why: PutBack::Deferred } if wait == Duration::from_secs(90)),
            "{step:?}"
        );
    }
}
