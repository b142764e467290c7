//! The shared rate-limit gate and retry budget, and the bounds a publish keeps while it waits
//! on them.
use postato_core::*;
use std::time::Duration;

mod common;
use common::{request, T0};

/// The account every test post is published through (`common::post`'s).
fn account() -> Scope {
    Scope::new("x", "acc_1")
}

fn at(ms: u64) -> Timestamp {
    T0.saturating_add(Duration::from_millis(ms))
}

fn first() -> NextSend {
    NextSend { is_retry: false, after_timeout: false }
}

fn retry() -> NextSend {
    NextSend { is_retry: true, after_timeout: false }
}

fn accepted() -> Response {
    Response::new(202, "{}")
}

/// Admits a send at `now`; if it goes, settles it at once (without teaching the gate anything).
fn send_and_settle(limits: &SharedLimits, now: Timestamp, next: NextSend) -> Admission {
    let admission = limits.admit(&account(), now, next);
    if admission == Admission::Go {
        limits.on_transport_failure(&account(), now, now);
    }
    admission
}

fn is_probe_wait(admission: Admission) -> bool {
    matches!(admission, Admission::WaitUntil { reason: WaitReason::Probe, .. })
}

#[test]
fn the_first_request_probes_while_others_wait_for_its_answer() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    assert_eq!(limits.admit(&account(), T0, first()), Admission::Go);
    assert!(is_probe_wait(limits.admit(&account(), T0, first())));
    limits.on_response(&account(), at(5), T0, &accepted());
    assert_eq!(limits.admit(&account(), at(5), first()), Admission::Go);
    assert_eq!(limits.admit(&account(), at(5), first()), Admission::Go, "each answer lets one more go beside it");
    assert!(is_probe_wait(limits.admit(&account(), at(5), first())), "spread, not all at once");
}

#[test]
fn a_probe_that_never_answers_stops_holding_others() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    assert_eq!(limits.admit(&account(), T0, first()), Admission::Go);
    assert_eq!(limits.admit(&account(), at(2_000), first()), Admission::Go);
}

#[test]
fn an_abandoned_probe_lets_the_next_request_probe() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    assert_eq!(limits.admit(&account(), T0, first()), Admission::Go);
    limits.on_abandoned(&account(), T0);
    assert_eq!(limits.admit(&account(), at(1), first()), Admission::Go);
}

#[test]
fn a_429_holds_every_publish_of_its_account_until_retry_after() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(&account(), T0, first());
    limits.on_response(&account(), T0, T0, &Response::new(429, "").with_header("Retry-After", "3"));
    assert_eq!(
        limits.admit(&account(), at(10), first()),
        Admission::WaitUntil { until: at(3_000), reason: WaitReason::RateLimitGate }
    );
    assert_eq!(limits.admit(&account(), at(3_000), first()), Admission::Go);
}

#[test]
fn a_429_without_retry_after_holds_for_the_default_wait() {
    let limits = SharedLimits::with_default_retry_after(RetryBudgetConfig::default(), Duration::from_millis(1_500));
    limits.admit(&account(), T0, first());
    limits.on_response(&account(), T0, T0, &Response::new(429, ""));
    assert_eq!(
        limits.admit(&account(), at(10), first()),
        Admission::WaitUntil { until: at(1_500), reason: WaitReason::RateLimitGate }
    );
}

#[test]
fn a_429_with_retry_after_zero_holds_for_the_default_wait() {
    // Read as "no wait", it held nobody, and the request that got it went again in the same
    // instant, beside the probe (seed 156870 of the simulation).
    let limits = SharedLimits::with_default_retry_after(RetryBudgetConfig::default(), Duration::from_millis(1_500));
    limits.admit(&account(), T0, first());
    limits.on_response(&account(), T0, T0, &Response::new(429, "").with_header("Retry-After", "0"));
    assert_eq!(
        limits.admit(&account(), T0, retry()),
        Admission::WaitUntil { until: at(1_500), reason: WaitReason::RateLimitGate }
    );
}

#[test]
fn a_probe_answered_at_once_keeps_the_first_millisecond_to_itself() {
    // Seeds 873585 and 110712 of the simulation: answered in the millisecond it went, the
    // probe let the next request go in that same millisecond.
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(&account(), T0, first());
    limits.on_response(&account(), T0, T0, &Response::new(429, "").with_header("Retry-After", "1"));
    assert_eq!(limits.admit(&account(), at(1_000), first()), Admission::Go, "the probe");
    limits.on_response(&account(), at(1_000), at(1_000), &accepted());
    assert!(is_probe_wait(limits.admit(&account(), at(1_000), first())), "nobody else in its millisecond");
    let next = limits.admit(&account(), at(1_001), first());
    assert!(!is_probe_wait(next), "then the window lets the others follow (as the slow start paces them): {next:?}");
}

