//! The shared rate-limit gate and retry budget.
use postato_core::*;
use std::time::Duration;

mod common;
use common::T0;

fn at(ms: u64) -> Timestamp {
    T0.saturating_add(Duration::from_millis(ms))
}

fn first() -> NextSend {
    NextSend { is_retry: false, after_timeout: false }
}

fn retry() -> NextSend {
    NextSend { is_retry: true, after_timeout: false }
}

#[test]
fn the_first_request_probes_while_others_wait_for_its_answer() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    assert_eq!(limits.admit(T0, first()), Admission::Go);
    assert!(matches!(limits.admit(T0, first()), Admission::WaitUntil { reason: WaitReason::RateLimitGate, .. }));
    limits.on_response(at(5), &Response::new(202, "{}"));
    assert_eq!(limits.admit(at(5), first()), Admission::Go);
    assert_eq!(limits.admit(at(5), first()), Admission::Go, "no headers: no pacing");
}

#[test]
fn a_probe_that_never_answers_stops_holding_others() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    assert_eq!(limits.admit(T0, first()), Admission::Go);
    assert_eq!(limits.admit(at(2_000), first()), Admission::Go);
}

#[test]
fn a_429_holds_every_publish_until_retry_after() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(T0, first());
    limits.on_response(T0, &Response::new(429, "").with_header("Retry-After", "3"));
    assert_eq!(limits.admit(at(10), first()), Admission::WaitUntil { until: at(3_000), reason: WaitReason::RateLimitGate });
    assert_eq!(limits.admit(at(3_000), first()), Admission::Go);
}

#[test]
fn ratelimit_policy_headers_pace_at_the_advertised_rate() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(T0, first());
    let headers = Response::new(202, "{}")
        .with_header("RateLimit-Policy", "100;w=1;burst=5")
        .with_header("RateLimit-Remaining", "3")
        .with_header("RateLimit-Limit", "5");
    limits.on_response(T0, &headers);
    let mut sent = 0;
    let mut now = T0;
    while now < at(1_000) {
        match limits.admit(now, first()) {
            Admission::Go => sent += 1,
            Admission::WaitUntil { until, .. } => now = until,
            Admission::Refuse => unreachable!(),
        }
    }
    // 3 remaining plus about 97 per second (3 % margin).
    assert!((95..=101).contains(&sent), "{sent}");
}

#[test]
fn remaining_zero_without_a_policy_holds_until_reset() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    limits.admit(T0, first());
    limits.on_response(T0, &Response::new(202, "{}").with_header("RateLimit-Remaining", "0").with_header("RateLimit-Reset", "2"));
    assert_eq!(limits.admit(at(1), first()), Admission::WaitUntil { until: at(2_000), reason: WaitReason::RateLimitGate });
}

#[test]
fn the_budget_limits_retries_in_an_outage_and_refills_on_success() {
    let config = RetryBudgetConfig { capacity: 10.0, refill_per_second: 1.0, ..RetryBudgetConfig::default() };
    let limits = SharedLimits::new(config);
    limits.admit(T0, first());
    limits.on_response(T0, &Response::new(503, ""));
    for _ in 0..10 {
        assert_eq!(limits.admit(T0, retry()), Admission::Go);
    }
    assert!(matches!(limits.admit(T0, retry()), Admission::WaitUntil { reason: WaitReason::RetryBudget, .. }));
    assert_eq!(limits.admit(T0, first()), Admission::Go, "first attempts are free");
    assert_eq!(limits.admit(at(1_000), retry()), Admission::Go, "time refills");
    limits.on_response(at(1_000), &Response::new(202, "{}"));
    assert_eq!(limits.admit(at(1_000), retry()), Admission::Go, "a success deposits");
    assert_eq!(limits.admit(at(1_000), retry()), Admission::Go);
    assert!(matches!(limits.admit(at(1_000), retry()), Admission::WaitUntil { .. }));
}

#[test]
fn timeouts_cost_more_and_a_failing_budget_refuses() {
    let config = RetryBudgetConfig { capacity: 3.0, when_empty: WhenBudgetEmpty::Fail, ..RetryBudgetConfig::default() };
    let mut budget = RetryBudget::new(config);
    assert_eq!(budget.check_retry(T0, true), Admission::Go);
    budget.take(true);
    assert_eq!(budget.tokens(), 1.0);
    assert_eq!(budget.check_retry(T0, true), Admission::Refuse);
    assert_eq!(budget.check_retry(T0, false), Admission::Go);
}
