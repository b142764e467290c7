//! Observability: every machine event becomes a `tracing` event and a metric (when the client
//! has [`Metrics`]), and user hooks are called: on retries, on [`Notice`]s (a past schedule,
//! a retry or a failure, what every language's logger and retry callback report, derived here
//! once) and on every event.

use postato_core::{ErrorKind, Event, WaitReason};

use crate::metrics::Metrics;
use std::sync::Arc;
use std::time::Duration;

/// What a retry hook is told.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryInfo {
    /// The post's business key.
    pub business_key: String,
    /// The attempt that follows the wait.
    pub next_attempt: u32,
    /// How long the publish waits first.
    pub delay: Duration,
    /// Why.
    pub reason: WaitReason,
}

/// A hook called before each retry.
pub type RetryHook = Arc<dyn Fn(&RetryInfo) + Send + Sync>;

/// A hook called with every event and the post's business key.
pub type EventHook = Arc<dyn Fn(&str, &Event) + Send + Sync>;

/// What a user is told about a publish as it goes: a post scheduled in the past, a retry about
/// to wait, or a publish that failed. Every binding's logger and retry callback is fed from
/// these.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A valid post that is probably not what was meant: its schedule time has passed, so it
    /// publishes at once (the message says so).
    PastSchedule {
        /// The post's business key.
        business_key: String,
        /// What to tell the user.
        message: String,
    },
    /// A retry, as the retry hook is told of it.
    Retry(RetryInfo),
    /// A publish that ended in a failure.
    Failed {
        /// The post's business key.
        business_key: String,
        /// Requests sent.
        attempts: u32,
        /// The failure's kind.
        kind: ErrorKind,
    },
}

/// A hook called with each [`Notice`].
pub type NoticeHook = Arc<dyn Fn(&Notice) + Send + Sync>;

/// The hooks a client calls.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    pub on_retry: Option<RetryHook>,
    pub on_notice: Option<NoticeHook>,
    pub on_event: Option<EventHook>,
}

/// Logs a post's schedule notice and calls the notice hook with it.
pub(crate) fn schedule_notice(business_key: &str, message: String, hooks: &Hooks) {
    tracing::warn!(business_key, "postato: {message}");
    if let Some(hook) = &hooks.on_notice {
        hook(&Notice::PastSchedule { business_key: business_key.to_owned(), message });
    }
}

/// Logs `event` through `tracing`, records it in the metrics and calls the hooks.
pub(crate) fn observe(business_key: &str, event: &Event, hooks: &Hooks, metrics: Option<&dyn Metrics>) {
    if let Some(metrics) = metrics {
        crate::metrics::record(metrics, event);
    }
    match event {
        Event::AttemptStarted { attempt, timeout } => {
            tracing::debug!(business_key, attempt, timeout_ms = timeout.as_millis() as u64, "postato: sending attempt")
        }
        Event::ResponseClassified { attempt, status, replayed, decision } => {
            tracing::debug!(business_key, attempt, status, replayed, decision = ?decision, "postato: response classified")
        }
        Event::TransportFailed { attempt, kind, message } => {
            tracing::info!(
                business_key,
                attempt,
                kind = kind.as_str(),
                // Not `message`, which tracing prints as the line's own text: a quoted field
                // keeps what a server or network sent on one line.
                failure = message.as_str(),
                "postato: transport failure"
            )
        }
        Event::Waiting { next_attempt, delay, reason } => {
            let status = reason.status();
            tracing::info!(
                business_key,
                attempt = next_attempt,
                status,
                reason = %reason,
                delay_ms = delay.as_millis() as u64,
                "postato: waiting before the next attempt"
            );
            if reason.is_retry() && (hooks.on_retry.is_some() || hooks.on_notice.is_some()) {
                let retry = RetryInfo {
                    business_key: business_key.to_owned(),
                    next_attempt: *next_attempt,
                    delay: *delay,
                    reason: *reason,
                };
                if let Some(hook) = &hooks.on_retry {
                    hook(&retry);
                }
                if let Some(hook) = &hooks.on_notice {
                    hook(&Notice::Retry(retry));
                }
            }
        }
        Event::Finished { attempts, result: Ok(()) } => tracing::debug!(business_key, attempts, "postato: published"),
        Event::Finished { attempts, result: Err(kind) } => {
            tracing::warn!(business_key, attempts, kind = kind.as_str(), "postato: publish failed");
            if let Some(hook) = &hooks.on_notice {
                hook(&Notice::Failed { business_key: business_key.to_owned(), attempts: *attempts, kind: *kind });
            }
        }
        other => tracing::debug!(business_key, event = ?other, "postato: event"),
    }
    if let Some(hook) = &hooks.on_event {
        hook(business_key, event);
    }
}
