//! Limits where the server puts them: each account's gate holds and paces its own posts, the
//! workspace's only on evidence, and a campaign over many accounts keeps few of them.
use postato_core::*;
use std::time::Duration;

mod common;
use common::T0;

fn at(ms: u64) -> Timestamp {
    T0.saturating_add(Duration::from_millis(ms))
}

fn account(n: u32) -> Scope {
    Scope::new("x", &format!("acc_{n}"))
}

fn first() -> NextSend {
    NextSend { is_retry: false, after_timeout: false }
}

fn too_many(retry_after: &str) -> Response {
    Response::new(429, "").with_header("Retry-After", retry_after)
}

/// One request of `scope` sent at `now` and answered at once with `response`.
fn answered(limits: &SharedLimits, scope: &Scope, now: Timestamp, response: &Response) {
    assert_eq!(limits.admit(scope, now, first()), Admission::Go, "{scope} could send");
    limits.on_response(scope, now, now, response);
}

fn held(admission: Admission) -> bool {
    matches!(admission, Admission::WaitUntil { reason: WaitReason::RateLimitGate, .. })
}

#[test]
fn a_spent_account_never_holds_another_accounts_posts() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    answered(&limits, &account(1), T0, &too_many("3000"));
    assert!(held(limits.admit(&account(1), at(1), first())), "the spent account waits for its quota");
    for n in 2..=9 {
        answered(&limits, &account(n), at(n.into()), &Response::new(202, "{}"));
    }
    assert!(limits.snapshot(at(10)).gate.hold_until <= at(10), "the workspace holds nothing");
    let spent = limits.scope_snapshot(&account(1), at(10)).unwrap();
    assert_eq!(spent.hold_until, T0.saturating_add(Duration::from_secs(3000)));
}

#[test]
fn a_429_that_names_the_workspace_holds_every_account() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    let workspace_limit =
        Response::new(429, r#"{"error":{"code":"rate_limited","scope":"workspace"}}"#).with_header("Retry-After", "2");
    answered(&limits, &account(1), T0, &workspace_limit);
    for n in 1..=3 {
        assert!(held(limits.admit(&account(n), at(1), first())), "account {n} waits for the workspace");
    }
    assert_eq!(limits.admit(&account(2), at(2_000), first()), Admission::Go);
}

#[test]
fn a_429_that_names_the_account_stays_with_it_however_many_accounts_get_one() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    let account_limit =
        Response::new(429, "").with_header("Retry-After", "1").with_header("RateLimit-Scope", "account");
    for n in 1..=5 {
        answered(&limits, &account(n), at(n.into()), &account_limit);
    }
    assert_eq!(limits.admit(&account(6), at(10), first()), Admission::Go);
}

#[test]
fn short_bare_429s_from_three_accounts_at_once_are_taken_for_a_workspace_limit() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    answered(&limits, &account(1), at(0), &too_many("1"));
    answered(&limits, &account(2), at(100), &too_many("1"));
    assert_eq!(limits.admit(&account(9), at(150), first()), Admission::Go, "two accounts are no evidence");
    limits.on_abandoned(&account(9), at(150));
    answered(&limits, &account(3), at(200), &too_many("1"));
    assert!(held(limits.admit(&account(9), at(250), first())), "three at once are");
}

#[test]
fn bare_429s_spread_over_time_or_asking_for_long_waits_stay_with_their_accounts() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    // Three accounts, but seconds apart: each its own limit.
    for n in 1..=3u32 {
        answered(&limits, &account(n), at(u64::from(n) * 1_500), &too_many("1"));
    }
    assert_eq!(limits.admit(&account(9), at(4_600), first()), Admission::Go);
    limits.on_abandoned(&account(9), at(4_600));
    // Three accounts at once whose daily quotas ran out: each asks for its window's end.
    for n in 4..=6u32 {
        answered(&limits, &account(n), at(5_000 + u64::from(n)), &too_many("3000"));
    }
    assert_eq!(limits.admit(&account(9), at(5_010), first()), Admission::Go);
}

#[test]
fn ratelimit_headers_pace_their_own_account_unless_they_name_the_workspace() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    let spent = Response::new(202, "{}").with_header("RateLimit-Remaining", "0").with_header("RateLimit-Reset", "5");
    answered(&limits, &account(1), T0, &spent);
    assert!(held(limits.admit(&account(1), at(1), first())));
    assert_eq!(limits.admit(&account(2), at(1), first()), Admission::Go);
    limits.on_response(&account(2), at(2), at(1), &Response::new(202, "{}"));
    answered(&limits, &account(2), at(3), &spent.clone().with_header("RateLimit-Scope", "workspace"));
    assert!(held(limits.admit(&account(3), at(4), first())), "the workspace's own limit holds everyone");
}

