//! [`PublishMachine`]: the publish state machine. It is told the time and the outcome of each
//! attempt, and answers what to do next: send, wait, or done.

use rand_core::{RngCore, SeedableRng};
use rand_pcg::Pcg64Mcg;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{body_text, Failure, PublishError, ResponseHeaders, TransportFailure};
use crate::event::{Decision, Event, WaitReason};
use crate::limits::Admission;
use crate::policy::RetryPolicy;
use crate::request::Request;
use crate::response::{classify, Response, Verdict};
use crate::time::Timestamp;
use crate::validate::ValidationError;

/// A successful publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    /// The post's id at Postato.
    pub id: String,
    /// Its status at Postato.
    pub status: String,
    /// The idempotency key it was published under.
    pub idempotency_key: String,
    /// Requests sent (1 when the first attempt succeeded).
    pub attempts: u32,
    /// Whether the final answer was the server's replay of an earlier one.
    pub replayed: bool,
    /// The server's id for the request that published it (`X-Request-Id`, else `Request-Id`),
    /// for its support; `None` when it sent none, or when a store answered.
    pub request_id: Option<String>,
}

/// One attempt to send.
#[derive(Clone, Debug)]
pub struct SendAttempt {
    /// The attempt number, 1-based, counting every request.
    pub attempt: u32,
    /// The request: the same bytes on every attempt.
    pub request: Arc<Request>,
    /// How long this attempt may take: the policy's timeout, shortened to meet the deadline.
    pub timeout: Duration,
}

/// What the driver should do next.
#[derive(Clone, Debug)]
pub enum Action {
    /// Send this attempt, then feed its outcome to [`PublishMachine::handle_response`] or
    /// [`PublishMachine::handle_transport_failure`].
    Send(SendAttempt),
    /// Wait until this time, then poll again.
    Wait {
        /// When to poll again.
        until: Timestamp,
    },
    /// An attempt is in flight: feed its outcome before polling again.
    AwaitingOutcome,
    /// Finished.
    Done(Result<Published, PublishError>),
}

/// The context of an admission check: what the next send is.
#[derive(Clone, Copy, Debug)]
pub struct NextSend {
    /// Whether it retries a failed attempt (budgets only charge retries).
    pub is_retry: bool,
    /// Whether the failure before it was a timeout (retries after timeouts cost more).
    pub after_timeout: bool,
}

enum State {
    Ready,
    InFlight,
    Waiting { until: Timestamp, reason: WaitReason },
    Done(Result<Published, PublishError>),
}

/// The publish state machine for one post.
///
/// ```
/// use postato_core::*;
/// let post = Post::new("draft-1", "x", "acc_1", PostStatus::Publish, "post", "hello");
/// let request = Request::new(&post, "ws_1", &ApiKey::new("key"), "rust").unwrap();
/// let mut now = Timestamp::from_millis(0);
/// let mut machine = PublishMachine::new(request, RetryPolicy::default(), 7, now);
///
/// // First attempt: the server fails with 500.
/// let Action::Send(attempt) = machine.poll(now) else { unreachable!() };
/// assert_eq!(attempt.attempt, 1);
/// machine.handle_response(now, &Response::new(500, "oops"));
///
/// // The machine asks to back off; the caller waits, then polls again.
/// let Action::Wait { until } = machine.poll(now) else { unreachable!() };
/// now = until;
/// let Action::Send(attempt) = machine.poll(now) else { unreachable!() };
/// assert_eq!(attempt.attempt, 2);
/// machine.handle_response(now, &Response::new(202, r#"{"id":"p_1","status":"published"}"#));
///
/// let Action::Done(Ok(published)) = machine.poll(now) else { unreachable!() };
/// assert_eq!((published.id.as_str(), published.attempts), ("p_1", 2));
/// while let Some(event) = machine.poll_event() {
///     println!("{event:?}");
/// }
/// ```
pub struct PublishMachine {
    request: Arc<Request>,
    policy: RetryPolicy,
    rng: Pcg64Mcg,
    deadline: Option<Timestamp>,
    sends: u32,
    failures: u32,
    rate_limit_waits: u32,
    /// Holds of the shared gate waited out, counted and capped like 429 waits.
    gate_waits: u32,
    /// When the current wait on the shared limits began (reset by every send and backoff).
    shared_wait_since: Option<Timestamp>,
    last: Option<Failure>,
    state: State,
    events: VecDeque<Event>,
}