#[test]
fn after_a_hold_one_request_probes_and_the_rest_follow_spread() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(&account(), T0, first());
    limits.on_response(&account(), T0, T0, &accepted());
    limits.admit(&account(), T0, first());
    limits.on_response(&account(), T0, T0, &Response::new(429, "").with_header("Retry-After", "1"));
    assert_eq!(limits.admit(&account(), at(1_000), first()), Admission::Go, "the probe");
    for _ in 0..50 {
        assert!(
            is_probe_wait(limits.admit(&account(), at(1_000), first())),
            "nobody else in the hold's first millisecond"
        );
    }
    limits.on_response(&account(), at(1_001), at(1_000), &accepted());
    let sent = (0..50).filter(|_| limits.admit(&account(), at(1_001), first()) == Admission::Go).count();
    assert!(sent <= 2, "{sent} went at once after the probe answered: one more beside each answer, paced");
}

#[test]
fn ratelimit_policy_headers_pace_at_the_advertised_rate() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(&account(), T0, first());
    let headers = accepted()
        .with_header("RateLimit-Policy", "100;w=1;burst=5")
        .with_header("RateLimit-Remaining", "3")
        .with_header("RateLimit-Limit", "5");
    limits.on_response(&account(), T0, T0, &headers);
    let mut sent = 0;
    let mut now = T0;
    while now < at(1_000) {
        match limits.admit(&account(), now, first()) {
            Admission::Go => {
                sent += 1;
                limits.on_response(&account(), now, now, &accepted());
            }
            Admission::WaitUntil { until, .. } => now = until,
            Admission::Refuse => unreachable!(),
        }
    }
    // 3 remaining plus about 97 per second (3 % margin).
    assert!((95..=101).contains(&sent), "{sent}");
}

#[test]
fn a_quota_per_window_goes_at_once_and_waits_for_the_reset_when_spent() {
    // A server allowing 20 requests per fixed 10 s window, saying so in whole seconds.
    const QUOTA: u64 = 20;
    const WINDOW_MS: u64 = 10_000;
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    let mut used = std::collections::HashMap::<u64, u64>::new();
    let (mut sent, mut refused, mut now) = (0u64, 0u64, 0u64);
    let mut window_starts = Vec::new();
    while now < 35_000 {
        match limits.admit(&account(), at(now), first()) {
            Admission::Go => {
                sent += 1;
                let window = now / WINDOW_MS;
                let count = used.entry(window).or_default();
                if *count == 0 {
                    window_starts.push(now);
                }
                let reset = ((window + 1) * WINDOW_MS - now).div_ceil(1_000).to_string();
                let response = if *count < QUOTA {
                    *count += 1;
                    accepted()
                } else {
                    refused += 1;
                    Response::new(429, "").with_header("Retry-After", &reset)
                };
                let response = response
                    .with_header("RateLimit-Policy", &format!("{QUOTA};w=10"))
                    .with_header("RateLimit-Remaining", &(QUOTA - *count).to_string())
                    .with_header("RateLimit-Reset", &reset);
                limits.on_response(&account(), at(now + 1), at(now), &response);
                now += 1;
            }
            Admission::WaitUntil { until, .. } => now = until.as_millis() - T0.as_millis(),
            Admission::Refuse => unreachable!(),
        }
    }
    assert_eq!(refused, 0, "the quota is never overrun");
    assert_eq!(sent, 4 * QUOTA, "every window's quota is used: {window_starts:?}");
    // Whole seconds: each window is entered within a second of its start.
    for (k, start) in window_starts.iter().enumerate() {
        assert!((k as u64 * WINDOW_MS..k as u64 * WINDOW_MS + 1_000).contains(start), "{window_starts:?}");
    }
}

#[test]
fn sends_waiting_for_a_pace_go_in_the_order_they_began_waiting() {
    // 64 publishes ask in turn on a pace of 2 a second (an advertised quota); then each asks
    // again when told, the last always first. In turn, the k-th to ask goes k-th and the last
    // within about 32 s; served by whoever asks first when a token comes, the first would go
    // last, past any max_retry_after.
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(&account(), T0, first());
    let advertised =
        accepted().with_header("RateLimit-Policy", "2;w=1;burst=1").with_header("RateLimit-Remaining", "0");
    limits.on_response(&account(), T0, T0, &advertised);
    let mut places = vec![PacingPlace::default(); 64];
    let mut asks_at = vec![0u64; 64];
    let mut went = Vec::new();
    let mut now = 0;
    while went.len() < 64 {
        let mut ready: Vec<usize> = (0..64).filter(|i| !went.contains(i) && asks_at[*i] <= now).collect();
        if now > 0 {
            ready.reverse();
        }
        for i in ready {
            match limits.admit_in_turn(&account(), at(now), first(), &mut places[i]) {
                Admission::Go => {
                    limits.on_response(&account(), at(now), at(now), &accepted());
                    went.push(i);
                }
                Admission::WaitUntil { until, .. } => asks_at[i] = until.as_millis() - T0.as_millis(),
                Admission::Refuse => unreachable!(),
            }
        }
        now = asks_at.iter().enumerate().filter(|(i, _)| !went.contains(i)).map(|(_, t)| *t).min().unwrap_or(now);
    }
    assert_eq!(went, (0..64).collect::<Vec<_>>(), "served in the order they began waiting");
    assert!(now <= 34_000, "the last went at {now} ms");
}

