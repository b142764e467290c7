//! `batch --events` and `postato report`: the event log of a run with retries, a 429, a spent
//! account and dead letters, and the report made from it and its store, whose totals are the
//! run's (read back from the HTML), offline and without a secret.
use super::*;
use postato_sim::{SimConfig, Simulator};
use serde_json::Value;

/// The number in the report's totals table for `key` (`<tr data-total="KEY">…<td …>N</td>`).
fn total(html: &str, key: &str) -> u64 {
    let row = &html[html.find(&format!(r#"<tr data-total="{key}">"#)).unwrap_or_else(|| panic!("no row {key}"))..];
    let cell = &row[row.find("<td").unwrap()..];
    let value = &cell[cell.find('>').unwrap() + 1..cell.find("</td>").unwrap()];
    value.parse().unwrap_or_else(|_| panic!("{key}: {value:?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reports_totals_are_the_runs_and_it_fetches_nothing() {
    // acc_0 is spent (every request 429 for a minute): its posts are deferred.
    let spent_accounts = BTreeMap::from([("x/acc_0".to_owned(), 60)]);
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let line = |i: usize| {
        format!(
            r#"{{"businessKey":"report-{i}","platform":"x","accountId":"acc_{}","status":"publish","postType":"post","content":"c"}}"#,
            i % 4
        )
    };
    let mut lines: Vec<String> = (0..20).map(line).collect();
    lines.push("not a post".to_owned());
    let campaign = dir.path().join("report.jsonl");
    std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
    sim.script_business_key("report-1", vec![respond(503, &[]), ScriptAction::Ok]);
    sim.script_business_key("report-2", vec![respond(400, &[])]);
    let (store, events, out) =
        (dir.path().join("report.db"), dir.path().join("events.jsonl"), dir.path().join("r.html"));
    let (store, events, out) = (store.to_str().unwrap(), events.to_str().unwrap(), out.to_str().unwrap());
    let extra = ["--events", events, "--max-retry-after-ms", "500"];
    let args = batch_args(&campaign, store, 4, &extra, &sim);
    let output = postato(&strings(&args), None).await;
    let summary = json_line(&output);
    assert_eq!(code(&output), 3, "a permanent failure (and deferred posts): {summary}");
    assert_eq!((summary["published"].as_u64(), summary["deferred"].as_u64()), (Some(14), Some(5)), "{summary}");

    // The event log: a run line first, an end line with the printed summary last, an outcome
    // per campaign line, and no secret.
    let log = std::fs::read_to_string(events).unwrap();
    let parsed: Vec<Value> = log.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(parsed.iter().all(|e| e["atMs"].is_u64() && e["event"].is_string()), "{log}");
    assert_eq!(parsed[0]["event"], "run");
    assert_eq!(parsed[0]["settings"]["concurrency"], 4);
    let end = parsed.last().unwrap();
    assert_eq!((&end["event"], &end["summary"]["published"]), (&Value::from("end"), &summary["published"]));
    assert_eq!(parsed.iter().filter(|e| e["event"] == "outcome").count(), 21);
    let requests = parsed.iter().filter(|e| e["event"] == "attempt").count() as u64;
    assert_eq!(requests, sim.stats().requests, "one attempt line per request");
    assert!(!log.contains(sim.api_key()), "no API key in the event log");

    let report = postato(&["report", "--events", events, "--store", store, "--out", out], None).await;
    assert_eq!(code(&report), 0, "{}", String::from_utf8_lossy(&report.stderr));
    let said = String::from_utf8_lossy(&report.stdout);
    assert!(said.starts_with(&format!("wrote {out}: 21 posts, 14 published")), "{said}");
    let html = std::fs::read_to_string(out).unwrap();
    assert_the_runs_totals(&html, &summary);
    assert_eq!(total(&html, "posts"), 21);
    assert_eq!(total(&html, "published"), 14);
    assert_eq!(total(&html, "deadLettered"), 2, "the 400 and the line that is not a post");
    assert_eq!(total(&html, "deferred"), 5);
    assert_eq!(total(&html, "requests"), sim.stats().requests);
    assert_eq!(total(&html, "rateLimited"), sim.stats().rate_limited);
    assert!(total(&html, "retries") >= 1, "the 503 was retried");
    // The same totals in the data block, for programs.
    let data = &html[html.find(r#"id="postato-report-data">"#).unwrap() + 25..];
    let data: Value = serde_json::from_str(&data[..data.find("</script>").unwrap()]).unwrap();
    assert_eq!(data["totals"]["published"], 14);
    assert_eq!(data["totals"]["deadLetteredByKind"], serde_json::json!({"invalid_input": 1, "permanent": 1}));
    assert_eq!(data["store"]["deferred"], 5);
    // The charts and tables a person reads.
    for part in ["timeline", "dead-letters", "holds", "deferrals", "slowest"] {
        assert!(html.contains(&format!(r#"<svg id="{part}""#)), "no {part}");
    }
    let deferrals = &html[html.find(r#"<svg id="deferrals""#).unwrap()..];
    assert!(
        deferrals[..deferrals.find("</svg>").unwrap()].contains(">x/acc_0</text>"),
        "the spent account's deferrals"
    );
    assert!(html.contains(r#"<table id="settings">"#) && html.contains("<th>maxRetryAfterMs</th><td>500</td>"));
    // Nothing to fetch, nothing to run, nothing secret.
    let links: Vec<&str> = html.match_indices("://").map(|(i, _)| &html[i.saturating_sub(4)..i + 22]).collect();
    assert!(links.iter().all(|l| *l == "http://www.w3.org/2000/svg"), "only SVG's namespace: {links:?}");
    assert!(!html.contains("<script src") && !html.contains("<link"), "self-contained");
    assert!(!html.contains(sim.api_key()), "no API key in the report");
}

/// The report's totals are the summary the run printed.
fn assert_the_runs_totals(html: &str, summary: &Value) {
    let of = |name: &str| summary[name].as_u64().unwrap_or_else(|| panic!("{name} in {summary}"));
    assert_eq!(total(html, "posts"), of("total"), "every line read has its outcome");
    for (row, field) in [
        ("published", "published"),
        ("alreadyPublished", "alreadyPublished"),
        ("deadLettered", "deadLettered"),
        ("deferred", "deferred"),
        ("storeErrors", "storeErrors"),
    ] {
        assert_eq!(total(html, row), of(field), "{row} against the summary's {field}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_waits_for_its_deferred_posts_counts_each_post_once() {
    // acc_0 is spent for 2 s: its posts are deferred, then published by the --wait pass.
    let spent_accounts = BTreeMap::from([("x/acc_0".to_owned(), 2)]);
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let lines: Vec<String> = (0..12)
        .map(|i| {
            format!(
                r#"{{"businessKey":"wait-{i}","platform":"x","accountId":"acc_{}","status":"publish","postType":"post","content":"c"}}"#,
                i % 3
            )
        })
        .collect();
    let campaign = dir.path().join("wait.jsonl");
    std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
    let (store, events, out) = (dir.path().join("w.db"), dir.path().join("events.jsonl"), dir.path().join("w.html"));
    let (store, events, out) = (store.to_str().unwrap(), events.to_str().unwrap(), out.to_str().unwrap());
    let extra = ["--events", events, "--max-retry-after-ms", "200", "--wait"];
    let output = postato(&strings(&batch_args(&campaign, store, 4, &extra, &sim)), None).await;
    let summary = json_line(&output);
    assert_eq!(code(&output), 0, "{summary}");
    assert_eq!((summary["published"].as_u64(), summary["deferred"].as_u64()), (Some(12), Some(0)), "{summary}");
    let log = std::fs::read_to_string(events).unwrap();
    assert!(log.contains(r#""outcome":"deferred""#), "some posts were deferred first");
    let report = postato(&["report", "--events", events, "--out", out], None).await;
    assert_eq!(code(&report), 0, "{}", String::from_utf8_lossy(&report.stderr));
    let html = std::fs::read_to_string(out).unwrap();
    assert_the_runs_totals(&html, &summary);
    let data = &html[html.find(r#"id="postato-report-data">"#).unwrap() + 25..];
    let data: Value = serde_json::from_str(&data[..data.find("</script>").unwrap()]).unwrap();
    assert_eq!(data["totals"]["deferred"], 0, "deferred, then published: published");
    assert!(html.contains("the run ended"));
}

#[tokio::test]
async fn events_never_overwrite_the_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("c.jsonl");
    std::fs::write(&campaign, post_line("k", "c") + "\n").unwrap();
    let path = campaign.to_str().unwrap();
    let output = postato(&["batch", path, "--events", path, "--api-key", "k", "--workspace", "w"], None).await;
    assert_eq!(code(&output), 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("give the event log a file of its own"), "{output:?}");
    assert_eq!(std::fs::read_to_string(&campaign).unwrap(), post_line("k", "c") + "\n", "the campaign is intact");
}

#[tokio::test]
async fn a_report_without_a_run_says_what_to_give() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.jsonl");
    let output = postato(&["report", "--events", missing.to_str().unwrap()], None).await;
    assert_eq!(code(&output), 2);
    assert!(String::from_utf8_lossy(&output.stderr).contains("--events: cannot open"), "{output:?}");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "not an event\n").unwrap();
    let output = postato(&["report", "--events", empty.to_str().unwrap()], None).await;
    assert_eq!(code(&output), 2);
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("holds no event of a run") && said.contains("postato batch CAMPAIGN --events"), "{said}");
}
