//! The outcome table, row by row.
use postato_core::*;
use std::time::Duration;

mod common;
use common::*;

fn done_err(action: Action) -> PublishError {
    match action {
        Action::Done(Err(e)) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

fn waits(action: &Action) -> Timestamp {
    match action {
        Action::Wait { until } => *until,
        other => panic!("expected a wait, got {other:?}"),
    }
}

#[test]
fn row_2xx_with_id_and_status_is_published() {
    for status in [200, 201, 202, 204] {
        let (_, action) =
            first_outcome(RetryPolicy::default(), Response::new(status, r#"{"id":"p","status":"queued","extra":1}"#));
        let Action::Done(Ok(p)) = action else { panic!("{action:?}") };
        assert_eq!((p.id.as_str(), p.status.as_str(), p.attempts, p.replayed), ("p", "queued", 1, false));
        assert_eq!(p.idempotency_key, idempotency_key("k"));
    }
    let (_, action) = first_outcome(RetryPolicy::default(), ok_body().with_header("idempotent-replayed", "true"));
    assert!(matches!(action, Action::Done(Ok(Published { replayed: true, .. }))));
}

#[test]
fn row_2xx_without_that_body_is_invalid_response_and_says_retry_is_safe() {
    for body in ["", "null", "[]", r#"{"id":""}"#, r#"{"status":"x"}"#, r#"{"id":5,"status":"x"}"#, "<html>"] {
        let e = done_err(first_outcome(RetryPolicy::default(), Response::new(202, body)).1);
        assert_eq!(e.kind(), ErrorKind::InvalidResponse, "{body}");
        assert!(e.to_string().contains("same business key is safe"), "{e}");
    }
    let mut truncated = ok_body();
    truncated.body_truncated = true;
    assert_eq!(done_err(first_outcome(RetryPolicy::default(), truncated).1).kind(), ErrorKind::InvalidResponse);
}

#[test]
fn row_4xx_is_permanent_and_never_retried() {
    for status in [400, 401, 403, 404, 405, 410, 411, 412, 413, 414, 415, 418, 421, 422, 423, 451, 499] {
        let e = done_err(first_outcome(RetryPolicy::default(), Response::new(status, "nope")).1);
        assert_eq!(
            (e.kind(), e.status(), e.attempts(), e.body()),
            (ErrorKind::Permanent, Some(status), 1, Some("nope"))
        );
    }
}

#[test]
fn unexpected_1xx_and_3xx_and_501_505_are_permanent() {
    for status in [101, 301, 302, 304, 501, 505] {
        let e = done_err(first_outcome(RetryPolicy::default(), Response::new(status, "")).1);
        assert_eq!(e.kind(), ErrorKind::Permanent, "{status}");
    }
}

#[test]
fn row_408_409_and_5xx_are_retried_with_backoff() {
    for status in [408, 409, 500, 502, 503, 504, 507, 599] {
        let (mut machine, action) = first_outcome(RetryPolicy::default(), Response::new(status, ""));
        let until = waits(&action);
        let delay = until.saturating_since(T0);
        assert!(delay >= Duration::from_millis(1000) && delay < Duration::from_millis(1500), "{status}: {delay:?}");
        let Action::Send(attempt) = machine.poll(until) else { panic!() };
        assert_eq!(attempt.attempt, 2);
    }
}

#[test]
fn row_422_idempotency_key_reused_is_a_conflict_that_explains_itself() {
    let body = r#"{"error":{"code":"idempotency_key_reused","message":"different body"}}"#;
    let e = done_err(first_outcome(RetryPolicy::default(), Response::new(422, body)).1);
    assert_eq!(e.kind(), ErrorKind::IdempotencyConflict);
    assert!(e.to_string().contains("reused for different content"), "{e}");
}

#[test]
fn row_429_waits_retry_after_in_both_forms_and_defaults_to_one_second_when_missing_or_zero() {
    let cases = [
        (Response::new(429, "").with_header("Retry-After", "7"), 7_000),
        (Response::new(429, "").with_header("retry-after", "0.25"), 250),
        (Response::new(429, ""), 1_000),
        (Response::new(429, "").with_header("Retry-After", "-3"), 1_000),
        (Response::new(429, "").with_header("Retry-After", "later"), 1_000),
        // Zero is no invitation to retry at once: the default wait, as for a missing header.
        (Response::new(429, "").with_header("Retry-After", "0"), 1_000),
        (Response::new(429, "").with_header("Retry-After", "0.0004"), 1_000),
        (
            Response::new(429, "")
                .with_header("Date", &format_http_date(T0))
                .with_header("Retry-After", &format_http_date(T0)),
            1_000,
        ),
        (
            Response::new(429, "")
                .with_header("Date", &format_http_date(T0))
                .with_header("Retry-After", &format_http_date(T0.saturating_add(Duration::from_secs(9)))),
            9_000,
        ),
    ];
    for (response, ms) in cases {
        let (_, action) = first_outcome(RetryPolicy::default(), response.clone());
        assert_eq!(waits(&action).saturating_since(T0), Duration::from_millis(ms), "{response:?}");
    }
}

#[test]
fn row_429_does_not_use_attempts_but_is_capped() {
    let policy = RetryPolicy::default().with_max_rate_limit_waits(20);
    let mut machine = PublishMachine::new(request("k"), policy, 1, T0);
    let mut now = T0;
    for i in 1..=21 {
        match machine.poll(now) {
            Action::Send(a) => assert_eq!(a.attempt, i),
            other => panic!("{other:?}"),
        }
        machine.handle_response(now, &Response::new(429, "").with_header("Retry-After", "1"));
        if let Action::Wait { until } = machine.poll(now) {
            now = until;
        }
    }
    let e = done_err(machine.poll(now));
    assert_eq!((e.kind(), e.attempts(), e.retry_after()), (ErrorKind::RateLimited, 21, Some(Duration::from_secs(1))));
}

#[test]
fn row_429_above_max_retry_after_ends_at_once_so_the_caller_can_reschedule() {
    for value in ["61", "3600", "1000000000000", "99999999999999999999999"] {
        let e =
            done_err(first_outcome(RetryPolicy::default(), Response::new(429, "").with_header("Retry-After", value)).1);
        assert_eq!(e.kind(), ErrorKind::RateLimited, "{value}");
        assert!(e.to_string().contains("reschedule"));
    }
}

#[test]
fn row_5xx_retry_after_is_a_minimum_and_one_past_max_retry_after_ends_at_once() {
    for status in [503, 500, 502, 504, 408, 409] {
        let answer = Response::new(status, "").with_header("Retry-After", "20");
        let (_, action) = first_outcome(RetryPolicy::default(), answer);
        assert_eq!(waits(&action).saturating_since(T0), Duration::from_secs(20), "{status}");
        // One rule for every wait a server asks for: past max_retry_after the publish ends at
        // once with the server's wait, as a 429's does, never a retry after a capped wait.
        for value in ["61", "3600", "Thu, 01 Jan 2099 00:00:00 GMT"] {
            let answer = Response::new(status, "").with_header("Retry-After", value);
            let e = done_err(first_outcome(RetryPolicy::default(), answer).1);
            assert_eq!((e.kind(), e.status(), e.attempts()), (ErrorKind::RateLimited, Some(status), 1), "{value}");
            assert!(e.retry_after().is_some_and(|wait| wait > Duration::from_secs(60)), "the server's wait: {e:?}");
            assert!(e.to_string().contains(&format!("(it answered {status})")), "{e}");
        }
    }
    let (_, action) = first_outcome(RetryPolicy::default(), Response::new(503, "").with_header("Retry-After", "0"));
    assert!(waits(&action).saturating_since(T0) >= Duration::from_secs(1));
}

#[test]
fn an_http_date_is_read_against_the_answer_s_date_unless_that_clock_is_absurd() {
    let now = Timestamp::from_millis(1_796_513_855_000); // 2026-12-05
    let ahead = |seconds: u64| postato_core::format_http_date(Timestamp::from_millis(now.as_millis() + seconds * 1000));
    // The server's clock is the reference: its Date and Retry-After three seconds apart.
    let skewed = Response::new(429, "")
        .with_header("Date", "Tue, 01 Dec 2026 09:00:00 GMT")
        .with_header("Retry-After", "Tue, 01 Dec 2026 09:00:03 GMT");
    assert_eq!(skewed.retry_after(now), Some(Duration::from_secs(3)));
    // A Date from 1970 beside a date two seconds ahead of the client: two seconds, not 56 years.
    let absurd = Response::new(429, "")
        .with_header("Date", "Thu, 01 Jan 1970 00:00:00 GMT")
        .with_header("Retry-After", &ahead(2));
    assert_eq!(absurd.retry_after(now), Some(Duration::from_secs(2)));
    // A long wait both clocks agree on stays long.
    let tomorrow = Response::new(429, "").with_header("Date", &ahead(0)).with_header("Retry-After", &ahead(90_000));
    assert_eq!(tomorrow.retry_after(now), Some(Duration::from_secs(90_000)));
}

#[test]
fn row_transport_failure_is_retried_with_the_same_request() {
    let mut machine = PublishMachine::new(request("k"), RetryPolicy::default(), 1, T0);
    let Action::Send(first) = machine.poll(T0) else { panic!() };
    machine.handle_transport_failure(T0, TransportFailure::new(TransportFailureKind::Connect, "refused"));
    let until = waits(&machine.poll(T0));
    let Action::Send(second) = machine.poll(until) else { panic!() };
    assert!(std::sync::Arc::ptr_eq(&first.request, &second.request));
}

#[test]
fn row_untrusted_certificate_ends_at_once_as_a_setting_or_after_a_send_as_transient() {
    let untrusted =
        || TransportFailure::new(TransportFailureKind::Untrusted, "the server's certificate is not trusted");
    let mut machine = PublishMachine::new(request("k"), RetryPolicy::default(), 1, T0);
    let Action::Send(_) = machine.poll(T0) else { panic!() };
    machine.handle_transport_failure(T0, untrusted());
    let e = done_err(machine.poll(T0));
    assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidInput, Some("caBundle")), "nothing was sent: {e}");
    // After an attempt that may have reached the server, the post may exist: transient, not retried.
    let mut machine = PublishMachine::new(request("k"), RetryPolicy::default(), 1, T0);
    let Action::Send(_) = machine.poll(T0) else { panic!() };
    machine.handle_transport_failure(T0, TransportFailure::new(TransportFailureKind::Timeout, "timed out"));
    let until = waits(&machine.poll(T0));
    let Action::Send(_) = machine.poll(until) else { panic!() };
    machine.handle_transport_failure(until, untrusted());
    let e = done_err(machine.poll(until));
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Transient, 2), "{e}");
    assert!(e.to_string().contains("not trusted"), "{e}");
}