#[test]
fn a_campaign_over_100000_accounts_keeps_a_bounded_number_of_idle_scopes() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    for n in 0..100_000u32 {
        let now = at(u64::from(n));
        answered(&limits, &account(n), now, &Response::new(202, "{}"));
    }
    let kept = limits.snapshot(at(100_000)).scopes;
    assert!(kept <= 2 * MAX_IDLE_SCOPES, "{kept} scopes kept");
    assert!(limits.scope_snapshot(&account(99_999), at(100_000)).is_some(), "the latest is kept");
}

#[test]
fn one_accounts_repeated_bare_429s_never_hold_the_workspace() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    for n in 0..20u64 {
        let now = at(n * 1_000);
        assert_eq!(limits.admit(&account(1), now, first()), Admission::Go, "after its hold, the account probes");
        limits.on_response(&account(1), now, now, &too_many("1"));
    }
    assert_eq!(limits.admit(&account(2), at(19_001), first()), Admission::Go);
}

#[test]
fn a_publish_to_a_healthy_account_finishes_while_another_account_is_held() {
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    answered(&limits, &account(1), T0, &too_many("3000"));
    let post = Post::new("healthy", "x", "acc_2", PostStatus::Publish, "post", "hello");
    let request = Request::new(&post, "ws_1", &ApiKey::new("sk_test".to_owned()), "rust").unwrap();
    assert_eq!(request.scope(), &account(2));
    let mut machine = PublishMachine::new(request, RetryPolicy::default(), 1, at(5));
    let scope = account(2);
    let Action::Send(_) = machine.poll_with(at(5), |next| limits.admit(&scope, at(5), next)) else {
        panic!("the healthy account's post waited");
    };
    let published = Response::new(202, r#"{"id":"post_1","status":"published"}"#);
    limits.on_response(&scope, at(6), at(5), &published);
    machine.handle_response(at(6), &published);
    match machine.poll_with(at(6), |next| limits.admit(&scope, at(6), next)) {
        Action::Done(Ok(published)) => assert_eq!(published.attempts, 1),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_send_waiting_on_its_account_never_spends_the_workspaces_pace() {
    // The workspace paces at its advertised rate with 2 tokens left; an account's second post
    // waits for its probe's answer, asking again every millisecond: none of those asks may
    // spend a workspace token, or other accounts' posts would starve.
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    let workspace_pace = Response::new(202, "{}")
        .with_header("RateLimit-Policy", "10;w=1;burst=2")
        .with_header("RateLimit-Remaining", "2")
        .with_header("RateLimit-Scope", "workspace");
    answered(&limits, &account(1), T0, &workspace_pace);
    assert_eq!(limits.admit(&account(2), at(1), first()), Admission::Go, "account 2's probe");
    for _ in 0..50 {
        let admission = limits.admit(&account(2), at(1), first());
        assert!(matches!(admission, Admission::WaitUntil { reason: WaitReason::Probe, .. }), "{admission:?}");
    }
    assert_eq!(limits.admit(&account(3), at(1), first()), Admission::Go, "the workspace's second token is left");
}

#[test]
fn short_429s_from_three_accounts_while_the_others_are_answered_never_hold_the_workspace() {
    // Three accounts each over a limit of their own (1 post/s, `Retry-After: 1`, no scope
    // named) while the other accounts are answered: no workspace limit explains that.
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    let accepted = Response::new(202, "{}");
    answered(&limits, &account(1), at(0), &too_many("1"));
    answered(&limits, &account(7), at(50), &accepted);
    answered(&limits, &account(2), at(100), &too_many("1"));
    answered(&limits, &account(8), at(150), &accepted);
    answered(&limits, &account(3), at(200), &too_many("1"));
    assert_eq!(limits.admit(&account(9), at(250), first()), Admission::Go);
    assert!(limits.snapshot(at(250)).gate.hold_until <= at(250), "the workspace holds nothing");
}

#[test]
fn an_account_refused_by_its_own_pace_leaves_the_workspaces_probe_to_others() {
    // After a workspace hold, the first millisecond is the probe's: an account whose own pace
    // refuses it must not use that probe up on its way.
    let limits = SharedLimits::new(RetryBudgetConfig::default());
    let spent_account =
        Response::new(202, "{}").with_header("RateLimit-Policy", "1;w=10").with_header("RateLimit-Remaining", "0");
    answered(&limits, &account(1), T0, &spent_account);
    let workspace_limit = too_many("1").with_header("RateLimit-Scope", "workspace");
    answered(&limits, &account(2), T0, &workspace_limit);
    let paced = limits.admit(&account(1), at(1_000), first());
    assert!(matches!(paced, Admission::WaitUntil { reason: WaitReason::Pacing, .. }), "{paced:?}");
    assert_eq!(limits.admit(&account(3), at(1_000), first()), Admission::Go, "the probe is still there");
}
