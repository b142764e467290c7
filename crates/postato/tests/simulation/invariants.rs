//! What must hold after every run, whatever the seed: each post ends one way and is published
//! at most once; no publish waits past its bounds; nothing is sent for a cancelled publish;
//! the first millisecond after a gate hold carries at most one request of the scope it held
//! (the probe's, even when it is answered at once);
//! no post waits on another account's hold; a store agrees with the server, holds no key both
//! published and dead-lettered, keeps no claim once its publish has returned (a release the
//! process died before, or the store failed, leaves it to its lease: the design's promise),
//! and a key is never sent again once the server's key retention has passed since a request
//! of it that the server may have processed (not a 429).

use postato::{idempotency_key, ErrorKind, Event, Jitter, WaitReason};
use std::collections::BTreeMap;
use std::time::Duration;

use crate::run::{is_expected, CancelHow, Report, RUN_LIMIT};

/// Slack for the millisecond clock.
const TICK: Duration = Duration::from_millis(2);
/// The longest a publish may wait for the gate's probe to answer: the window doubles every
/// 2 s without an answer, so 64 publishes get through within 7 rounds.
const PROBE_ALLOWANCE: Duration = Duration::from_secs(16);

pub fn check(report: &Report) -> Vec<String> {
    let mut violations = Vec::new();
    each_post_ends_one_way(report, &mut violations);
    publishes_keep_their_bounds(report, &mut violations);
    shared_waits_keep_their_bound(report, &mut violations);
    nothing_is_sent_after_a_cancel(report, &mut violations);
    a_hold_ends_with_one_probe(report, &mut violations);
    no_post_waits_on_another_accounts_hold(report, &mut violations);
    the_store_agrees_with_the_server(report, &mut violations);
    no_claim_outlives_its_publish(report, &mut violations);
    nothing_is_resent_past_the_key_retention(report, &mut violations);
    a_rate_limited_post_is_deferred_and_published_once_due(report, &mut violations);
    violations
}

/// A Publisher never dead-letters a post `rate_limited` (it defers it), sends nothing for a
/// deferred post before its time, and every deferred post is published once its time has come (the server publishes each key at most once:
/// [`each_post_ends_one_way`]), across crashes and restarts.
fn a_rate_limited_post_is_deferred_and_published_once_due(report: &Report, violations: &mut Vec<String>) {
    for view in &report.store_ids {
        // A store that failed the deferral's record leaves it to a dead letter: nothing lost.
        if report.troubled_keys.contains(&view.business_key) {
            continue;
        }
        if view.dead_kind.as_deref() == Some(ErrorKind::RateLimited.as_str()) {
            violations.push(format!("{} was dead-lettered rate_limited instead of deferred", view.business_key));
        }
        if view.deferred {
            violations.push(format!(
                "{} is still deferred after {} rounds of due posts",
                view.business_key, report.due_rounds
            ));
        }
        // Every request of it answered 429 (refused, never processed), as the client saw them:
        // its outcome is known, unless its publish died or was dropped before it could say so.
        let of_key = || report.events.iter().filter(|(_, key, _)| key == &view.business_key);
        let sent = of_key().filter(|(_, _, e)| matches!(e, Event::AttemptStarted { .. })).count();
        let refused = of_key().filter(|(_, _, e)| matches!(e, Event::ResponseClassified { status: 429, .. })).count();
        let only_refused = sent == refused;
        let cut_short = report.plan.publishes.iter().zip(&report.outcomes).any(|(p, o)| {
            p.business_key == view.business_key && (o.crashed || matches!(p.cancel, Some((CancelHow::Drop, _))))
        });
        if view.dead_kind.as_deref() == Some(ErrorKind::OutcomeUnknown.as_str()) && only_refused && !cut_short {
            violations.push(format!(
                "{} was dead-lettered outcome_unknown though every request of it was refused (429)",
                view.business_key
            ));
        }
    }
    // Nothing is sent for a deferred post before its time (a publish of its key in between,
    // such as the restarted process's, answers from the store).
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let Some(Err(postato::PublishError::Deferred { retry_at, retry_after, .. })) = &outcome.result else {
            continue;
        };
        if planned.shared_key || planned.cancel.is_some() {
            continue;
        }
        let deferred_at = postato_core::Timestamp::from_millis(retry_at.as_millis() - retry_after.as_millis() as u64);
        let mut early = report.events.iter().filter(|(at, key, event)| {
            key == &planned.business_key
                && matches!(event, Event::AttemptStarted { .. })
                && *at > deferred_at
                && at < retry_at
        });
        if let Some((at, _, _)) = early.next() {
            violations.push(format!(
                "{} was sent at {} ms, before its deferral ended at {} ms",
                planned.business_key,
                at.as_millis(),
                retry_at.as_millis()
            ));
        }
    }
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let deferred = matches!(outcome.result, Some(Err(postato::PublishError::Deferred { .. })));
        let Some(view) = report.store_ids.iter().find(|v| v.business_key == planned.business_key) else { continue };
        if deferred && view.published.is_none() && !view.dead && !report.troubled_keys.contains(&planned.business_key) {
            violations.push(format!("{} was deferred but never published once due", planned.business_key));
        }
    }
}