#[test]
fn row_cancellation_is_final_and_never_retried() {
    let mut machine = PublishMachine::new(request("k"), RetryPolicy::default(), 1, T0);
    let Action::Send(_) = machine.poll(T0) else { panic!() };
    machine.cancel();
    machine.handle_response(T0, &Response::new(500, ""));
    let e = done_err(machine.poll(T0.saturating_add(Duration::from_secs(100))));
    assert_eq!((e.kind(), e.attempts()), (ErrorKind::Cancelled, 1));
}

#[test]
fn row_attempts_exhausted_is_transient_with_the_last_failure() {
    let policy = RetryPolicy::default().with_max_attempts(3);
    let mut machine = PublishMachine::new(request("k"), policy, 1, T0);
    let mut now = T0;
    let outcomes = [Some(500), None, Some(502)];
    for outcome in outcomes {
        let Action::Send(_) = machine.poll(now) else { panic!() };
        match outcome {
            Some(status) => machine.handle_response(now, &Response::new(status, "down")),
            None => machine.handle_transport_failure(now, TransportFailure::new(TransportFailureKind::Io, "reset")),
        }
        if let Action::Wait { until } = machine.poll(now) {
            now = until;
        }
    }
    let e = done_err(machine.poll(now));
    assert_eq!((e.kind(), e.status(), e.attempts(), e.body()), (ErrorKind::Transient, Some(502), 3, Some("down")));
    assert!(e.to_string().contains("same business key is safe"));
}