#[test]
fn absurd_policies_never_pace_to_hours() {
    for policy in ["1;w=100000000", "1e-9;w=1", "NaN;w=1", "inf;w=1"] {
        let limits = SharedLimits::new(RetryBudgetConfig::default());
        limits.admit(&account(), T0, first());
        limits.on_response(
            &account(),
            T0,
            T0,
            &accepted().with_header("RateLimit-Policy", policy).with_header("RateLimit-Remaining", "0"),
        );
        let snapshot = limits.scope_snapshot(&account(), T0).unwrap();
        assert_eq!(snapshot.pacing_rate, None, "{policy} was followed");
    }
}

#[test]
fn remaining_zero_without_a_policy_holds_until_reset() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(&account(), T0, first());
    limits.on_response(
        &account(),
        T0,
        T0,
        &accepted().with_header("RateLimit-Remaining", "0").with_header("RateLimit-Reset", "2"),
    );
    assert_eq!(
        limits.admit(&account(), at(1), first()),
        Admission::WaitUntil { until: at(2_000), reason: WaitReason::RateLimitGate }
    );
}

#[test]
fn the_budget_limits_retries_in_an_outage_and_refills_on_success() {
    let config = RetryBudgetConfig::default().with_capacity(10.0).with_refill_per_second(1.0);
    let limits = SharedLimits::new(config);
    limits.admit(&account(), T0, first());
    limits.on_response(&account(), T0, T0, &Response::new(503, ""));
    for _ in 0..10 {
        assert_eq!(send_and_settle(&limits, T0, retry()), Admission::Go);
    }
    assert!(matches!(
        limits.admit(&account(), T0, retry()),
        Admission::WaitUntil { reason: WaitReason::RetryBudget, .. }
    ));
    assert_eq!(send_and_settle(&limits, T0, first()), Admission::Go, "first attempts are free");
    assert_eq!(send_and_settle(&limits, at(1_000), retry()), Admission::Go, "time refills");
    limits.on_response(&account(), at(1_000), at(1_000), &accepted());
    assert_eq!(send_and_settle(&limits, at(1_000), retry()), Admission::Go, "a success deposits");
    assert_eq!(send_and_settle(&limits, at(1_000), retry()), Admission::Go);
    assert!(matches!(limits.admit(&account(), at(1_000), retry()), Admission::WaitUntil { .. }));
}

#[test]
fn timeouts_cost_more_and_a_failing_budget_refuses() {
    let config = RetryBudgetConfig::default().with_capacity(3.0).with_when_empty(WhenBudgetEmpty::Fail);
    let mut budget = RetryBudget::new(config);
    assert_eq!(budget.check_retry(T0, true), Admission::Go);
    budget.take(true);
    assert_eq!(budget.tokens(), 1.0);
    assert_eq!(budget.check_retry(T0, true), Admission::Refuse);
    assert_eq!(budget.check_retry(T0, false), Admission::Go);
}

/// Runs `machine` against `limits` with every send answered by `answer`, until it ends.
fn run(
    mut machine: PublishMachine,
    limits: &SharedLimits,
    start: Timestamp,
    answer: impl Fn() -> Response,
) -> (Result<Published, PublishError>, Timestamp) {
    let mut now = start;
    for _ in 0..100_000 {
        match machine.poll_with(now, |next| limits.admit(&account(), now, next)) {
            Action::Send(_) => {
                let response = answer();
                limits.on_response(&account(), now, now, &response);
                machine.handle_response(now, &response);
            }
            Action::Wait { until } => now = until,
            Action::Done(result) => return (result, now),
            Action::AwaitingOutcome => unreachable!(),
        }
    }
    panic!("the publish never ended");
}

