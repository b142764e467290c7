//! The `tracing` spans of one publish: `postato.publish` for the whole of it, and under it a
//! `postato.attempt` span per request and a `postato.wait` span per wait (a backoff, a 429's
//! Retry-After, a hold of the shared gate, pacing, an empty retry budget), so that a trace
//! shows which attempt was slow and how long each wait lasted, as its own time.
//!
//! The attributes follow OpenTelemetry's HTTP client conventions where they have a name
//! (`http.request.method`, `http.request.resend_count` from the second request on,
//! `http.response.status_code`, `error.type`, and the response's `Idempotent-Replayed` as
//! `http.response.header.idempotent-replayed`), and `postato.*` for the rest. They carry the
//! business key and the workspace, never the API key or the post. `tracing-opentelemetry`
//! exports them as they are (`otel.kind` and `otel.status_code` are its own fields); with no
//! subscriber that wants them, nothing is recorded and each event costs one check.

use postato_core::{Decision, ErrorKind, Event, WaitReason};
use tracing::field::Empty;
use tracing::Span;

/// The spans of one publish, opened and closed as its machine's events arrive.
pub(crate) struct PublishSpans {
    publish: Span,
    attempt: Option<Span>,
    wait: Option<Span>,
}

impl PublishSpans {
    /// Opens the publish span of `business_key`.
    pub fn new(business_key: &str, workspace_id: &str) -> Self {
        let publish = tracing::info_span!(
            "postato.publish",
            "postato.business_key" = business_key,
            "postato.workspace_id" = workspace_id,
            "postato.attempts" = Empty,
            "postato.outcome" = Empty,
            "error.type" = Empty,
            "otel.status_code" = Empty,
        );
        PublishSpans { publish, attempt: None, wait: None }
    }

    /// The publish span, which the publish runs in.
    pub fn publish(&self) -> &Span {
        &self.publish
    }

    /// Opens or closes the spans `event` begins or ends.
    pub fn on_event(&mut self, event: &Event) {
        if self.publish.is_disabled() {
            return;
        }
        match event {
            Event::AttemptStarted { attempt, timeout } => {
                self.wait = None;
                let span = tracing::info_span!(
                    parent: &self.publish,
                    "postato.attempt",
                    "otel.kind" = "client",
                    "http.request.method" = "POST",
                    "http.request.resend_count" = Empty,
                    "http.response.status_code" = Empty,
                    "http.response.header.idempotent-replayed" = Empty,
                    "postato.attempt" = attempt,
                    "postato.timeout_ms" = timeout.as_millis() as u64,
                    "postato.outcome" = Empty,
                    "error.type" = Empty,
                    "otel.status_code" = Empty,
                );
                if *attempt > 1 {
                    span.record("http.request.resend_count", attempt - 1);
                }
                self.attempt = Some(span);
            }
            Event::ResponseClassified { status, replayed, decision, .. } => {
                if let Some(span) = self.attempt.take() {
                    span.record("http.response.status_code", status);
                    if *replayed {
                        span.record("http.response.header.idempotent-replayed", "true");
                    }
                    span.record("postato.outcome", outcome(decision));
                    if *status >= 400 {
                        // As the HTTP conventions have it: the status is the error's type.
                        span.record("error.type", status.to_string());
                        span.record("otel.status_code", "ERROR");
                    }
                }
            }
            Event::TransportFailed { kind, .. } => {
                if let Some(span) = self.attempt.take() {
                    span.record("postato.outcome", "transport_failure");
                    span.record("error.type", kind.as_str());
                    span.record("otel.status_code", "ERROR");
                }
            }
            Event::Waiting { next_attempt, delay, reason } => {
                self.wait = Some(tracing::info_span!(
                    parent: &self.publish,
                    "postato.wait",
                    "postato.wait.reason" = reason.label(),
                    "postato.wait.requested_ms" = delay.as_millis() as u64,
                    "postato.next_attempt" = next_attempt,
                    "http.response.status_code" = WaitReason::status(*reason),
                ));
            }
            Event::Finished { attempts, result } => {
                (self.attempt, self.wait) = (None, None);
                self.publish.record("postato.attempts", attempts);
                match result {
                    Ok(()) => {
                        self.publish.record("postato.outcome", "published");
                    }
                    Err(kind) => self.failed(*kind),
                }
            }
            _ => {}
        }
    }

    fn failed(&self, kind: ErrorKind) {
        self.publish.record("postato.outcome", kind.as_str());
        self.publish.record("error.type", kind.as_str());
        self.publish.record("otel.status_code", "ERROR");
    }
}

/// Records on `publish` (a [`PublishSpans::publish`] span) that its caller cancelled it after
/// `attempts` requests. Its attempt and wait spans close as the publish is dropped.
pub(crate) fn record_cancelled(publish: &Span, attempts: u32) {
    publish.record("postato.attempts", attempts);
    publish.record("postato.outcome", "cancelled");
}

fn outcome(decision: &Decision) -> &'static str {
    match decision {
        Decision::Published => "published",
        Decision::Retry => "retry",
        Decision::Fail(kind) => kind.as_str(),
        _ => "other",
    }
}
