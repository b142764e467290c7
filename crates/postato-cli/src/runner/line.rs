//! One campaign line through the Publisher, and its [`Outcome`]: tallied (published, already
//! published or dead-lettered), deferred until its rate limit lifts, left for a later pass
//! because another worker holds its key, or cancelled. Lines that are not posts, and posts that are invalid, are dead-lettered here (with
//! their line number and text or payload); the Publisher records its own failures.

use postato::{CancellationToken, DeadLetter, ErrorKind, Failure, PublishError, Publisher, Timestamp};
use std::sync::atomic::Ordering;
use tokio::sync::Semaphore;

use super::tally::Tally;
use crate::campaign::{self, CampaignLine};
use crate::events::{EventLog, LineOutcome};

/// What became of a line.
#[derive(Debug)]
pub(super) enum Outcome {
    /// Published, already published, or dead-lettered: counted in the tally.
    Done,
    /// Deferred until its rate limit lifts (kept in the store, counted in the tally): the line
    /// comes back, for `--wait`.
    Deferred { until: Timestamp, item: CampaignLine },
    /// Another worker holds its business key; nothing was counted, a later pass finishes it.
    HeldByAnotherWorker,
    /// Cancelled: in flight by a second Ctrl-C, or waiting for a request slot when the run
    /// stopped (a first signal, a setting error); nothing was counted, and running again is safe.
    Cancelled,
}

/// What a line runs within: the run's cancellation, the permits of requests in flight, and
/// whether a key another worker holds is left for a later pass.
pub(super) struct Within<'a> {
    pub cancel: &'a CancellationToken,
    pub requests: &'a Semaphore,
    pub skip_held: bool,
}

/// Publishes one line and counts the result in `tally`, its requests holding one of
/// `within.requests`' permits. With `within.skip_held`, a key that another worker holds is not
/// waited for: the line is left, [`Outcome::HeldByAnotherWorker`].
pub(super) async fn process(
    publisher: &Publisher,
    item: CampaignLine,
    tally: &Tally,
    within: Within<'_>,
    events: Option<&EventLog>,
) -> Outcome {
    let line = item.line;
    // Only an event log shows the account: no string is made for it otherwise.
    let account = events.and(item.post.as_ref().ok()).map(|post| format!("{}/{}", post.platform, post.account_id));
    let log = |business_key: &str, outcome: &'static str, kind: Option<&str>, attempts: u32, until_ms: Option<u64>| {
        if let Some(events) = events {
            let account = account.clone();
            let recorded = true;
            events.outcome(LineOutcome { line, business_key, account, outcome, kind, attempts, until_ms, recorded });
        }
    };
    let invalid = |business_key: String, message: String| DeadLetter {
        business_key,
        kind: ErrorKind::InvalidInput.as_str().to_owned(),
        status: None,
        message,
        body: None,
        attempts: 0,
        failed_at_ms: crate::now_ms(),
        payload: None,
        line: Some(item.line),
    };
    let letter = match &item.post {
        Err(unreadable) => Some(DeadLetter {
            body: Some(unreadable.text.clone()),
            ..invalid(unreadable.business_key.clone(), unreadable.reason.clone())
        }),
        Ok(post) => {
            let mut call = publisher.publish_with(post).line(item.line).cancel_on(within.cancel);
            call = call.sends_within(within.requests);
            if item.force {
                call = call.force();
            }
            let published = if within.skip_held { call.try_send().await } else { call.send().await.map(Some) };
            match published {
                Ok(None) => return Outcome::HeldByAnotherWorker,
                Err(e) if e.kind() == ErrorKind::Cancelled => return Outcome::Cancelled,
                Err(PublishError::Deferred { retry_at, attempts, .. }) => {
                    log(&post.business_key, "deferred", None, attempts, Some(retry_at.as_millis()));
                    tally.count_deferred(item.line, retry_at);
                    return Outcome::Deferred { until: retry_at, item };
                }
                Ok(Some(report)) => {
                    let outcome = if report.from_store { "already_published" } else { "published" };
                    if let Some(events) = events {
                        events.outcome(LineOutcome {
                            line,
                            business_key: &post.business_key,
                            account: account.clone(),
                            outcome,
                            kind: None,
                            attempts: report.published.attempts,
                            until_ms: None,
                            recorded: report.store_error.is_none(),
                        });
                    }
                    let counter = if report.from_store { &tally.already_published } else { &tally.published };
                    counter.fetch_add(1, Ordering::Relaxed);
                    if report.store_error.is_some() {
                        tally.store_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    None
                }
                Err(error) if error.is_setting() => {
                    // A setting holds for every post: nothing is dead-lettered, the run stops,
                    // and no line waiting to send does.
                    tally.stop_for_setting(error);
                    within.requests.close();
                    return Outcome::Cancelled;
                }
                Err(PublishError::InvalidInput(invalid_post)) => {
                    let key = if postato::check_business_key(&post.business_key).is_err() {
                        campaign::line_key(&item.campaign, item.line)
                    } else {
                        post.business_key.clone()
                    };
                    Some(DeadLetter {
                        payload: serde_json::to_string(post).ok(),
                        ..invalid(key, campaign::what_is_wrong(&invalid_post))
                    })
                }
                Err(PublishError::Transient { last: Failure::StoreUnavailable(_), .. }) => {
                    // Nothing was sent and nothing recorded: running again finishes it.
                    log(&post.business_key, "store_error", None, 0, None);
                    tally.store_errors.fetch_add(1, Ordering::Relaxed);
                    None
                }
                Err(e) => {
                    // The Publisher recorded this dead letter itself.
                    log(&post.business_key, "dead_lettered", Some(e.kind().as_str()), e.attempts(), None);
                    tally.count_dead_letter(e.kind().as_str());
                    None
                }
            }
        }
    };
    if let Some(letter) = letter {
        log(&campaign::shown_key(&letter.business_key), "dead_lettered", Some(&letter.kind), 0, None);
        match publisher.store().record_dead_letter(&letter, publisher.worker()).await {
            Ok(()) => publisher.client().count_dead_letter(&letter.kind),
            Err(e) => {
                tracing::error!(business_key = letter.business_key.as_str(), error = %e, "could not record a dead letter")
            }
        }
        tally.count_dead_letter(&letter.kind);
    }
    tally.count_done(line);
    Outcome::Done
}
