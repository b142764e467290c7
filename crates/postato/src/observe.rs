//! Observability: every machine event becomes a `tracing` event and a metric (when the client
//! has [`Metrics`]), and user hooks are called on retries (and on every event, for bindings
//! that forward them to their own loggers).

use postato_core::{Event, WaitReason};

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

/// Logs `event` through `tracing`, records it in the metrics and calls the hooks.
pub(crate) fn observe(
    business_key: &str,
    event: &Event,
    on_retry: Option<&RetryHook>,
    on_event: Option<&EventHook>,
    metrics: Option<&dyn Metrics>,
) {
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
            if let (Some(hook), true) = (on_retry, reason.is_retry()) {
                hook(&RetryInfo {
                    business_key: business_key.to_owned(),
                    next_attempt: *next_attempt,
                    delay: *delay,
                    reason: *reason,
                });
            }
        }
        Event::Finished { attempts, result: Ok(()) } => tracing::debug!(business_key, attempts, "postato: published"),
        Event::Finished { attempts, result: Err(kind) } => {
            tracing::warn!(business_key, attempts, kind = kind.as_str(), "postato: publish failed")
        }
        other => tracing::debug!(business_key, event = ?other, "postato: event"),
    }
    if let Some(hook) = on_event {
        hook(business_key, event);
    }
}