#[test]
fn row_a_wait_past_the_deadline_is_deadline_exceeded() {
    let policy = RetryPolicy::default().with_deadline(Some(Duration::from_millis(900)));
    let (_, action) = first_outcome(policy, Response::new(500, ""));
    let e = done_err(action);
    assert_eq!((e.kind(), e.attempts(), e.status()), (ErrorKind::Deadline, 1, Some(500)));
    assert!(e.to_string().contains("may or may not exist"));
}

#[test]
fn the_attempt_timeout_is_shortened_to_meet_the_deadline() {
    let policy = RetryPolicy::default().with_deadline(Some(Duration::from_secs(10)));
    let mut machine = PublishMachine::new(request("k"), policy, 1, T0);
    let Action::Send(a) = machine.poll(T0.saturating_add(Duration::from_secs(4))) else { panic!() };
    assert_eq!(a.timeout, Duration::from_secs(6));
    let mut machine = PublishMachine::new(request("k"), RetryPolicy::default(), 1, T0);
    let Action::Send(a) = machine.poll(T0) else { panic!() };
    assert_eq!(a.timeout, Duration::from_secs(30));
}

#[test]
fn events_describe_every_decision() {
    let mut machine = PublishMachine::new(request("k"), RetryPolicy::default(), 1, T0);
    let Action::Send(_) = machine.poll(T0) else { panic!() };
    machine.handle_response(T0, &Response::new(503, ""));
    let until = waits(&machine.poll(T0));
    let Action::Send(_) = machine.poll(until) else { panic!() };
    machine.handle_response(until, &ok_body());
    let _ = machine.poll(until);
    let events: Vec<Event> = std::iter::from_fn(|| machine.poll_event()).collect();
    assert!(matches!(events[0], Event::AttemptStarted { attempt: 1, .. }));
    assert!(matches!(events[1], Event::ResponseClassified { attempt: 1, status: 503, decision: Decision::Retry, .. }));
    assert!(matches!(events[2], Event::Waiting { next_attempt: 2, reason: WaitReason::RetryableStatus(503), .. }));
    assert!(matches!(events[3], Event::AttemptStarted { attempt: 2, .. }));
    assert!(matches!(
        events[4],
        Event::ResponseClassified { attempt: 2, status: 202, decision: Decision::Published, .. }
    ));
    assert!(matches!(events[5], Event::Finished { attempts: 2, result: Ok(()) }));
    assert_eq!(events.len(), 6);
}

