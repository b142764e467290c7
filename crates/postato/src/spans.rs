//! The `tracing` spans of one publish: `postato.publish` for the whole of it, and under it a
//! `postato.attempt` span per request and a `postato.wait` span per wait (a backoff, a 429's
//! Retry-After, a hold of the shared gate, pacing, an empty retry budget), so that a trace
//! shows which attempt was slow and how long each wait lasted, as its own time.
//!
//! The attributes follow OpenTelemetry's HTTP client conventions where they have a name
//! (`http.request.method`, `server.address`, `server.port`, `url.full`,
//! `http.request.resend_count` from the second request on,
//! `http.response.status_code`, `error.type`, and the response's `Idempotent-Replayed` as
//! `http.response.header.idempotent-replayed`), and `postato.*` for the rest. They carry the
//! business key and the workspace, never the API key or the post. `tracing-opentelemetry`
//! exports them as they are (`otel.kind` and `otel.status_code` are its own fields); with no
//! subscriber that wants them, nothing is recorded and each event costs one check.

use postato_core::{Decision, ErrorKind, Event, WaitReason};
use tracing::field::Empty;
use tracing::Span;

/// Where a client's requests go, as the HTTP conventions name it on each attempt span
/// (`server.address`, `server.port`, `url.full`): worked out once per client.
pub(crate) struct Endpoint {
    address: String,
    port: Option<u16>,
    url: String,
}

impl Endpoint {
    /// The endpoint of posts to `workspace_id` at `base_url` (a URL the builder checked: no
    /// credentials, query or fragment).
    pub fn new(base_url: &str, workspace_id: &str) -> Self {
        let parsed = url::Url::parse(base_url).ok();
        Endpoint {
            address: parsed.as_ref().and_then(|u| u.host_str()).unwrap_or_default().to_owned(),
            port: parsed.as_ref().and_then(url::Url::port_or_known_default),
            url: format!("{}/v1/workspaces/{workspace_id}/posts", base_url.trim_end_matches('/')),
        }
    }
}

/// The spans of one publish, opened and closed as its machine's events arrive. Dropped before
/// the publish finished (cancelled by its token, or its future dropped: a timeout around it, an
/// aborted batch), it records the publish and any attempt in flight as cancelled.
pub(crate) struct PublishSpans<'a> {
    endpoint: &'a Endpoint,
    publish: Span,
    attempt: Option<Span>,
    wait: Option<Span>,
    attempts: u32,
    finished: bool,
}

impl<'a> PublishSpans<'a> {
    /// Opens the publish span of `business_key`, whose requests go to `endpoint`.
    pub fn new(business_key: &str, workspace_id: &str, endpoint: &'a Endpoint) -> Self {
        let publish = tracing::info_span!(
            "postato.publish",
            "postato.business_key" = business_key,
            "postato.workspace_id" = workspace_id,
            "postato.attempts" = Empty,
            "postato.outcome" = Empty,
            "error.type" = Empty,
            "otel.status_code" = Empty,
        );
        PublishSpans { endpoint, publish, attempt: None, wait: None, attempts: 0, finished: false }
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
                (self.wait, self.attempts) = (None, *attempt);
                let span = tracing::info_span!(
                    parent: &self.publish,
                    "postato.attempt",
                    "otel.kind" = "client",
                    "http.request.method" = "POST",
                    "server.address" = self.endpoint.address.as_str(),
                    "server.port" = self.endpoint.port,
                    "url.full" = self.endpoint.url.as_str(),
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
                    // As the HTTP conventions have it, the status is the error's type; an answer
                    // that is not one (a 2xx the client cannot read) is its failure's kind.
                    let error = match decision {
                        _ if *status >= 400 => Some(status.to_string()),
                        Decision::Fail(kind) => Some(kind.as_str().to_owned()),
                        _ => None,
                    };
                    if let Some(error) = error {
                        span.record("error.type", error);
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
                    "postato.wait.status_code" = WaitReason::status(*reason),
                ));
            }
            Event::Finished { attempts, result } => {
                (self.attempt, self.wait, self.finished) = (None, None, true);
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

impl Drop for PublishSpans<'_> {
    fn drop(&mut self) {
        if self.finished || self.publish.is_disabled() {
            return;
        }
        if let Some(span) = self.attempt.take() {
            span.record("postato.outcome", "cancelled");
            span.record("error.type", "cancelled");
            span.record("otel.status_code", "ERROR");
        }
        self.publish.record("postato.attempts", self.attempts);
        self.publish.record("postato.outcome", "cancelled");
        self.publish.record("error.type", "cancelled");
    }
}

fn outcome(decision: &Decision) -> &'static str {
    match decision {
        Decision::Published => "published",
        Decision::Retry => "retry",
        Decision::Fail(kind) => kind.as_str(),
        _ => "other",
    }
}
