//! The prose of "What limits each row": one note per group of rows. Every number in it is
//! interpolated from the results (figures, parameters, the machine, the client's settings);
//! a fact the results do not carry is said without a number.

use crate::core_bench::WHOLE_PUBLISH;
use crate::report::{duration, number};
use crate::results::{Figures, Results, Scenario};

/// (label, note) for each group of rows, in the table's order.
pub fn notes(results: &Results) -> Vec<(String, String)> {
    let mut notes: Vec<(String, String)> = Vec::new();
    for s in &results.scenarios {
        let label = label(s);
        let note = note(results, s);
        match notes.iter_mut().find(|(l, _)| *l == label) {
            // Rows of one group share a note; a binding that did not run adds its reason.
            Some((_, existing)) if !existing.contains(&note) => {
                existing.push(' ');
                existing.push_str(&note);
            }
            Some(_) => {}
            None => notes.push((label, note)),
        }
    }
    notes
}

fn label(s: &Scenario) -> String {
    match s.figures {
        Figures::Binding(_) | Figures::BindingNotRun(_) => format!("{}. Bindings", s.id),
        Figures::Core(_) => format!("{}. Core (criterion)", s.id),
        _ => format!("{}. {}", s.id, s.name),
    }
}

fn note(results: &Results, s: &Scenario) -> String {
    let cores = match results.machine.cores {
        1 => "single core".to_owned(),
        n => format!("{n} cores"),
    };
    match &s.figures {
        Figures::Overhead(_) => format!(
            "Client and simulator share the {cores}, so every cycle the client spends is taken from the server. Per \
             publish the client adds validation, a JSON serialisation, a SHA-256 each for the key and the \
             fingerprint, a tokio timer for the attempt timeout, the shared-limits lock, response headers copied \
             into owned strings, and a tracing span. What would narrow the gap further: sending the body as shared \
             `Bytes` instead of copying it per attempt, borrowing header values instead of allocating them, and \
             entering the tracing span only when a subscriber is interested; the timer is a deliberate cost (the \
             reference has no timeout)."
        ),
        Figures::Goodput(g) if g.parameters.rate_limit_headers => format!(
            "The first request probes the limit; `RateLimit-Policy` then paces every publish a little below the \
             advertised rate (a margin for clock drift). The reference fires {} requests at a time and sleeps the \
             whole Retry-After on each 429.",
            g.parameters.concurrency
        ),
        Figures::Goodput(g) => format!(
            "No `RateLimit-*` headers: the gate learns the rate. The first 429s hold everyone for the server's \
             Retry-After and start a slow start from the previous second's success rate, doubling it at short \
             intervals; its first 429s date the moment it passed the server's rate, which fits a token bucket's \
             rate, and pacing goes on a little below the fitted rate, growing CUBIC-style. The hold and the slow \
             start are most of the {:.2} s beyond the ideal. The reference fires {} requests at a time and sleeps \
             the whole Retry-After on each 429.",
            g.ours.seconds - g.ideal_seconds(),
            g.parameters.concurrency
        ),
        Figures::Outage(_) => outage(results),
        Figures::Campaign(c) => format!(
            "The campaign is streamed through a bounded channel; memory holds the in-flight posts, the counters and \
             the list of keys held by other workers (empty when a single worker runs). Throughput is bounded by a \
             SQLite commit per post (WAL, synchronous=NORMAL) and the shared {cores}: the store alone writes {:.0} \
             records/s.",
            c.baseline.figures.records_per_second
        ),
        Figures::Binding(_) => format!(
            "The binding releases the GIL (Python) or runs on the addon's tokio runtime (Node); each publish crosses \
             the boundary once. Everything shares the {cores} with the simulator."
        ),
        Figures::BindingNotRun(b) => format!("The {} binding did not run: {}.", b.language, b.reason),
        Figures::Core(_) => core(results),
    }
}

/// The retry budget and backoff, from the client's recorded settings.
fn outage(results: &Results) -> String {
    let (budget, policy) = (&results.client.retry_budget, &results.client.retry_policy);
    let mut note = format!(
        "The retry budget allows a burst of {} retries, then {}/s, during the outage; each success after recovery \
         funds {} more, so the backlog drains in rounds rather than one retry every {} s.",
        number(budget.capacity / budget.retry_cost),
        number(budget.refill_per_second / budget.retry_cost),
        number(budget.success_deposit / budget.retry_cost),
        number(budget.retry_cost / budget.refill_per_second),
    );
    // The longest backoff comes after the last failure that still allows an attempt.
    if let Some(failures) = policy.max_attempts.checked_sub(1).filter(|f| *f > 0) {
        let jitter = match policy.jitter_max_ms {
            Some(ms) if ms > 0 => format!(" plus up to {} s of jitter", number(ms as f64 / 1000.0)),
            _ => String::new(),
        };
        note.push_str(&format!(
            " Posts still back off between attempts, longest after their {} failure ({} s{jitter}), which bounds \
             the drain time.",
            ordinal(failures),
            number(policy.backoff_ms(failures) as f64 / 1000.0),
        ));
    }
    note
}

/// The machine's whole publish beside the overhead row's cost per publish, when both ran.
fn core(results: &Results) -> String {
    let whole = results.scenarios.iter().find_map(|s| match &s.figures {
        Figures::Core(c) if s.name == WHOLE_PUBLISH => Some(c.ours.nanoseconds),
        _ => None,
    });
    let overhead = results.scenarios.iter().find_map(|s| match &s.figures {
        Figures::Overhead(o) => Some((&s.id, o.ours.publishes_per_second)),
        _ => None,
    });
    let (Some(ns), Some((row, per_second))) = (whole, overhead) else {
        return "Pure logic, no I/O.".into();
    };
    let per_publish_ns = 1e9 / per_second;
    format!(
        "Pure logic, no I/O: a whole publish through the machine takes {}, {:.1} % of the {} per publish (one over \
         the throughput) that the client sustained in row {row}.",
        duration(ns),
        ns / per_publish_ns * 100.0,
        duration(per_publish_ns),
    )
}

fn ordinal(n: u32) -> String {
    let suffix = match (n % 10, n % 100) {
        (_, 11..=13) => "th",
        (1, _) => "st",
        (2, _) => "nd",
        (3, _) => "rd",
        _ => "th",
    };
    format!("{n}{suffix}")
}
