//! Renders BENCHMARKS.md from a run's results alone: the machine, one table row per scenario
//! (figures formatted here, never stored as text) and the notes from `notes.rs`.

use crate::notes;
use crate::results::{Bound, Figures, Metric, Results, Scenario, Target};

/// One rendered table row.
struct Row {
    scenario: String,
    ours: String,
    baseline: String,
    result: String,
    target: String,
}

/// The whole document.
pub fn document(results: &Results) -> String {
    let m = &results.machine;
    let quick = if results.quick { " -- --quick" } else { "" };
    let mut doc = String::from("# Benchmarks\n\n");
    doc.push_str(&format!(
        "Produced by `cargo run --release -p postato-bench{quick}`: the harness writes every measured figure, with \
         each scenario's parameters and targets, to [`benchmarks.json`](benchmarks.json) and renders this file from \
         it (`cargo run -p postato-bench -- --render-only` renders it again without running anything). Each scenario \
         runs its baseline in the same process run, against the in-process simulator.\n\n"
    ));
    doc.push_str(&format!(
        "Machine: {}, {} GiB, {}; {}; {} builds; client and simulator on the same machine over loopback.\n\n",
        cores(m.cores, &m.cpu),
        m.memory_gib,
        m.os,
        m.rustc,
        m.profile
    ));
    if !results.merged.is_empty() {
        doc.push_str(&format!(
            "Measured again since the full run, each row beside its own baseline in that run (`--only GROUP \
             --merge`): {}.\n\n",
            results.merged.join("; ")
        ));
    }
    doc.push_str(&table(results));
    doc.push_str("\n## What limits each row\n\n");
    for (label, note) in notes::notes(results) {
        doc.push_str(&format!("- **{label}**: {note}\n"));
    }
    doc
}

fn cores(n: usize, cpu: &str) -> String {
    let cores = if n == 1 { "1 core".to_owned() } else { format!("{n} cores") };
    if cpu.is_empty() {
        cores
    } else {
        format!("{cores} ({cpu})")
    }
}

/// The results table, in markdown.
pub fn table(results: &Results) -> String {
    let mut table =
        String::from("| scenario | postato | baseline (same run) | result | target |\n|---|---|---|---|---|\n");
    for s in &results.scenarios {
        let r = row(s);
        table.push_str(&format!("| {} | {} | {} | {} | {} |\n", r.scenario, r.ours, r.baseline, r.result, r.target));
    }
    table
}

