//! The report as one HTML file: inline CSS, inline SVG charts, no script and nothing fetched
//! (its Content-Security-Policy forbids it), so it opens offline and the same everywhere. The
//! totals are a table (`id="totals"`, one `data-total` per row) and a JSON data block
//! (`id="postato-report-data"`) for programs that read the report.

use postato::Timestamp;
use serde_json::json;
use std::fmt::Write;

use super::svg::{self, escape, Series, PALETTE};
use super::{AccountRow, RunReport};

const STYLE: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0 auto;max-width:1100px;padding:24px;color:#1d1d1f}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}p.sub{color:#555;margin:0 0 16px}
.cards{display:flex;flex-wrap:wrap;gap:10px;margin:16px 0}
.card{border:1px solid #ddd;border-radius:8px;padding:10px 14px;min-width:120px}
.card b{display:block;font-size:22px}.card span{color:#555;font-size:12px}
table{border-collapse:collapse;margin:6px 0 12px}th,td{padding:3px 10px;border-bottom:1px solid #eee;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
.chart{width:100%;height:auto;max-width:900px}.tick,.label,.value,.legend{font-size:11px;fill:#333}
.note{color:#555;font-size:12px}
";

/// The report of `report`, from the files named in `sources`, as a complete HTML page.
pub fn render(report: &RunReport, sources: &str) -> String {
    let mut page = String::with_capacity(64 * 1024);
    let campaign = report.campaign.as_deref().unwrap_or("(no run line in the event log)");
    let _ = write!(
        page,
        r#"<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:"><title>postato report: {}</title><style>{STYLE}</style></head><body>"#,
        escape(campaign)
    );
    let span = report.ended_ms.saturating_sub(report.started_ms);
    let _ = write!(
        page,
        r#"<h1>postato report: {}</h1><p class="sub">{} · {} · store {} · {}</p>"#,
        escape(campaign),
        when(report.started_ms),
        svg::duration_label(span),
        escape(report.store.as_deref().unwrap_or("(not named)")),
        how_it_ended(report)
    );
    totals(&mut page, report);
    timelines(&mut page, report);
    accounts(&mut page, report);
    store_now(&mut page, report);
    settings(&mut page, report);
    let data = json!({ "totals": totals_json(report), "startedMs": report.started_ms, "endedMs": report.ended_ms,
        "summary": report.summary, "store": report.store_now.as_ref().map(|s| &s.counts) });
    // No `<` inside the block (JSON reads `\u003c` as `<`), so no text ends or changes it.
    let data = data.to_string().replace('<', "\\u003c");
    let _ = write!(
        page,
        r#"<p class="note">Made by postato {} from {}.{}</p><script type="application/json" id="postato-report-data">{data}</script></body></html>"#,
        postato::postato_core::VERSION,
        escape(sources),
        if report.unreadable_lines > 0 {
            format!(" {} line(s) of the event log were not events and were left out.", report.unreadable_lines)
        } else {
            String::new()
        }
    );
    page
}

/// How the run ended, from its summary: to the end, stopped by a signal, stopped by a setting,
/// or no end line at all (killed, or still running).
fn how_it_ended(report: &RunReport) -> String {
    let Some(summary) = &report.summary else {
        return "<b>the log has no end line: the run was killed or is still running</b>".to_owned();
    };
    if let Some(signal) = summary.get("signal").and_then(|s| s.as_str()) {
        return format!("<b>stopped by {}: run the same command again to finish</b>", escape(signal));
    }
    if summary.get("error").is_some_and(|e| !e.is_null()) {
        return "<b>stopped by a setting no post could be sent with (see the run's summary)</b>".to_owned();
    }
    let failed = summary.get("failed").and_then(|f| f.as_u64()).unwrap_or(0);
    if failed > 0 {
        return format!("<b>{failed} line(s) failed inside postato: run again to finish them</b>");
    }
    "the run ended".to_owned()
}

fn when(ms: u64) -> String {
    if ms == 0 {
        return "no events".to_owned();
    }
    Timestamp::from_millis(ms).to_rfc3339()
}

/// The totals as `(key, label, value)`, in the order the page shows them.
fn total_rows(report: &RunReport) -> Vec<(&'static str, &'static str, u64)> {
    let t = &report.totals;
    vec![
        ("posts", "Posts", t.posts),
        ("published", "Published", t.published),
        ("alreadyPublished", "Already published", t.already_published),
        ("deadLettered", "Dead-lettered", t.dead_lettered),
        ("deferred", "Deferred", t.deferred),
        ("storeErrors", "Not recorded", t.store_errors),
        ("requests", "Requests", t.requests),
        ("retries", "Retries", t.retries),
        ("rateLimited", "429 answers", t.rate_limited),
        ("transportFailures", "No answer", t.transport_failures),
    ]
}

fn totals_json(report: &RunReport) -> serde_json::Value {
    let mut totals: serde_json::Map<String, serde_json::Value> =
        total_rows(report).into_iter().map(|(key, _, value)| (key.to_owned(), json!(value))).collect();
    totals.insert("deadLetteredByKind".to_owned(), json!(report.totals.dead_lettered_by_kind));
    totals.insert("waitsMs".to_owned(), json!(report.totals.waits_ms));
    serde_json::Value::Object(totals)
}

fn totals(page: &mut String, report: &RunReport) {
    page.push_str(r#"<div class="cards">"#);
    for (_, label, value) in total_rows(report).into_iter().take(5) {
        let _ = write!(page, r#"<div class="card"><b>{value}</b><span>{label}</span></div>"#);
    }
    page.push_str(r#"</div><h2>Totals</h2><table id="totals">"#);
    for (key, label, value) in total_rows(report) {
        let _ = write!(page, r#"<tr data-total="{key}"><th>{label}</th><td class="n">{value}</td></tr>"#);
    }
    for (kind, count) in &report.totals.dead_lettered_by_kind {
        let _ = write!(
            page,
            r#"<tr data-dead-lettered="{0}"><th>Dead-lettered: {0}</th><td class="n">{count}</td></tr>"#,
            escape(kind)
        );
    }
    for (reason, ms) in &report.totals.waits_ms {
        let _ = write!(
            page,
            r#"<tr data-wait="{0}"><th>Waited: {0}</th><td class="n">{1}</td></tr>"#,
            escape(reason),
            svg::duration_label(*ms)
        );
    }
    page.push_str("</table>");
}

fn timelines(page: &mut String, report: &RunReport) {
    let column = |f: &dyn Fn(&super::Bucket) -> u64| report.buckets.iter().map(f).collect::<Vec<u64>>();
    let series = [
        Series { name: "published", colour: PALETTE[0], values: column(&|b| b.published) },
        Series { name: "retries", colour: PALETTE[1], values: column(&|b| b.retries) },
        Series { name: "429 answers", colour: PALETTE[2], values: column(&|b| b.rate_limited) },
        Series { name: "deferred", colour: PALETTE[4], values: column(&|b| b.deferred) },
    ];
    let _ = write!(
        page,
        "<h2>Publishes, retries and 429s over time</h2><p class=\"note\">Per {} of the run.</p>{}",
        svg::duration_label(report.bucket_ms),
        svg::lines("timeline", "Publishes, retries, 429 answers and deferrals over time", &series, report.bucket_ms)
    );
    let kinds: Vec<&String> = report.totals.dead_lettered_by_kind.keys().collect();
    let series: Vec<Series<'_>> = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| Series {
            name: kind.as_str(),
            colour: PALETTE[(i + 2) % PALETTE.len()],
            values: column(&|b| b.dead_lettered.get(*kind).copied().unwrap_or(0)),
        })
        .collect();
    page.push_str("<h2>Dead letters by kind over time</h2>");
    if series.is_empty() {
        page.push_str(r#"<p id="dead-letters" class="note">No dead letters in this run.</p>"#);
    } else {
        page.push_str(&svg::stacked_columns(
            "dead-letters",
            "Dead letters by kind over time",
            &series,
            report.bucket_ms,
        ));
    }
}

/// A time as the tables show it: `850 ms`, `2.4 s`.
fn seconds(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.1} s", ms as f64 / 1000.0)
    }
}

fn accounts(page: &mut String, report: &RunReport) {
    let mut held: Vec<&AccountRow> = report.accounts.iter().filter(|a| a.held_ms > 0).collect();
    held.sort_by_key(|a| std::cmp::Reverse(a.held_ms));
    let rows: Vec<(String, u64, String)> = held
        .iter()
        .map(|a| (a.account.clone(), a.held_ms, format!("{} held, {}×429", seconds(a.held_ms), a.rate_limited)))
        .collect();
    let mut deferred: Vec<&AccountRow> = report.accounts.iter().filter(|a| a.deferred > 0).collect();
    deferred.sort_by_key(|a| std::cmp::Reverse(a.deferred));
    let deferrals: Vec<(String, u64, String)> = deferred
        .iter()
        .map(|a| (a.account.clone(), a.deferred, format!("{} of {} posts deferred", a.deferred, a.posts)))
        .collect();
    let _ = write!(
        page,
        "<h2>Holds and deferrals per account</h2><p class=\"note\">Time each account's posts waited for a rate limit \
         (429s, shared holds, pacing), from each wait to the request after it; then the posts deferred past their \
         wait, kept in the store for later.</p>{}{}",
        svg::bars("holds", "Time held by rate limits per account", &rows, PALETTE[2]),
        svg::bars("deferrals", "Posts deferred per account", &deferrals, PALETTE[4])
    );
    let mut slow: Vec<&AccountRow> = report.accounts.iter().filter(|a| a.slowest_ms > 0).collect();
    slow.sort_by(|a, b| b.p90_ms.cmp(&a.p90_ms).then(b.slowest_ms.cmp(&a.slowest_ms)));
    let rows: Vec<(String, u64, String)> = slow
        .iter()
        .take(10)
        .map(|a| {
            let text = format!(
                "p90 {}, median {}, slowest {}",
                seconds(a.p90_ms),
                seconds(a.median_ms),
                seconds(a.slowest_ms)
            );
            (a.account.clone(), a.p90_ms, text)
        })
        .collect();
    let _ = write!(
        page,
        "<h2>Slowest accounts</h2><p class=\"note\">How long a post took from its first request to its outcome, \
         waits included: the 90th percentile per account, slowest first.</p>{}",
        svg::bars("slowest", "Slowest accounts", &rows, PALETTE[0])
    );
    page.push_str(
        r#"<h2>Accounts</h2><table id="accounts"><tr><th>Account</th><th class="n">Posts</th><th class="n">Published</th><th class="n">Already</th><th class="n">Dead-lettered</th><th class="n">Deferred</th><th class="n">429s</th><th class="n">Held</th><th class="n">Median</th><th class="n">p90</th><th class="n">Slowest</th></tr>"#,
    );
    for a in report.accounts.iter().take(500) {
        let _ = write!(
            page,
            r#"<tr><td>{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td><td class="n">{}</td></tr>"#,
            escape(&a.account),
            a.posts,
            a.published,
            a.already_published,
            a.dead_lettered,
            a.deferred,
            a.rate_limited,
            seconds(a.held_ms),
            seconds(a.median_ms),
            seconds(a.p90_ms),
            seconds(a.slowest_ms)
        );
    }
    page.push_str("</table>");
    if report.accounts.len() > 500 {
        let _ = write!(page, r#"<p class="note">The first 500 of {} accounts.</p>"#, report.accounts.len());
    }
}

fn store_now(page: &mut String, report: &RunReport) {
    let Some(store) = &report.store_now else {
        page.push_str(r#"<h2>The store now</h2><p class="note">No store was given (--store).</p>"#);
        return;
    };
    let c = &store.counts;
    let _ = write!(
        page,
        r#"<h2>The store now</h2><p class="note">Every run into this store so far, at the time of the report.</p><table id="store"><tr data-store="published"><th>Published</th><td class="n">{}</td></tr><tr data-store="deadLetters"><th>Dead letters</th><td class="n">{}</td></tr><tr data-store="deferred"><th>Deferred</th><td class="n">{}</td></tr><tr><th>Last deferral due</th><td>{}</td></tr></table>"#,
        c.published,
        c.dead_letters,
        c.deferred,
        c.deferred_until_ms.map_or_else(|| "–".to_owned(), when)
    );
    if !store.deferred_by_account.is_empty() {
        page.push_str(
            r#"<table id="deferred"><tr><th>Deferred account</th><th class="n">Posts</th><th>Due by</th></tr>"#,
        );
        for (account, (posts, until)) in &store.deferred_by_account {
            let _ = write!(
                page,
                r#"<tr><td>{}</td><td class="n">{posts}</td><td>{}</td></tr>"#,
                escape(account),
                when(*until)
            );
        }
        page.push_str("</table>");
    }
    if !store.latest_dead_letters.is_empty() {
        page.push_str(
            r#"<table id="latest-dead-letters"><tr><th>Latest dead letters</th><th>Kind</th><th class="n">Status</th><th>When</th><th>Why</th></tr>"#,
        );
        for letter in &store.latest_dead_letters {
            // postato's own words for a post it refused; for a server's refusal, only its
            // status (the message quotes the server's answer, which has no place in a file
            // that is shared: `postato dlq list` shows it).
            let message: String = match letter.kind.as_str() {
                "invalid_input" => letter.message.chars().take(160).collect(),
                _ => "see postato dlq list".to_owned(),
            };
            let _ = write!(
                page,
                r#"<tr><td>{}</td><td>{}</td><td class="n">{}</td><td>{}</td><td>{}</td></tr>"#,
                escape(&crate::campaign::shown_key(&letter.business_key)),
                escape(&letter.kind),
                letter.status.map_or_else(String::new, |s| s.to_string()),
                when(letter.failed_at_ms),
                escape(&message)
            );
        }
        page.push_str("</table>");
    }
}

fn settings(page: &mut String, report: &RunReport) {
    page.push_str(r#"<h2>Settings</h2><table id="settings">"#);
    for (name, value) in &report.settings {
        let value = match value {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let _ = write!(page, r#"<tr><th>{}</th><td>{}</td></tr>"#, escape(name), escape(&value));
    }
    if report.settings.is_empty() {
        page.push_str(r#"<tr><td class="note">The event log has no run line.</td></tr>"#);
    }
    page.push_str("</table>");
}