#[test]
fn a_gate_hold_past_max_retry_after_ends_the_publish_at_once_with_the_servers_wait() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(&account(), T0, first());
    limits.on_response(&account(), T0, T0, &Response::new(429, "").with_header("Retry-After", "3000"));
    let machine = PublishMachine::new(request("other"), RetryPolicy::default(), 1, at(5));
    let (result, ended) = run(machine, &limits, at(5), common::ok_body);
    let error = result.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.attempts(), 0, "nothing was sent");
    assert!(error.retry_after().unwrap() >= Duration::from_secs(2_999), "{error:?}");
    assert_eq!(ended, at(5), "it ended at once");
}

#[test]
fn remaining_zero_with_an_hour_long_reset_ends_publishes_instead_of_holding_them() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(&account(), T0, first());
    limits.on_response(
        &account(),
        T0,
        T0,
        &accepted().with_header("RateLimit-Remaining", "0").with_header("RateLimit-Reset", "3000"),
    );
    let machine = PublishMachine::new(request("other"), RetryPolicy::default(), 1, at(5));
    let (result, ended) = run(machine, &limits, at(5), common::ok_body);
    assert_eq!(result.unwrap_err().kind(), ErrorKind::RateLimited);
    assert_eq!(ended, at(5));
}

#[test]
fn a_budget_that_stays_empty_ends_the_retry_after_max_retry_after() {
    let config = RetryBudgetConfig::default().with_capacity(1.0).with_refill_per_second(0.0);
    let limits = SharedLimits::new(config);
    let policy = RetryPolicy::default().with_max_attempts(10);
    let machine = PublishMachine::new(request("outage"), policy, 1, T0);
    let (result, ended) = run(machine, &limits, T0, || Response::new(503, ""));
    let error = result.unwrap_err();
    assert!(matches!(error, PublishError::Transient { last: Failure::BudgetExhausted, .. }), "{error:?}");
    // Two backoffs (at most 3 s) before the budget is empty, then at most 60 s of waiting.
    assert!(ended.saturating_since(T0) <= Duration::from_secs(64), "{:?}", ended.saturating_since(T0));
}

#[test]
fn gate_holds_are_counted_and_capped_like_429_waits() {
    // Every send fails with a 503 and, meanwhile, another publish's 429 holds the gate for
    // 2 s: the publish waits out three holds, and the fourth ends it.
    let mut gate = RateLimitGate::default();
    let policy = RetryPolicy::default()
        .with_max_rate_limit_waits(3)
        .with_max_attempts(100)
        .with_backoff_base(Duration::from_millis(10))
        .with_backoff_cap(Duration::from_millis(100));
    let mut machine = PublishMachine::new(request("held"), policy, 1, T0);
    let mut now = T0;
    let result = (0..1_000)
        .find_map(|_| match machine.poll_with(now, |_| gate.admit(now)) {
            Action::Send(_) => {
                gate.on_response(now, now, &Response::new(503, ""));
                machine.handle_response(now, &Response::new(503, ""));
                gate.hold(now, now.saturating_add(Duration::from_secs(2)));
                None
            }
            Action::Wait { until } => {
                now = until;
                None
            }
            Action::Done(done) => Some(done),
            Action::AwaitingOutcome => unreachable!(),
        })
        .expect("the publish ended");
    let error = result.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::RateLimited, 4), "{error:?}");
}

#[test]
fn waiting_for_the_probe_or_for_pacing_is_not_a_hold() {
    // Publishes queued behind the first request never count as rate-limit waits: with no
    // waits allowed at all, a healthy server still gets every publish.
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    let policy = RetryPolicy::default().with_max_rate_limit_waits(0);
    let mut first = PublishMachine::new(request("first"), policy.clone(), 1, T0);
    let mut second = PublishMachine::new(request("second"), policy, 2, T0);
    assert!(matches!(first.poll_with(T0, |next| limits.admit(&account(), T0, next)), Action::Send(_)));
    assert!(matches!(second.poll_with(T0, |next| limits.admit(&account(), T0, next)), Action::Wait { .. }));
    limits.on_response(&account(), at(3), T0, &common::ok_body());
    first.handle_response(at(3), &common::ok_body());
    assert!(matches!(second.poll_with(at(3), |next| limits.admit(&account(), at(3), next)), Action::Send(_)));
}

#[test]
fn a_budget_wait_always_lets_time_pass() {
    // Found by the deterministic simulation: a wait that rounded to zero was asked again at
    // the same instant, for ever.
    let config = RetryBudgetConfig::default().with_capacity(1.0).with_refill_per_second(1e9);
    let mut budget = RetryBudget::new(config);
    budget.check_retry(T0, false);
    budget.take(false);
    match budget.check_retry(T0, false) {
        Admission::WaitUntil { until, .. } => assert!(until > T0, "a wait until {until:?} at {T0:?}"),
        other => panic!("{other:?}"),
    }
}