fn row(s: &Scenario) -> Row {
    let (id, name) = (&s.id, &s.name);
    let target = target(s);
    match &s.figures {
        Figures::Overhead(o) => {
            let p = &o.parameters;
            Row {
                scenario: format!(
                    "{id}. {name}: {} publishes, concurrency {}, {} content, {}{}",
                    p.posts,
                    p.concurrency,
                    p.content_bytes.map_or("short".to_owned(), |b| format!("{b}-byte")),
                    p.latency_ms.map_or("no faults".to_owned(), |ms| format!("every answer {ms} ms late")),
                    if p.rounds > 1 { format!(" (best of {})", p.rounds) } else { String::new() }
                ),
                ours: format!("{:.0} publishes/s", o.ours.publishes_per_second),
                baseline: format!("{}: {:.0}/s", o.baseline.description, o.baseline.figures.publishes_per_second),
                result: format!("ratio {:.2}", o.ratio()),
                target,
            }
        }
        Figures::Goodput(g) => {
            let (p, ideal) = (&g.parameters, g.ideal_seconds());
            let headers = if p.rate_limit_headers { "RateLimit-* headers" } else { "429 + Retry-After only" };
            let b = &g.baseline.figures;
            Row {
                scenario: format!(
                    "{id}. {name}: {} posts, {} limited to {:.0} requests/s, {headers} (ideal {ideal:.1} s)",
                    p.posts,
                    p.limiter.as_deref().unwrap_or("simulator"),
                    p.rate_per_second
                ),
                ours: format!(
                    "{:.2} s ({:.2} × ideal), {:.2} % 429s",
                    g.ours.seconds,
                    g.ours.seconds / ideal,
                    g.ours.share_429 * 100.0
                ),
                baseline: format!(
                    "{}: {:.2} s ({:.2} × ideal), {:.1} % 429s",
                    g.baseline.description,
                    b.seconds,
                    b.seconds / ideal,
                    b.share_429 * 100.0
                ),
                result: format!("{:.1}× faster than the reference", b.seconds / g.ours.seconds),
                target,
            }
        }
        Figures::Outage(o) => {
            let (p, ours, b) = (&o.parameters, &o.ours, &o.baseline.figures);
            let during = ours.answered_503_per_post.map(|f| format!(" ({f:.2} during the outage)")).unwrap_or_default();
            let drained = |d: Option<f64>, after: &str| match d {
                Some(d) => format!(", drained {d:.1} s after{after}"),
                None => String::new(),
            };
            Row {
                scenario: format!(
                    "{id}. {name}: {} posts, every request answered 503 for {} s",
                    p.posts, p.outage_seconds
                ),
                ours: format!(
                    "{:.2} requests/post{during}, {} lost{}",
                    ours.requests_per_post,
                    ours.lost,
                    drained(ours.drain_seconds, " recovery")
                ),
                baseline: format!(
                    "{}: {:.2} requests/post, {} lost (gave up after {} attempts){}",
                    o.baseline.description,
                    b.requests_per_post,
                    b.lost,
                    p.reference_max_attempts,
                    drained(b.drain_seconds, "")
                ),
                result: format!(
                    "{:.1}× fewer requests; {} fewer lost",
                    b.requests_per_post / ours.requests_per_post,
                    b.lost.saturating_sub(ours.lost)
                ),
                target,
            }
        }
        Figures::Campaign(c) => Row {
            scenario: format!("{id}. {name}: `postato batch`, concurrency {}, SQLite store", c.parameters.concurrency),
            ours: c
                .ours
                .iter()
                .map(|r| {
                    let mib = r.peak_rss_kib as f64 / 1024.0;
                    format!("{} posts: peak RSS {mib:.1} MiB, {:.0} posts/s", r.posts, r.posts_per_second)
                })
                .collect::<Vec<_>>()
                .join("; "),
            baseline: format!("{}: {:.0} records/s", c.baseline.description, c.baseline.figures.records_per_second),
            result: format!(
                "peak RSS {:.1} MiB at the largest; grows {:.1} bytes a post",
                c.largest_peak_rss_mib(),
                c.rss_bytes_per_post()
            ),
            target,
        },
        Figures::Binding(b) => {
            let p = &b.parameters;
            let at_once = if p.style == "threads" {
                format!("{} ({})", p.style, p.concurrency)
            } else {
                format!("{} ({} at once)", p.style, p.concurrency)
            };
            Row {
                scenario: format!("{id}. {name}: {} publishes, {at_once}", p.posts),
                ours: format!("{:.0} publishes/s", b.ours.publishes_per_second),
                baseline: format!("{}: {:.0}/s", b.baseline.description, b.baseline.figures.publishes_per_second),
                result: format!("ratio {:.2}", b.ratio()),
                target,
            }
        }
        Figures::BindingNotRun(_) => Row {
            scenario: format!("{id}. {name}"),
            ours: "not run".into(),
            baseline: String::new(),
            result: String::new(),
            target,
        },
        Figures::Core(c) => Row {
            scenario: format!("{id}. Core (criterion): {name}"),
            ours: duration(c.ours.nanoseconds),
            baseline: "—".into(),
            result: String::new(),
            target,
        },
        Figures::Scoped(sc) => {
            let (p, ideal) = (&sc.parameters, sc.parameters.ideal_seconds);
            let run = |r: &crate::results::ScopedRun| {
                let mut text = format!(
                    "{:.2} s ({:.2} × ideal), {} published, {:.1} % 429s",
                    r.seconds,
                    r.seconds / ideal,
                    r.published,
                    r.share_429 * 100.0
                );
                if r.deferred > 0 {
                    text.push_str(&format!(", {} deferred on the way", r.deferred));
                }
                if let Some(requests) = r.requests_per_hold {
                    text.push_str(&format!(", {} request(s) to the spent account", number(requests)));
                }
                text
            };
            Row {
                scenario: format!(
                    "{id}. {name}: {} posts over {} accounts, concurrency {}; {} (ideal {ideal:.2} s: {})",
                    p.posts, p.accounts, p.concurrency, p.limits, p.ideal
                ),
                ours: run(&sc.ours),
                baseline: format!("{}: {}", sc.baseline.description, run(&sc.baseline.figures)),
                result: format!("{:.2} × ideal", sc.ours.seconds / ideal),
                target,
            }
        }
        Figures::OutboxDrain(d) => {
            let (p, b) = (&d.parameters, &d.baseline.figures);
            let run = |r: &crate::results::DrainRun| {
                format!("{:.1} s, {:.0} posts/s, {} lost, {} twice", r.seconds, r.posts_per_second, r.lost, r.twice)
            };
            Row {
                scenario: format!(
                    "{id}. {name}: {} posts from PostgreSQL by {} `postato worker`s (concurrency {} each), every \
                     answer {} ms late",
                    p.posts, p.workers, p.concurrency, p.latency_ms
                ),
                ours: run(&d.ours),
                baseline: format!("{}: {}", d.baseline.description, run(b)),
                result: format!("{:.2}× one worker", d.ratio()),
                target,
            }
        }
        Figures::OutboxEnqueue(e) => Row {
            scenario: format!(
                "{id}. {name}: {} posts, {} per transaction",
                e.parameters.posts, e.parameters.per_transaction
            ),
            ours: format!("{:.1} µs a post", e.ours.microseconds_per_row),
            baseline: format!("{}: {:.1} µs a row", e.baseline.description, e.baseline.figures.microseconds_per_row),
            result: format!(
                "{:.2}× the plain INSERT",
                e.ours.microseconds_per_row / e.baseline.figures.microseconds_per_row.max(1e-9)
            ),
            target,
        },
        Figures::OutboxWake(w) => Row {
            scenario: format!(
                "{id}. {name}: {} posts enqueued one at a time, one idle worker (its poll {} s)",
                w.parameters.samples,
                w.parameters.poll_ms / 1000
            ),
            ours: format!("p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms", w.ours.p50_ms, w.ours.p99_ms, w.ours.max_ms),
            baseline: "—".into(),
            result: format!("p99 {:.1} ms", w.ours.p99_ms),
            target,
        },
    }
}