#[test]
fn the_same_seed_gives_the_same_schedule_and_another_seed_differs() {
    let schedule = |seed| {
        let mut machine = PublishMachine::new(request("k"), RetryPolicy::default(), seed, T0);
        let mut now = T0;
        let mut waits = Vec::new();
        for _ in 0..4 {
            let Action::Send(_) = machine.poll(now) else { panic!() };
            machine.handle_response(now, &Response::new(500, ""));
            now = match machine.poll(now) {
                Action::Wait { until } => until,
                _ => break,
            };
            waits.push(now);
        }
        waits
    };
    assert_eq!(schedule(7), schedule(7));
    assert_ne!(schedule(7), schedule(8));
}

#[test]
fn full_jitter_stays_below_the_exponential_bound() {
    let policy = RetryPolicy::default().with_jitter(Jitter::Full);
    for roll in [0, 1, 999, u64::MAX] {
        assert!(policy.backoff(1, roll) < Duration::from_millis(1000));
        assert!(policy.backoff(20, roll) < Duration::from_secs(30));
    }
    let reference = RetryPolicy::default();
    assert_eq!(reference.backoff(1, 0), Duration::from_millis(1000));
    assert_eq!(reference.backoff(2, 499), Duration::from_millis(2499));
    assert_eq!(reference.backoff(30, 0), Duration::from_secs(30));
    assert_eq!(reference.backoff(u32::MAX, 0), Duration::from_secs(30));
}