impl PublishMachine {
    /// A machine for `request`, starting at `now`. `seed` drives the jitter: the same seed
    /// gives the same schedule. A policy with `max_attempts` 0 is treated as 1.
    pub fn new(request: Request, mut policy: RetryPolicy, seed: u64, now: Timestamp) -> Self {
        policy.max_attempts = policy.max_attempts.max(1);
        PublishMachine {
            request: Arc::new(request),
            deadline: policy.deadline.map(|d| now.saturating_add(d)),
            policy,
            rng: Pcg64Mcg::seed_from_u64(seed),
            sends: 0,
            failures: 0,
            rate_limit_waits: 0,
            gate_waits: 0,
            shared_wait_since: None,
            last: None,
            state: State::Ready,
            events: VecDeque::new(),
        }
    }

    /// The request every attempt sends.
    pub fn request(&self) -> &Request {
        &self.request
    }

    /// Requests sent so far.
    pub fn attempts(&self) -> u32 {
        self.sends
    }

    /// When the publish must end, if it has a deadline.
    pub fn deadline(&self) -> Option<Timestamp> {
        self.deadline
    }

    /// Whether the machine has finished.
    pub fn is_done(&self) -> bool {
        matches!(self.state, State::Done(_))
    }

    /// The next event, if any. Events queue until taken.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// What to do at `now`, admitting every send.
    pub fn poll(&mut self, now: Timestamp) -> Action {
        self.poll_with(now, |_| Admission::Go)
    }

    /// What to do at `now`. Before a send, `admit` is asked whether it may go now (a shared
    /// rate-limit gate, a retry budget): it may defer the send or refuse it.
    ///
    /// Waits on the shared limits are bounded like the publish's own: one wait on a hold, on
    /// pacing or on the budget that would last beyond the policy's `max_retry_after` ends the
    /// publish at once (`RateLimited` for the gate, `Transient` for an empty budget), and each
    /// hold it waits out counts against `max_rate_limit_waits`. Waiting for the probe's
    /// answer is bounded by the gate (2 s without an answer lets more go).
    pub fn poll_with(&mut self, now: Timestamp, admit: impl FnOnce(NextSend) -> Admission) -> Action {
        match &self.state {
            State::Done(result) => return Action::Done(result.clone()),
            State::InFlight => return Action::AwaitingOutcome,
            State::Waiting { until, .. } if now < *until => return Action::Wait { until: *until },
            State::Waiting { .. } | State::Ready => {}
        }
        if self.deadline.is_some_and(|deadline| now >= deadline) {
            return self.finish_deadline();
        }
        let next = NextSend {
            is_retry: self.sends > 0,
            after_timeout: matches!(&self.last, Some(Failure::Transport(t)) if t.kind == crate::TransportFailureKind::Timeout),
        };
        match admit(next) {
            Admission::Go => {}
            Admission::WaitUntil { until, reason } => {
                // A wait must let time pass, or the caller would ask again at the same instant.
                let until = until.max(now.saturating_add(Duration::from_millis(1)));
                // Waiting for the probe's answer is bounded by the gate itself (it lets more go
                // after 2 s without an answer); holds, pacing and the budget are bounded here.
                if reason != WaitReason::Probe {
                    let in_a_hold = matches!(self.state, State::Waiting { reason: WaitReason::RateLimitGate, .. });
                    if reason == WaitReason::RateLimitGate && !in_a_hold {
                        self.gate_waits += 1;
                    }
                    let since = *self.shared_wait_since.get_or_insert(now);
                    if until.saturating_since(since) > self.policy.max_retry_after
                        || self.gate_waits > self.policy.max_rate_limit_waits
                    {
                        return self.finish_shared_wait(now, until, reason);
                    }
                }
                self.wait_until(now, until, reason);
                return self.current_action();
            }
            Admission::Refuse => {
                self.last = Some(Failure::BudgetExhausted);
                return self
                    .finish(Err(PublishError::Transient { last: Failure::BudgetExhausted, attempts: self.sends }));
            }
        }
        self.shared_wait_since = None;
        self.sends += 1;
        let mut timeout = self.policy.timeout;
        if let Some(deadline) = self.deadline {
            timeout = timeout.min(deadline.saturating_since(now));
        }
        self.state = State::InFlight;
        self.events.push_back(Event::AttemptStarted { attempt: self.sends, timeout });
        Action::Send(SendAttempt { attempt: self.sends, request: Arc::clone(&self.request), timeout })
    }