fn each_post_ends_one_way(report: &Report, violations: &mut Vec<String>) {
    for (key, publishes) in &report.server_publishes {
        if *publishes > 1 {
            violations.push(format!("key {key} was published {publishes} times"));
        }
    }
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let key = idempotency_key(&planned.business_key);
        let dropped = matches!(planned.cancel, Some((CancelHow::Drop, _)));
        if let Some(restarted) = &outcome.restarted {
            match restarted {
                Ok(published) => {
                    let truth = report.server_ids.iter().find(|(k, _)| *k == key).and_then(|(_, id)| id.as_deref());
                    if truth != Some(published.id.as_str()) {
                        violations.push(format!(
                            "{} was reported published as {} after the restart, but the server has {truth:?}",
                            planned.business_key, published.id
                        ));
                    }
                }
                Err(error) if !is_expected(error.kind()) && error.kind() != ErrorKind::OutcomeUnknown => violations
                    .push(format!("{} ended with an unexpected {error:?} after the restart", planned.business_key)),
                Err(_) => {}
            }
        }
        match &outcome.result {
            None if dropped || outcome.crashed => {}
            None => violations.push(format!("{} never ended (hung past the run's limit)", planned.business_key)),
            Some(Ok(published)) => {
                let truth = report.server_ids.iter().find(|(k, _)| *k == key).and_then(|(_, id)| id.as_deref());
                if truth != Some(published.id.as_str()) {
                    violations.push(format!(
                        "{} reported published as {} but the server has {truth:?}",
                        planned.business_key, published.id
                    ));
                }
            }
            Some(Err(error)) => {
                if !is_expected(error.kind()) {
                    violations.push(format!("{} ended with an unexpected {error:?}", planned.business_key));
                }
                if error.kind() == ErrorKind::Cancelled && !matches!(planned.cancel, Some((CancelHow::Token, _))) {
                    violations.push(format!("{} was cancelled though nobody cancelled it", planned.business_key));
                }
            }
        }
    }
}

fn publishes_keep_their_bounds(report: &Report, violations: &mut Vec<String>) {
    let policy = &report.plan.policy;
    let jitter = match policy.jitter {
        Jitter::Additive { max } => max,
        Jitter::Full => Duration::ZERO,
        other => panic!("the invariants do not know jitter {other:?}: add its bound"),
    };
    let first_send_bound = policy.max_retry_after + PROBE_ALLOWANCE + TICK;
    let gap_bound = policy.timeout
        + (policy.backoff_cap + jitter).max(policy.max_retry_after)
        + policy.max_retry_after
        + PROBE_ALLOWANCE
        + TICK;
    let max_sends = (policy.max_attempts + policy.max_rate_limit_waits) as usize;
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let (Some(started), Some(ended)) = (outcome.started, outcome.ended) else { continue };
        // The bounds are the client's; a stalling store adds its own time (bounded by the store).
        let stalling_store = report.plan.via_publisher && report.plan.store_faults.stall > 0.0;
        if planned.shared_key || planned.cancel.is_some() || outcome.crashed || stalling_store {
            continue;
        }
        let key = idempotency_key(&planned.business_key);
        // The rounds of due posts publish its post again if it was deferred: not this publish.
        let sends: Vec<_> =
            report.arrivals.iter().filter(|a| a.key == key && a.seq <= report.due_from_seq).map(|a| a.at).collect();
        let name = &planned.business_key;
        if sends.len() > max_sends {
            violations.push(format!("{name} sent {} requests; its policy allows {max_sends}", sends.len()));
        }
        if let Some(deadline) = policy.deadline {
            if ended.duration_since(started) > deadline + TICK {
                violations
                    .push(format!("{name} took {:?} past its deadline {deadline:?}", ended.duration_since(started)));
            }
        }
        let first = sends.first().copied().unwrap_or(ended);
        if first.duration_since(started) > first_send_bound {
            violations.push(format!("{name} waited {:?} before its first request", first.duration_since(started)));
        }
        let mut times = sends.clone();
        times.push(ended);
        for pair in times.windows(2) {
            let gap = pair[1].duration_since(pair[0]);
            if gap > gap_bound {
                violations.push(format!("{name} went {gap:?} between requests (bound {gap_bound:?})"));
            }
        }
    }
}

