//! What must hold after every run, whatever the seed: each post ends one way and is published
//! at most once; no publish waits past its bounds; nothing is sent for a cancelled publish;
//! the first millisecond after a gate hold carries at most one request; a store agrees with
//! the server.

use postato::{idempotency_key, ErrorKind, Jitter};
use std::time::Duration;

use crate::run::{is_typed, CancelHow, Report};

/// Slack for the millisecond clock.
const TICK: Duration = Duration::from_millis(2);

pub fn check(report: &Report) -> Vec<String> {
    let mut violations = Vec::new();
    each_post_ends_one_way(report, &mut violations);
    publishes_keep_their_bounds(report, &mut violations);
    nothing_is_sent_after_a_cancel(report, &mut violations);
    a_hold_ends_with_one_probe(report, &mut violations);
    the_store_agrees_with_the_server(report, &mut violations);
    violations
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
        match &outcome.result {
            None if dropped => {}
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
                if !is_typed(error.kind()) {
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
    };
    let first_send_bound = policy.max_retry_after + TICK;
    let gap_bound = policy.attempt_timeout
        + (policy.backoff_cap + jitter).max(policy.max_retry_after)
        + policy.max_retry_after
        + TICK;
    let max_sends = (policy.max_attempts + policy.max_rate_limit_waits) as usize;
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let (Some(started), Some(ended)) = (outcome.started, outcome.ended) else { continue };
        if planned.shared_key || planned.cancel.is_some() {
            continue;
        }
        let key = idempotency_key(&planned.business_key);
        let sends: Vec<_> = report.arrivals.iter().filter(|a| a.key == key).map(|a| a.at).collect();
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

fn nothing_is_sent_after_a_cancel(report: &Report, violations: &mut Vec<String>) {
    for (planned, outcome) in report.plan.publishes.iter().zip(&report.outcomes) {
        let (Some(after), false) = (outcome.cancelled_after_seq, planned.shared_key) else { continue };
        let key = idempotency_key(&planned.business_key);
        let late = report.arrivals.iter().filter(|a| a.key == key && a.seq > after).count();
        if late > 0 {
            let how = planned.cancel.map(|(how, _)| how);
            violations
                .push(format!("{} sent {late} request(s) after it was cancelled ({how:?})", planned.business_key));
        }
    }
}

fn a_hold_ends_with_one_probe(report: &Report, violations: &mut Vec<String>) {
    for hold_end in report.holds.iter().filter(|h| h.as_millis() > 0) {
        let first_ms = hold_end.saturating_add(Duration::from_millis(1));
        let burst = report.sends.iter().filter(|t| *t >= hold_end && *t < &first_ms).count();
        if burst > 1 {
            violations.push(format!("{burst} requests went in the first millisecond after a hold ended"));
        }
    }
}

fn the_store_agrees_with_the_server(report: &Report, violations: &mut Vec<String>) {
    for (business_key, stored, dead) in &report.store_ids {
        let key = idempotency_key(business_key);
        let truth = report.server_ids.iter().find(|(k, _)| *k == key).and_then(|(_, id)| id.clone());
        if let Some(stored) = stored {
            if truth.as_ref() != Some(stored) {
                violations.push(format!("the store has {business_key} as {stored}, the server {truth:?}"));
            }
            if *dead {
                violations.push(format!("the store has {business_key} both published and dead-lettered"));
            }
        }
    }
}