    /// Feeds the response to the attempt in flight. Outcomes arriving when no attempt is in
    /// flight (after a cancel, say) are ignored.
    pub fn handle_response(&mut self, now: Timestamp, response: &Response) {
        if !matches!(self.state, State::InFlight) {
            return;
        }
        let verdict = classify(response, &self.policy, now);
        // Nothing a server sends back carries the API key further: not an error, a log line
        // or a store (a server that echoes the request's Authorization header, say). The
        // answer is read as sent; only what is kept of it is redacted.
        let redacted = self.request.redacted(response);
        let response = redacted.as_ref().unwrap_or(response);
        let attempts = self.sends;
        let status = response.status;
        let headers = || ResponseHeaders::new(response.headers.clone());
        let failure = || Failure::Status { status, body: body_text(&response.body), headers: headers() };
        let result = match verdict {
            Verdict::Published(body) => Ok(Published {
                id: self.request.redact(body.id),
                status: self.request.redact(body.status),
                idempotency_key: self.request.idempotency_key().to_owned(),
                attempts,
                replayed: response.replayed(),
                request_id: response.request_id().map(|id| self.request.redact(id.to_owned())),
            }),
            Verdict::InvalidResponse { reason } => {
                let body = body_text(&response.body);
                Err(PublishError::InvalidResponse { status, reason, body, attempts, headers: headers() })
            }
            Verdict::Permanent => {
                Err(PublishError::Permanent { status, body: body_text(&response.body), attempts, headers: headers() })
            }
            Verdict::IdempotencyConflict => {
                let body = body_text(&response.body);
                Err(PublishError::IdempotencyConflict { status, body, attempts, headers: headers() })
            }
            Verdict::Retry { min_wait: Some(wait) } if wait > self.policy.max_retry_after => {
                // One rule for every wait a server asks for: beyond the policy's bound the
                // publish ends at once, carrying the wait, whatever the status.
                Err(PublishError::RateLimited { retry_after: wait, status, attempts, headers: headers() })
            }
            Verdict::Retry { min_wait } => {
                self.record(status, response.replayed(), Decision::Retry);
                self.last = Some(failure());
                self.back_off(now, WaitReason::RetryableStatus(status), min_wait);
                return;
            }
            Verdict::RateLimited { retry_after } => {
                self.last = Some(failure());
                self.rate_limited(now, status, retry_after, headers);
                return;
            }
        };
        let decision = match &result {
            Ok(_) => Decision::Published,
            Err(e) => Decision::Fail(e.kind()),
        };
        self.record(status, response.replayed(), decision);
        self.end(result);
    }

    /// Feeds a transport failure of the attempt in flight: retryable, unless the server's
    /// certificate is not trusted or is another host's, which no retry changes. Then the
    /// publish ends at once: as a setting to fix when it was the first attempt (nothing was
    /// sent), else as transient (an earlier attempt may have reached the server; publishing
    /// again is safe).
    pub fn handle_transport_failure(&mut self, now: Timestamp, mut failure: TransportFailure) {
        if !matches!(self.state, State::InFlight) {
            return;
        }
        failure.message = self.request.redact(failure.message);
        self.events.push_back(Event::TransportFailed {
            attempt: self.sends,
            kind: failure.kind,
            message: failure.message.clone(),
        });
        let kind = failure.kind;
        if let Some(setting) = kind.setting_to_fix() {
            let ended = match self.sends {
                1 => PublishError::InvalidInput(ValidationError::setting(setting, failure.message.clone())),
                attempts => PublishError::Transient { last: Failure::Transport(failure.clone()), attempts },
            };
            self.last = Some(Failure::Transport(failure));
            self.end(Err(ended));
            return;
        }
        self.last = Some(Failure::Transport(failure));
        self.back_off(now, WaitReason::TransportFailure(kind), None);
    }