#[test]
fn budget_refusal_ends_a_retry_as_transient_and_budget_waits_defer() {
    let mut machine = PublishMachine::new(request("k"), RetryPolicy::default(), 1, T0);
    let Action::Send(_) = machine.poll_with(T0, |next| {
        assert!(!next.is_retry);
        Admission::Go
    }) else {
        panic!()
    };
    machine.handle_transport_failure(T0, TransportFailure::new(TransportFailureKind::Timeout, "slow"));
    let until = waits(&machine.poll(T0));
    let later = until.saturating_add(Duration::from_millis(100));
    let deferred = machine.poll_with(until, |next| {
        assert!(next.is_retry && next.after_timeout);
        Admission::WaitUntil { until: later, reason: WaitReason::RetryBudget }
    });
    assert_eq!(waits(&deferred), later);
    assert_eq!(machine.attempts(), 1);
    let e = done_err(machine.poll_with(later, |_| Admission::Refuse));
    assert_eq!(e.kind(), ErrorKind::Transient);
    assert!(matches!(e, PublishError::Transient { last: Failure::BudgetExhausted, attempts: 1 }));
}

#[test]
fn every_kind_has_a_stable_name_and_a_dead_letter_rule() {
    for kind in ErrorKind::ALL {
        assert_eq!(ErrorKind::parse(kind.as_str()), Some(kind));
    }
    let dead: Vec<&str> = ErrorKind::ALL.into_iter().filter(|k| k.is_dead_lettered()).map(ErrorKind::as_str).collect();
    assert_eq!(
        dead,
        [
            "permanent",
            "idempotency_conflict",
            "rate_limited",
            "transient",
            "deadline",
            "invalid_response",
            "outcome_unknown"
        ]
    );
}