/// A wait on the shared limits (a hold, pacing, the budget) lasts at most `max_retry_after`,
/// from the first such wait to the next request or the end, not counting the time spent
/// waiting for the gate's probe to answer (bounded by `PROBE_ALLOWANCE` above).
fn shared_waits_keep_their_bound(report: &Report, violations: &mut Vec<String>) {
    use postato_core::Timestamp;
    let bound = report.plan.policy.max_retry_after + TICK;
    // A crashed publish's waits never end; its successor's are its own publish.
    let crashed: std::collections::BTreeSet<&str> = report
        .plan
        .publishes
        .iter()
        .zip(&report.outcomes)
        .filter(|(_, o)| o.crashed)
        .map(|(p, _)| p.business_key.as_str())
        .collect();
    // Per key: the shared wait so far, and since when the current stretch of it runs.
    let mut waits: BTreeMap<&str, (Duration, Option<Timestamp>)> = BTreeMap::new();
    let close = |entry: &mut (Duration, Option<Timestamp>), at: Timestamp| {
        if let Some(started) = entry.1.take() {
            entry.0 += at.saturating_since(started);
        }
    };
    for (at, key, event) in &report.events {
        if crashed.contains(key.as_str()) {
            continue;
        }
        match event {
            Event::Waiting { reason: WaitReason::Probe, .. } => {
                if let Some(entry) = waits.get_mut(key.as_str()) {
                    close(entry, *at);
                }
            }
            Event::Waiting { reason, .. } if !reason.is_retry() => {
                let entry = waits.entry(key).or_insert((Duration::ZERO, None));
                entry.1.get_or_insert(*at);
            }
            Event::Waiting { .. } => {
                waits.remove(key.as_str());
            }
            Event::AttemptStarted { .. } | Event::Finished { .. } => {
                if let Some(mut entry) = waits.remove(key.as_str()) {
                    close(&mut entry, *at);
                    if entry.0 > bound {
                        violations.push(format!("{key} waited {:?} on the shared limits (bound {bound:?})", entry.0));
                    }
                }
            }
            _ => {}
        }
    }
}

fn nothing_is_sent_after_a_cancel(report: &Report, violations: &mut Vec<String>) {
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let (Some(after), false) = (outcome.cancelled_after_seq, planned.shared_key || outcome.crashed) else {
            continue;
        };
        let key = idempotency_key(&planned.business_key);
        // The rounds of due posts publish a post deferred before its cancel came: not this publish.
        let late =
            report.arrivals.iter().filter(|a| a.key == key && a.seq > after && a.seq <= report.due_from_seq).count();
        if late > 0 {
            let how = planned.cancel.map(|(how, _)| how);
            violations
                .push(format!("{} sent {late} request(s) after it was cancelled ({how:?})", planned.business_key));
        }
    }
}

/// After a hold of the workspace one request probes alone, and after an account's one of that
/// account's (other accounts' posts were never held): the first millisecond of a hold's end is
/// the probe's, even when it is answered at once (its own retry waits too).
fn a_hold_ends_with_one_probe(report: &Report, violations: &mut Vec<String>) {
    for (scope, hold_end) in report.holds.iter().filter(|(_, h)| h.as_millis() > 0) {
        let first_ms = hold_end.saturating_add(Duration::from_millis(1));
        let burst = report
            .sends
            .iter()
            .filter(|(t, account)| t >= hold_end && *t < first_ms && scope.as_ref().is_none_or(|s| s == account))
            .count();
        if burst > 1 {
            let whose = scope.as_deref().unwrap_or("the workspace");
            violations.push(format!("{burst} requests went in the first millisecond after a hold of {whose} ended"));
        }
    }
}

/// How long after the server refused a request for the workspace a hold of every account may
/// last: a named workspace hold lasts the default wait (1 s) from an answer that arrives
/// within the server's latency (at most 50 ms); an inferred one as long, from the last of the
/// 429s that made the client infer it, which may come up to 1 s after this refusal (another
/// account's short 429, its own quota's).
const WORKSPACE_HOLD_AFTER_REFUSAL: Duration = Duration::from_millis(1_000 + 1_000 + 50 + 10);