/// The target column: each target, then whether all were met.
fn target(s: &Scenario) -> String {
    if s.targets.is_empty() {
        return match s.figures {
            Figures::Binding(_) => "report the ratio".into(),
            _ => String::new(),
        };
    }
    let each: Vec<String> = s.targets.iter().map(describe).collect();
    let verdict = if s.met == Some(true) { "met" } else { "missed" };
    format!("{}: {verdict}", each.join(" and "))
}

fn describe(t: &Target) -> String {
    let (op, bound) = match t.bound {
        Bound::AtLeast(b) => ("≥", b),
        Bound::AtMost(b) => ("≤", b),
        Bound::Above(b) => (">", b),
        Bound::Below(b) => ("<", b),
    };
    match t.metric {
        Metric::Lost if t.bound == Bound::AtMost(0.0) => "nothing lost".into(),
        Metric::Lost => format!("lost {op} {}", number(bound)),
        Metric::Ratio => format!("ratio {op} {}", number(bound)),
        Metric::IdealMultiple => format!("{op} {} × ideal", number(bound)),
        Metric::Share429 => format!("{op} {} % 429s", number(bound * 100.0)),
        Metric::RequestsPerPost => format!("{op} {} requests/post", number(bound)),
        Metric::RequestsPerHold => format!("{op} {} request per hold of a spent account", number(bound)),
        Metric::PeakRssMib => format!("peak RSS {op} {} MiB", number(bound)),
        Metric::Twice if t.bound == Bound::AtMost(0.0) => "none twice".into(),
        Metric::Twice => format!("twice {op} {}", number(bound)),
        Metric::P50Ms => format!("p50 {op} {} ms", number(bound)),
        Metric::P99Ms => format!("p99 {op} {} ms", number(bound)),
        Metric::RssBytesPerPost => format!("growth {op} {} bytes a post", number(bound)),
    }
}

/// A bound as written by hand: at most 2 decimals, no trailing zeros.
pub fn number(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// A duration in criterion's style: the unit that keeps it under 1000, 5 significant digits.
pub fn duration(ns: f64) -> String {
    let (value, unit) = match ns {
        ns if ns < 1e3 => (ns, "ns"),
        ns if ns < 1e6 => (ns / 1e3, "µs"),
        ns if ns < 1e9 => (ns / 1e6, "ms"),
        ns => (ns / 1e9, "s"),
    };
    let decimals = match value {
        v if v < 10.0 => 4,
        v if v < 100.0 => 3,
        _ => 2,
    };
    format!("{value:.decimals$} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_report_is_the_rendering_of_the_committed_results() {
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let results = Results::read(&repo.join("benchmarks.json")).unwrap();
        let committed = std::fs::read_to_string(repo.join("BENCHMARKS.md")).unwrap();
        assert!(
            committed == document(&results),
            "BENCHMARKS.md is not the rendering of benchmarks.json: run `cargo run -p postato-bench -- --render-only`"
        );
    }

    #[test]
    fn numbers_and_durations_read_as_written_by_hand() {
        assert_eq!(number(0.95), "0.95");
        assert_eq!(number(64.0), "64");
        assert_eq!(number(0.05 * 100.0), "5");
        assert_eq!(duration(394.523), "394.52 ns");
        assert_eq!(duration(1_234.5), "1.2345 µs");
    }
}