#[test]
fn a_server_that_echoes_the_api_key_never_puts_it_in_an_error() {
    let echo = |status: u16| {
        Response::new(status, r#"{"error":{"message":"bad request: Authorization: Bearer sk_live_secret"}}"#)
            .with_header("X-Echo-Authorization", "Bearer sk_live_secret")
            .with_header("Retry-After", "3600")
    };
    for status in [400, 401, 409, 422, 429, 503, 200] {
        let mut machine = PublishMachine::new(request("k"), RetryPolicy::default().with_max_attempts(1), 1, T0);
        let Action::Send(_) = machine.poll(T0) else { panic!() };
        machine.handle_response(T0, &echo(status));
        let mut events = Vec::new();
        while let Some(event) = machine.poll_event() {
            events.push(format!("{event:?}"));
        }
        let e = done_err(machine.poll(T0));
        let shown = [e.to_string(), format!("{e:?}"), format!("{:?}", e.body()), format!("{:?}", e.headers())];
        for text in shown.iter().chain(&events) {
            assert!(!text.contains("sk_live_secret"), "{status}: {text}");
        }
        if ![409, 429, 503].contains(&status) {
            assert!(e.body().is_some_and(|body| body.contains("Bearer <redacted>")), "{status}: {e:?}");
        }
        let echoed = e.headers().and_then(|headers| headers.get("x-echo-authorization"));
        assert_eq!(echoed, Some("Bearer <redacted>"), "{status}");
    }
    // A key that shows only once the JSON is decoded (`\u0073k_…`): a reader that parses the
    // body (Python's and Node's `error.body`) must not find it either.
    let escaped = Response::new(400, r#"{"error":{"message":"Bearer \u0073k_live_secret","sk_live_secret":1}}"#);
    let e = done_err(first_outcome(RetryPolicy::default(), escaped).1);
    let decoded: serde_json::Value = serde_json::from_str(e.body().unwrap()).unwrap();
    assert!(!decoded.to_string().contains("sk_live_secret"), "{decoded}");
    // A transport's message too.
    let mut machine = PublishMachine::new(request("k"), RetryPolicy::default().with_max_attempts(1), 1, T0);
    let Action::Send(_) = machine.poll(T0) else { panic!() };
    machine.handle_transport_failure(T0, TransportFailure::new(TransportFailureKind::Connect, "sent sk_live_secret"));
    assert!(!format!("{:?}", done_err(machine.poll(T0))).contains("sk_live_secret"));
}

#[test]
fn a_permanent_failure_says_what_to_do_by_status() {
    let said = |response: Response| done_err(first_outcome(RetryPolicy::default(), response).1).to_string();
    let unauthorized = said(Response::new(401, ""));
    assert!(unauthorized.contains("the API key was refused") && !unauthorized.ends_with(':'), "{unauthorized}");
    assert!(said(Response::new(403, "{}")).contains("permissions"));
    let redirect = said(Response::new(302, "").with_header("Location", "https://elsewhere.example/v1"));
    assert!(redirect.contains("a redirect to https://elsewhere.example/v1, never followed"), "{redirect}");
    assert!(said(Response::new(400, "bad")).ends_with("fix the request before publishing again: bad"));
}

#[test]
fn a_429_without_retry_after_waits_for_its_ratelimit_reset() {
    let answer = |reset: &str| Response::new(429, "").with_header("RateLimit-Reset", reset);
    let (_, action) = first_outcome(RetryPolicy::default(), answer("7"));
    assert_eq!(waits(&action).saturating_since(T0), Duration::from_secs(7));
    let e = done_err(first_outcome(RetryPolicy::default(), answer("3600")).1);
    assert_eq!((e.kind(), e.retry_after()), (ErrorKind::RateLimited, Some(Duration::from_secs(3600))));
    // On another answer, RateLimit-Reset says when a window ends, not that the client must wait.
    let (_, action) =
        first_outcome(RetryPolicy::default(), Response::new(503, "").with_header("RateLimit-Reset", "3600"));
    assert!(waits(&action).saturating_since(T0) < Duration::from_secs(60));
}

#[test]
fn an_absurd_wait_is_read_as_a_month_so_a_deferred_post_comes_due_again() {
    for answer in [
        Response::new(429, "").with_header("Retry-After", "99999999999999999999999"),
        Response::new(429, "").with_header("RateLimit-Reset", "1e300"),
        Response::new(503, "").with_header("Retry-After", "1000000000000"),
    ] {
        let e = done_err(first_outcome(RetryPolicy::default(), answer).1);
        assert_eq!((e.kind(), e.retry_after()), (ErrorKind::RateLimited, Some(LONGEST_SERVER_WAIT)), "{e:?}");
    }
}

#[test]
fn a_finished_publish_answers_every_poll_with_its_result_and_tells_its_end_once() {
    let mut machine = PublishMachine::new(request("done-twice"), RetryPolicy::default(), 1, T0);
    let Action::Send(_) = machine.poll(T0) else { panic!("the first poll sends") };
    let mut ok = Response::new(202, r#"{"id":"post_1","status":"published"}"#);
    ok.headers.push(("X-Request-Id".into(), "req_1".into()));
    machine.handle_response(T0, &ok);
    let results: Vec<_> = (0..2)
        .map(|_| match machine.poll(T0) {
            Action::Done(Ok(published)) => published,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(results[0], results[1]);
    assert_eq!((results[0].id.as_str(), results[0].request_id.as_deref()), ("post_1", Some("req_1")));
    let ends = std::iter::from_fn(|| machine.poll_event()).filter(|e| matches!(e, Event::Finished { .. })).count();
    assert_eq!(ends, 1);
}