/// A post is held only while its account is limited (the server answered it a 429 or
/// `RateLimit-*` headers) or within a workspace hold's reach of the server refusing a request
/// for the workspace (its limiter, or load shed at random); paced or ended `rate_limited` only
/// once one of those happened: never by another account's limit. Judged by the server's truth,
/// not by the client's gates.
fn no_post_waits_on_another_accounts_hold(report: &Report, violations: &mut Vec<String>) {
    let mut first_limited: BTreeMap<&str, tokio::time::Instant> = BTreeMap::new();
    for arrival in report.arrivals.iter().filter(|a| a.limiting) {
        first_limited.entry(arrival.account.as_str()).or_insert(arrival.at);
    }
    let refusals: Vec<tokio::time::Instant> =
        report.arrivals.iter().filter(|a| a.workspace_refused).map(|a| a.at).collect();
    let account_of: BTreeMap<&str, String> =
        report.plan.publishes.iter().map(|p| (p.business_key.as_str(), crate::run::account_name(p.account))).collect();
    for ((_, key, event), at) in report.events.iter().zip(&report.event_instants) {
        let reach = match event {
            Event::Waiting { reason: WaitReason::RateLimitGate, .. } => WORKSPACE_HOLD_AFTER_REFUSAL,
            // A pace the workspace learned lasts.
            Event::Waiting { reason: WaitReason::Pacing, .. }
            | Event::Finished { result: Err(ErrorKind::RateLimited), .. } => RUN_LIMIT * 2,
            _ => continue,
        };
        let Some(account) = account_of.get(key.as_str()) else { continue };
        let limited = first_limited.get(account.as_str()).is_some_and(|first| first <= at);
        let workspace = refusals.iter().any(|refused| refused <= at && at.duration_since(*refused) <= reach);
        if !limited && !workspace {
            violations.push(format!("{key} of {account}, never limited, was held ({event:?})"));
        }
    }
}

fn the_store_agrees_with_the_server(report: &Report, violations: &mut Vec<String>) {
    for view in &report.store_ids {
        let business_key = &view.business_key;
        let key = idempotency_key(business_key);
        let truth = report.server_ids.iter().find(|(k, _)| *k == key).and_then(|(_, id)| id.clone());
        if let Some(stored) = &view.published {
            if truth.as_ref() != Some(stored) {
                violations.push(format!("the store has {business_key} as {stored}, the server {truth:?}"));
            }
            if view.dead {
                violations.push(format!("the store has {business_key} both published and dead-lettered"));
            }
        }
    }
    // Nothing lost: what a publish reported, the store recorded (unless the store failed it).
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let Some(view) = report.store_ids.iter().find(|v| v.business_key == planned.business_key) else { continue };
        if outcome.store_error || report.troubled_keys.contains(&planned.business_key) {
            continue;
        }
        match &outcome.result {
            Some(Ok(published)) if view.published.as_deref() != Some(published.id.as_str()) => {
                violations.push(format!(
                    "{} was published as {} but the store has {:?}",
                    planned.business_key, published.id, view.published
                ))
            }
            // A store that could not answer: nothing sent, nothing to record (a rerun finishes it).
            Some(Err(postato::PublishError::Transient { last: postato::Failure::StoreUnavailable(_), .. })) => {}
            Some(Err(error)) if error.kind().is_dead_lettered() && !view.dead && view.published.is_none() => {
                let kind = error.kind().as_str();
                violations.push(format!(
                    "{} failed ({kind}) but was neither recorded nor dead-lettered",
                    planned.business_key
                ))
            }
            _ => {}
        }
    }
}

fn no_claim_outlives_its_publish(report: &Report, violations: &mut Vec<String>) {
    for key in &report.claims_left {
        // A release the store failed leaves the claim to its lease: the store's fault.
        if !report.troubled_keys.contains(key) {
            violations.push(format!("{key} is still claimed after every publish of it ended"));
        }
    }
    // A publish that returned has released its claim, unless the store failed the release or
    // stalled it past the Publisher's wait (then its guard releases it in the background).
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let key = &planned.business_key;
        if outcome.claim_left && !report.troubled_keys.contains(key) && !report.slow_releases.contains(key) {
            violations.push(format!("{key} was still claimed once its publish had ended"));
        }
    }
}

fn nothing_is_resent_past_the_key_retention(report: &Report, violations: &mut Vec<String>) {
    if !report.plan.via_publisher {
        return;
    }
    let retention = report.plan.key_retention;
    // Since when each key has had a request the server may have processed: a 429 is refused
    // before processing, so requests answered only 429 (a deferred post's) start nothing.
    let mut first: BTreeMap<&str, tokio::time::Instant> = BTreeMap::new();
    for arrival in &report.arrivals {
        let Some(&first) = first.get(arrival.key.as_str()) else {
            if arrival.status != Some(429) {
                first.insert(arrival.key.as_str(), arrival.at);
            }
            continue;
        };
        if arrival.at > first + retention {
            violations.push(format!(
                "key {} was sent again {:.0} s after its first send, past the key retention",
                arrival.key,
                (arrival.at - first).as_secs_f64()
            ));
        }
    }
}