    /// Cancels the publish: it ends with `Cancelled` and nothing more is sent.
    pub fn cancel(&mut self) {
        if !self.is_done() {
            self.end(Err(PublishError::Cancelled { attempts: self.sends }));
        }
    }

    fn record(&mut self, status: u16, replayed: bool, decision: Decision) {
        self.events.push_back(Event::ResponseClassified { attempt: self.sends, status, replayed, decision });
    }

    fn rate_limited(
        &mut self,
        now: Timestamp,
        status: u16,
        retry_after: Duration,
        headers: impl FnOnce() -> ResponseHeaders,
    ) {
        self.shared_wait_since = None;
        let attempts = self.sends;
        if retry_after > self.policy.max_retry_after || self.rate_limit_waits >= self.policy.max_rate_limit_waits {
            self.record(status, false, Decision::Fail(crate::ErrorKind::RateLimited));
            self.end(Err(PublishError::RateLimited { retry_after, status, attempts, headers: headers() }));
            return;
        }
        self.record(status, false, Decision::Retry);
        self.rate_limit_waits += 1;
        self.wait_until(now, now.saturating_add(retry_after), WaitReason::RateLimited);
    }

    fn back_off(&mut self, now: Timestamp, reason: WaitReason, min_wait: Option<Duration>) {
        self.shared_wait_since = None;
        self.failures += 1;
        if self.failures >= self.policy.max_attempts {
            let last = self.last.clone().expect("a failure was recorded before backing off");
            self.end(Err(PublishError::Transient { last, attempts: self.sends }));
            return;
        }
        let delay = self.policy.backoff(self.failures, self.rng.next_u64()).max(min_wait.unwrap_or_default());
        self.wait_until(now, now.saturating_add(delay), reason);
    }

    /// Waits until `until`, unless that is past the deadline.
    fn wait_until(&mut self, now: Timestamp, until: Timestamp, reason: WaitReason) {
        if self.deadline.is_some_and(|deadline| until > deadline) {
            self.finish_deadline();
            return;
        }
        // A repeated pacing wait (the gate or budget answering again) is one event, not many.
        let repeated = matches!(self.state, State::Waiting { reason: r, .. } if r == reason && !reason.is_retry());
        if !repeated {
            self.events.push_back(Event::Waiting {
                next_attempt: self.sends + 1,
                delay: until.saturating_since(now),
                reason,
            });
        }
        self.state = State::Waiting { until, reason };
    }

    /// Ends a publish whose wait on the shared limits exceeds its bounds.
    fn finish_shared_wait(&mut self, now: Timestamp, until: Timestamp, reason: WaitReason) -> Action {
        let attempts = self.sends;
        if reason == WaitReason::RetryBudget {
            self.last = Some(Failure::BudgetExhausted);
            return self.finish(Err(PublishError::Transient { last: Failure::BudgetExhausted, attempts }));
        }
        let retry_after = until.saturating_since(now);
        let headers = ResponseHeaders::default();
        self.finish(Err(PublishError::RateLimited { retry_after, status: 429, attempts, headers }))
    }

    fn finish_deadline(&mut self) -> Action {
        self.finish(Err(PublishError::DeadlineExceeded { last: self.last.clone(), attempts: self.sends }))
    }

    fn finish(&mut self, result: Result<Published, PublishError>) -> Action {
        self.end(result);
        self.current_action()
    }

    /// Ends the publish with `result`, for a caller that returns no action (the result is
    /// then not cloned until polled).
    fn end(&mut self, result: Result<Published, PublishError>) {
        self.events.push_back(Event::Finished {
            attempts: self.sends,
            result: result.as_ref().map(|_| ()).map_err(PublishError::kind),
        });
        self.state = State::Done(result);
    }

    fn current_action(&self) -> Action {
        match &self.state {
            State::Done(result) => Action::Done(result.clone()),
            State::Waiting { until, .. } => Action::Wait { until: *until },
            State::InFlight => Action::AwaitingOutcome,
            State::Ready => Action::Wait { until: Timestamp::EPOCH },
        }
    }
}
