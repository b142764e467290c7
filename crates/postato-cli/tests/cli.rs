//! Each subcommand, its JSON output and its exit codes.
use postato_sim::{ScriptAction, SimConfig, Simulator};
use serde_json::Value;
use std::collections::BTreeMap;

mod common;
use common::*;

async fn publish(sim: &postato_sim::SimulatorHandle, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["publish", "--output", "json"];
    args.extend_from_slice(extra);
    let connection = connection(sim);
    args.extend(strings(&connection));
    postato(&args, None).await
}

fn respond(status: u16, headers: &[(&str, &str)]) -> ScriptAction {
    let headers: BTreeMap<String, String> = headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    ScriptAction::Respond { status, headers, body: None, body_text: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_prints_the_shared_vectors() {
    let vectors: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/vectors/idempotency-keys.json"))
            .unwrap(),
    )
    .unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    let mut args = vec!["key"];
    args.extend(cases.iter().map(|c| c["businessKey"].as_str().unwrap()));
    let output = postato(&args, None).await;
    assert_eq!(code(&output), 0);
    let printed: Vec<String> = String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect();
    let expected: Vec<String> = cases.iter().map(|c| c["idempotencyKey"].as_str().unwrap().to_owned()).collect();
    assert_eq!(printed, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_succeeds_then_replays_in_one_json_line() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let args = ["--business-key", "cli-1", "--platform", "x", "--account", "acc_1", "--content", "hello"];
    let first = publish(&sim, &args).await;
    assert_eq!(code(&first), 0);
    let v = json_line(&first);
    assert_eq!(
        (v["ok"].as_bool(), v["attempts"].as_u64(), v["replayed"].as_bool(), v["status"].as_str()),
        (Some(true), Some(1), Some(false), Some("published"))
    );
    let second = json_line(&publish(&sim, &args).await);
    assert_eq!((second["id"].clone(), second["replayed"].as_bool()), (v["id"].clone(), Some(true)));
    assert_eq!(sim.platform_publishes_for("cli-1"), 1);
    let text = postato(&[&["publish"], &args[..], &strings(&connection(&sim))[..]].concat(), None).await;
    assert!(String::from_utf8_lossy(&text.stdout).starts_with("published: post_"), "{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_failure_has_its_kind_and_exit_code() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let post =
        |key: &'static str| ["--business-key", key, "--platform", "x", "--account", "acc_1", "--content", "hello"];

    let missing = json_line(&publish(&sim, &["--business-key", "k", "--account", "a", "--content", "c"]).await);
    assert_eq!((missing["ok"].as_bool(), missing["kind"].as_str()), (Some(false), Some("invalid_input")));
    assert!(missing["message"].as_str().unwrap().contains("--platform"));
    assert!(missing["status"].is_null());
    assert_eq!(
        code(&publish(&sim, &["--business-key", "", "--platform", "x", "--account", "a", "--content", "c"]).await),
        2
    );
    assert_eq!(code(&publish(&sim, &[&post("bad-status")[..], &["--status", "soon"]].concat()).await), 2);
    assert_eq!(
        code(
            &publish(&sim, &[&post("bad-time")[..], &["--status", "scheduled", "--scheduled-at", "tomorrow"]].concat())
                .await
        ),
        2
    );

    sim.script_business_key("perm", vec![respond(400, &[])]);
    let output = publish(&sim, &post("perm")).await;
    let v = json_line(&output);
    assert_eq!((code(&output), v["kind"].as_str(), v["status"].as_u64()), (3, Some("permanent"), Some(400)));

    sim.script_business_key("down", vec![respond(503, &[]), respond(503, &[])]);
    let output = publish(&sim, &[&post("down")[..], &["--max-attempts", "2"]].concat()).await;
    let v = json_line(&output);
    assert_eq!((code(&output), v["kind"].as_str(), v["status"].as_u64()), (4, Some("transient"), Some(503)));

    sim.script_business_key("slow-down", vec![respond(429, &[("Retry-After", "3600")])]);
    let output = publish(&sim, &post("slow-down")).await;
    assert_eq!((code(&output), json_line(&output)["kind"].as_str()), (4, Some("rate_limited")));

    assert_eq!(code(&publish(&sim, &post("conflict")).await), 0);
    let output =
        publish(&sim, &["--business-key", "conflict", "--platform", "x", "--account", "acc_1", "--content", "edited"])
            .await;
    assert_eq!((code(&output), json_line(&output)["kind"].as_str()), (3, Some("idempotency_conflict")));

    sim.script_business_key(
        "garbled",
        vec![ScriptAction::Respond {
            status: 200,
            headers: Default::default(),
            body: None,
            body_text: Some("<html>".into()),
        }],
    );
    let output = publish(&sim, &post("garbled")).await;
    assert_eq!((code(&output), json_line(&output)["kind"].as_str()), (6, Some("invalid_response")));

    sim.script_business_key("deadline", (0..5).map(|_| ScriptAction::Hang { ms: 3_000 }).collect());
    let output = publish(&sim, &[&post("deadline")[..], &["--deadline-ms", "300"]].concat()).await;
    assert_eq!((code(&output), json_line(&output)["kind"].as_str()), (4, Some("deadline")));

    let insecure = postato(
        &[
            "publish",
            "--output",
            "json",
            "--base-url",
            "http://example.com",
            "--api-key",
            "k",
            "--workspace",
            "w",
            "--business-key",
            "k",
            "--platform",
            "x",
            "--account",
            "a",
            "--content",
            "c",
        ],
        None,
    )
    .await;
    assert_eq!((code(&insecure), json_line(&insecure)["kind"].as_str()), (2, Some("invalid_input")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_reads_whole_posts_threads_and_schedules() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("post.json");
    std::fs::write(&file, post_line("from-file", "hi")).unwrap();
    assert_eq!(code(&publish(&sim, &["--file", file.to_str().unwrap()]).await), 0);
    let connection = connection(&sim);
    let mut args = vec!["publish", "--output", "json", "--file", "-"];
    args.extend(strings(&connection));
    assert_eq!(code(&postato(&args, Some(&post_line("from-stdin", "hi"))).await), 0);
    let thread = r#"[{"text":"one","media":[{"id":"m1"}]},{"text":"two"}]"#;
    let output = publish(
        &sim,
        &[
            "--business-key",
            "thread",
            "--platform",
            "threads",
            "--account",
            "a",
            "--post-type",
            "thread",
            "--content-json",
            thread,
            "--status",
            "scheduled",
            "--scheduled-at",
            "2026-12-01T10:00:00+01:00",
        ],
    )
    .await;
    let v = json_line(&output);
    assert_eq!(v["status"], "scheduled");
    let stored: Value = read_post(
        &format!("{}/v1/workspaces/ws_cli/posts/{}", sim.base_url(), v["id"].as_str().unwrap()),
        sim.api_key(),
    )
    .await;
    assert_eq!(stored["post"]["scheduledAt"], "2026-12-01T09:00:00.000Z");
    assert_eq!(stored["post"]["content"][0]["media"][0]["id"], "m1");
    assert_eq!(code(&publish(&sim, &["--file", "/nonexistent/post.json"]).await), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_post_file_is_named_by_file_and_no_other_flag() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let missing = json_line(&publish(&sim, &["--file", "/nonexistent/post.json"]).await);
    assert!(missing["message"].as_str().unwrap().contains("--file: cannot read /nonexistent/post.json"), "{missing}");
    // Nothing was released under another name: `--json` is an unknown flag, refused as usage.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("post.json");
    std::fs::write(&file, post_line("old-flag", "hi")).unwrap();
    assert_eq!(code(&publish(&sim, &["--json", file.to_str().unwrap()]).await), 2);
    assert_eq!(sim.platform_publishes_for("old-flag"), 0);
}

/// Reads a post back from the simulator with a plain GET over TCP.
async fn read_post(url: &str, key: &str) -> Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {key}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    serde_json::from_str(&response[response.find("\r\n\r\n").unwrap() + 4..]).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_comes_from_the_environment_and_the_key_is_never_printed() {
    let secret = "sk_live_cli_secret_value";
    let sim = Simulator::start(SimConfig { api_keys: vec![secret.into()], ..SimConfig::default() }).await.unwrap();
    let output = tokio::process::Command::new(BIN)
        .args([
            "publish",
            "--output",
            "json",
            "--business-key",
            "env",
            "--platform",
            "x",
            "--account",
            "a",
            "--content",
            "c",
        ])
        .env("POSTATO_API_KEY", secret)
        .env("POSTATO_WORKSPACE_ID", "ws_env")
        .env("POSTATO_BASE_URL", sim.base_url())
        .output()
        .await
        .unwrap();
    assert_eq!(code(&output), 0, "{output:?}");
    let wrong = tokio::process::Command::new(BIN)
        .args(["--verbose", "publish", "--business-key", "env2", "--platform", "x", "--account", "a", "--content", "c"])
        .env("POSTATO_API_KEY", format!("{secret}_wrong"))
        .env("POSTATO_WORKSPACE_ID", "ws_env")
        .env("POSTATO_BASE_URL", sim.base_url())
        .env("POSTATO_LOG", "trace")
        .output()
        .await
        .unwrap();
    assert_eq!(code(&wrong), 3);
    for text in [&output.stdout, &output.stderr, &wrong.stdout, &wrong.stderr] {
        assert!(!String::from_utf8_lossy(text).contains(secret), "the key leaked");
    }
    let missing = postato(
        &["publish", "--output", "json", "--business-key", "k", "--platform", "x", "--account", "a", "--content", "c"],
        None,
    )
    .await;
    assert_eq!(code(&missing), 2);
    assert!(json_line(&missing)["message"].as_str().unwrap().contains("POSTATO_API_KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_with_a_store_skips_what_it_published_and_guards_the_payload() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("p.db");
    let store = store.to_str().unwrap();
    let args = ["--business-key", "stored", "--platform", "x", "--account", "a", "--content", "c", "--store", store];
    let first = json_line(&publish(&sim, &args).await);
    let second = json_line(&publish(&sim, &args).await);
    assert_eq!((first["id"].clone(), second["attempts"].as_u64()), (second["id"].clone(), Some(0)));
    assert_eq!(sim.stats().requests, 1);
    let edited = publish(
        &sim,
        &["--business-key", "stored", "--platform", "x", "--account", "a", "--content", "edited", "--store", store],
    )
    .await;
    assert_eq!((code(&edited), json_line(&edited)["kind"].as_str()), (3, Some("business_key_reused")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_publishes_dead_letters_resumes_and_dlq_retry_requeues() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("campaign.jsonl");
    let store = dir.path().join("batch.db");
    let mut lines: Vec<String> = (0..20).map(|i| post_line(&format!("b-{i}"), &format!("post {i}"))).collect();
    lines.insert(5, "{not json".into());
    lines.insert(
        9,
        r#"{"businessKey":"b-empty","platform":"x","accountId":"a","status":"publish","postType":"post","content":""}"#
            .into(),
    );
    std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
    sim.script_business_key("b-3", (0..3).map(|_| respond(503, &[])).collect());
    let connection = connection(&sim);
    let batch = |extra: Vec<&str>| {
        let mut args = vec![
            "batch",
            campaign.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "--output",
            "json",
            "--max-attempts",
            "3",
        ];
        args.extend(extra);
        args.extend(strings(&connection));
        args.into_iter().map(str::to_owned).collect::<Vec<_>>()
    };
    let output = postato(&strings(&batch(vec![])), None).await;
    let summary = json_line(&output);
    assert_eq!(code(&output), 3, "invalid lines need a fix");
    assert_eq!(
        (summary["total"].as_u64(), summary["published"].as_u64(), summary["deadLettered"].as_u64()),
        (Some(22), Some(19), Some(3))
    );
    assert_eq!(summary["deadLetteredByKind"], serde_json::json!({"invalid_input": 2, "transient": 1}));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("progress") || summary["elapsedMs"].as_u64().unwrap() < 2_000
    );

    let list = postato(&["dlq", "list", "--store", store.to_str().unwrap(), "--output", "json"], None).await;
    let letters: Vec<Value> =
        String::from_utf8(list.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(letters.len(), 3);
    let by_key: BTreeMap<&str, &Value> = letters.iter().map(|l| (l["businessKey"].as_str().unwrap(), l)).collect();
    assert_eq!(by_key["line:6"]["line"], 6);
    assert_eq!(by_key["b-empty"]["line"], 10);
    assert_eq!((by_key["b-3"]["kind"].as_str(), by_key["b-3"]["status"].as_u64()), (Some("transient"), Some(503)));

    let rerun = json_line(&postato(&strings(&batch(vec![])), None).await);
    assert_eq!(
        (rerun["alreadyPublished"].as_u64(), rerun["published"].as_u64()),
        (Some(19), Some(1)),
        "the rerun retried what was left"
    );

    let status = json_line(&postato(&["status", "--store", store.to_str().unwrap(), "--output", "json"], None).await);
    assert_eq!((status["published"].as_u64(), status["deadLettered"].as_u64()), (Some(20), Some(2)));
    assert_eq!(sim.stats().duplicate_keys.len(), 0);
    assert_eq!(sim.stats().published_keys, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dlq_retry_publishes_dead_letters_after_an_outage() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("dlq.db");
    let store = store.to_str().unwrap();
    sim.script_business_key("d-1", (0..2).map(|_| respond(503, &[])).collect());
    let output = publish(
        &sim,
        &[
            "--business-key",
            "d-1",
            "--platform",
            "x",
            "--account",
            "a",
            "--content",
            "c",
            "--store",
            store,
            "--max-attempts",
            "2",
        ],
    )
    .await;
    assert_eq!(code(&output), 4);
    let connection = connection(&sim);
    let mut args = vec!["dlq", "retry", "--store", store, "--output", "json"];
    args.extend(strings(&connection));
    let retried = postato(&args, None).await;
    assert_eq!(code(&retried), 0);
    assert_eq!(json_line(&retried)["published"], 1);
    let status = json_line(&postato(&["status", "--store", store, "--output", "json"], None).await);
    assert_eq!((status["published"].as_u64(), status["deadLettered"].as_u64()), (Some(1), Some(0)));
    let list = postato(&["dlq", "list", "--store", store], None).await;
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "no dead letters");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outcome_unknown_post_is_sent_again_only_with_dlq_retry_force() {
    use postato::ResultStore;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store_path = dir.path().join("unknown.db");
    let store = store_path.to_str().unwrap();
    // A crash between the send and the record, two days ago: the intent is all that is left.
    let two_days_ago =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as u64 - 2 * 86_400_000;
    let intent = postato::Intent {
        business_key: "u-1".into(),
        fingerprint: "fingerprint".into(),
        first_sent_at_ms: two_days_ago,
    };
    postato::SqliteStore::open(&store_path).unwrap().record_intent(&intent).await.unwrap();
    let args = ["--business-key", "u-1", "--platform", "x", "--account", "a", "--content", "c", "--store", store];
    let output = publish(&sim, &args).await;
    assert_eq!(code(&output), 6, "outcome_unknown needs a person: {}", String::from_utf8_lossy(&output.stdout));
    assert_eq!(sim.stats().requests, 0, "nothing was sent");
    let connection = connection(&sim);
    let mut retry = vec!["dlq", "retry", "--store", store, "--output", "json"];
    retry.extend(strings(&connection));
    let unforced = postato(&retry, None).await;
    assert!(String::from_utf8_lossy(&unforced.stderr).contains("--force"), "the hint names --force");
    assert_eq!(sim.stats().requests, 0, "without --force nothing is sent");
    retry.push("--force");
    let forced = postato(&retry, None).await;
    assert_eq!(code(&forced), 0, "{}", String::from_utf8_lossy(&forced.stdout));
    assert_eq!(sim.platform_publishes_for("u-1"), 1);
    let status = json_line(&postato(&["status", "--store", store, "--output", "json"], None).await);
    assert_eq!((status["published"].as_u64(), status["deadLettered"].as_u64()), (Some(1), Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_prints_its_base_url_first_and_serves_until_stopped() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(["sim", "--port", "0", "--server-error-rate", "0"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = lines.next_line().await.unwrap().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let output = postato(
        &[
            "publish",
            "--output",
            "json",
            "--base-url",
            &url,
            "--api-key",
            "sk_test_postato",
            "--workspace",
            "w",
            "--business-key",
            "via-sim",
            "--platform",
            "x",
            "--account",
            "a",
            "--content",
            "c",
        ],
        None,
    )
    .await;
    assert_eq!(code(&output), 0);
    child.kill().await.unwrap();
    let bad = postato(&["sim", "--server-error-rate", "2"], None).await;
    assert_eq!(code(&bad), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_verifies_exactly_once_with_nothing_lost() {
    // The demo keeps its store in a new directory under TMPDIR: this test's own.
    let tmp = tempfile::tempdir().unwrap();
    let output = postato_env(&["demo", "--output", "json"], None, &[("TMPDIR", tmp.path().to_str().unwrap())]).await;
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let v = json_line(&output);
    assert_eq!((v["ok"].as_bool(), v["duplicates"].as_u64(), v["lost"].as_u64()), (Some(true), Some(0), Some(0)));
    assert!(v["posts"].as_u64().unwrap() >= 300);
    assert!(v["faultsInjected"].as_u64().unwrap() > 20);
    assert_eq!(v["published"], v["publishedExactlyOnce"]);
    let kinds: Vec<&str> = v["deadLetters"].as_array().unwrap().iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"invalid_input") && kinds.contains(&"permanent"), "{kinds:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!stderr.contains("in the past"), "the demo schedules nothing in the past, whatever the day: {stderr}");
    let store = std::path::Path::new(v["store"].as_str().unwrap());
    assert!(store.starts_with(tmp.path()), "{store:?}");
    let listed = postato(&["dlq", "list", "--store", store.to_str().unwrap(), "--output", "json"], None).await;
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), kinds.len(), "{listed:?}");
}

/// A line of the demo's output with what varies from run to run left out: the store's
/// directory, and every number (counts, times, the simulator's port).
fn invariant(line: &str) -> String {
    let line = match line.split_once("--store=") {
        Some((before, after)) => {
            format!("{before}--store STORE{}", after.split_once("/demo.db").map_or(after, |(_, rest)| rest))
        }
        None => line.to_owned(),
    };
    let mut kept = String::new();
    for (i, c) in line.char_indices() {
        match c.is_ascii_digit() {
            true if line[..i].ends_with(|p: char| p.is_ascii_digit()) => {}
            true => kept.push('#'),
            false => kept.push(c),
        }
    }
    kept
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_prints_what_the_readme_shows_and_its_hint_lists_the_dead_letters() {
    let shown = readme_block("README.md", "text", "postato demo: publishing");
    let tmp = tempfile::tempdir().unwrap();
    let output = postato_env(&["demo"], None, &[("TMPDIR", tmp.path().to_str().unwrap())]).await;
    assert_eq!(code(&output), 0, "{}", String::from_utf8_lossy(&output.stderr));
    let printed = String::from_utf8(output.stdout).unwrap();
    // Every line the README shows, in its order; a run may add a dead letter of its own (a
    // post whose every attempt met a fault: the faults fall differently in each run), and
    // nothing else.
    let mut expected = shown.lines().map(invariant).peekable();
    for line in printed.lines().map(invariant) {
        if expected.peek() == Some(&line) {
            expected.next();
        } else {
            let a_dead_letter = line.starts_with("  dead-lettered (") || line.starts_with("    ");
            assert!(a_dead_letter, "the demo printed {line:?}, which the README's sample output does not show");
        }
    }
    let missing: Vec<String> = expected.collect();
    assert!(missing.is_empty(), "the README's sample output shows lines the demo did not print: {missing:?}");
    // The hint, run as printed, lists the dead letters the summary counts.
    let hint = printed.lines().find_map(|line| line.trim().strip_prefix("inspect them with `")).unwrap();
    let command: Vec<&str> = hint.trim_end_matches('`').split(' ').collect();
    assert_eq!(command[..3], ["postato", "dlq", "list"], "{hint}");
    let counted: usize =
        printed.lines().find_map(|line| line.trim().strip_prefix("dead letters: ")).unwrap().parse().unwrap();
    let listed = postato(&command[1..], None).await;
    assert_eq!(code(&listed), 0, "{listed:?}");
    assert_eq!(String::from_utf8_lossy(&listed.stdout).lines().count(), counted, "{listed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_batch_cleanly_and_a_rerun_finishes_it() {
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 20, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let batch = RunningBatch::start(&sim, "interrupt", 1_500, 8);
    batch.until_published(100).await;
    batch.signal("-INT");
    let (output, _, args, _dir) = batch.output().await;
    assert_eq!(code(&output), 130, "{}", String::from_utf8_lossy(&output.stdout));
    let summary = json_line(&output);
    assert_eq!(summary["interrupted"], true);
    let stopped_at = summary["published"].as_u64().unwrap();
    assert!(stopped_at < 1_500, "stopped early: {stopped_at}");
    let rerun = postato(&strings(&args), None).await;
    assert_eq!(code(&rerun), 0);
    let rerun = json_line(&rerun);
    assert_eq!(rerun["alreadyPublished"].as_u64().unwrap() + rerun["published"].as_u64().unwrap(), 1_500);
    assert_eq!(sim.stats().published_keys, 1_500);
    assert!(sim.stats().duplicate_keys.is_empty());
}

/// `postato batch` running in the background on a campaign of its own: `posts` lines named
/// `{name}-N`, into a SQLite store beside it, against `sim`, `concurrency` at once.
struct RunningBatch {
    child: tokio::process::Child,
    store: postato::SqliteStore,
    store_path: std::path::PathBuf,
    args: Vec<String>,
    dir: tempfile::TempDir,
}

impl RunningBatch {
    fn start(sim: &postato_sim::SimulatorHandle, name: &str, posts: usize, concurrency: u16) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let campaign = dir.path().join(format!("{name}.jsonl"));
        let store_path = dir.path().join(format!("{name}.db"));
        let lines: Vec<String> = (0..posts).map(|i| post_line(&format!("{name}-{i}"), "c")).collect();
        std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
        let args = batch_args(&campaign, store_path.to_str().unwrap(), concurrency, &[], sim);
        let child = tokio::process::Command::new(BIN)
            .args(&args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let store = postato::SqliteStore::open(&store_path).unwrap();
        RunningBatch { child, store, store_path, args, dir }
    }

    /// Waits until the store has recorded `published` posts.
    async fn until_published(&self, published: u64) {
        use postato::ResultStore;
        while self.store.counts().await.unwrap().published < published {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }

    /// Sends `signal` (`-TERM`, …) to the batch.
    fn signal(&self, signal: &str) {
        let pid = self.child.id().unwrap().to_string();
        assert!(std::process::Command::new("kill").args([signal, &pid]).status().unwrap().success());
    }

    /// What the batch printed once it ended (within a minute), with its store, its arguments
    /// and its directory (the campaign and the store are there while the directory lives).
    async fn output(self) -> (std::process::Output, postato::SqliteStore, Vec<String>, tempfile::TempDir) {
        let output = tokio::time::timeout(std::time::Duration::from_secs(60), self.child.wait_with_output())
            .await
            .expect("the batch ended")
            .unwrap();
        (output, self.store, self.args, self.dir)
    }
}

/// Starts `postato batch` on `posts` lines against `sim`, waits until `published_first` are
/// recorded, sends `signal`, and returns what it printed and how long it took after the signal.
async fn batch_stopped_by(
    signal: &str,
    sim: &postato_sim::SimulatorHandle,
    posts: usize,
    published_first: u64,
) -> (std::process::Output, std::time::Duration, postato::SqliteStore, tempfile::TempDir) {
    let batch = RunningBatch::start(sim, signal, posts, 8);
    batch.until_published(published_first).await;
    batch.signal(signal);
    let signalled = std::time::Instant::now();
    let (output, store, _, dir) = batch.output().await;
    (output, signalled.elapsed(), store, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sighup_stop_a_batch_as_ctrl_c_does_and_record_what_was_in_flight() {
    use postato::ResultStore;
    for (signal, name, exit_code) in [("-TERM", "SIGTERM", 143), ("-HUP", "SIGHUP", 129)] {
        // Every answer takes 300 ms: when the signal comes, 8 posts are in flight.
        let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 300, ..Default::default() };
        let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
        let (output, _, store, _dir) = batch_stopped_by(signal, &sim, 200, 8).await;
        assert_eq!(code(&output), exit_code, "{name}: {output:?}");
        let summary = json_line(&output);
        assert_eq!((summary["interrupted"].as_bool(), summary["signal"].as_str()), (Some(true), Some(name)));
        // What the server published is what the store recorded: the posts in flight finished
        // and were recorded, and no new one started.
        let recorded = store.counts().await.unwrap().published;
        assert_eq!(sim.stats().published_keys as u64, recorded, "{name}: {summary}");
        assert!(recorded < 200 && summary["published"].as_u64() == Some(recorded), "{name}: {summary}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_started_with_sighup_ignored_as_nohup_does_goes_on_after_one() {
    use std::os::unix::process::CommandExt;
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 100, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("nohup.jsonl");
    let lines: Vec<String> = (0..40).map(|i| post_line(&format!("nohup-{i}"), "c")).collect();
    std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
    let args = batch_args(&campaign, dir.path().join("nohup.db").to_str().unwrap(), 8, &[], &sim);
    let mut command = std::process::Command::new(BIN);
    command.args(&args).stdout(std::process::Stdio::piped());
    // SAFETY: only resets a signal's disposition in the child, as nohup does.
    unsafe {
        command.pre_exec(|| {
            libc::signal(libc::SIGHUP, libc::SIG_IGN);
            Ok(())
        });
    }
    let child = tokio::process::Command::from(command).spawn().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(150)).await;
    let sent = std::process::Command::new("kill").args(["-HUP", &child.id().unwrap().to_string()]).status().unwrap();
    assert!(sent.success());
    let output = child.wait_with_output().await.unwrap();
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!(json_line(&output)["published"], 40);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_publish_in_flight_at_once_as_cancelled() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.script_business_key("term-1", vec![ScriptAction::Latency { ms: 30_000 }]);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("term.db");
    let args = ["--business-key", "term-1", "--platform", "x", "--account", "a", "--content", "c"];
    let mut full: Vec<String> = ["publish", "--output", "json", "--store", store.to_str().unwrap()]
        .into_iter()
        .chain(args)
        .map(str::to_owned)
        .collect();
    full.extend(connection(&sim));
    let child = tokio::process::Command::new(BIN).args(&full).stdout(std::process::Stdio::piped()).spawn().unwrap();
    while sim.stats().requests == 0 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let sent = std::process::Command::new("kill").args(["-TERM", &child.id().unwrap().to_string()]).status().unwrap();
    assert!(sent.success());
    let output = tokio::time::timeout(std::time::Duration::from_secs(20), child.wait_with_output())
        .await
        .expect("the publish stopped")
        .unwrap();
    assert_eq!(code(&output), 143, "{output:?}");
    let stopped = json_line(&output);
    assert_eq!((stopped["kind"].as_str(), stopped["attempts"].is_null()), (Some("cancelled"), true), "{stopped}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_sigterm_posts_still_in_flight_are_cancelled_within_the_grace() {
    // The first 8 answers come at once, the rest after 20 s: past the 5 s grace.
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    for i in 8..40 {
        sim.script_business_key(&format!("-TERM-{i}"), vec![ScriptAction::Latency { ms: 20_000 }]);
    }
    let (output, took, _, _) = batch_stopped_by("-TERM", &sim, 40, 8).await;
    assert_eq!(code(&output), 143, "{output:?}");
    assert!(took < std::time::Duration::from_secs(15), "the grace bounds the stop: {took:?}");
    assert_eq!(json_line(&output)["signal"], "SIGTERM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_whose_store_is_deleted_under_it_ends_with_an_error_not_ok() {
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 30, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let batch = RunningBatch::start(&sim, "vanish", 200, 4);
    batch.until_published(20).await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", batch.store_path.display()));
    }
    let (output, _, _, _) = batch.output().await;
    let summary = json_line(&output);
    assert_eq!((code(&output), summary["ok"].as_bool()), (1, Some(false)), "{summary}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("was deleted while postato used it"), "{output:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_stops_a_batch_reading_stdin_from_a_writer_that_sends_nothing() {
    use tokio::io::AsyncWriteExt;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("stdin.db");
    let args = batch_args(std::path::Path::new("-"), store.to_str().unwrap(), 2, &[], &sim);
    let mut child = tokio::process::Command::new(BIN)
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // One post, then a writer that stays open and silent (a pipe from a stalled producer).
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{}\n", post_line("stdin-1", "c")).as_bytes()).await.unwrap();
    while sim.stats().published_keys < 1 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let output = tokio::time::timeout(std::time::Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the batch ended though stdin stayed open")
        .unwrap();
    drop(stdin);
    assert_eq!(code(&output), 143, "{output:?}");
    let summary = json_line(&output);
    assert_eq!((summary["published"].as_u64(), summary["signal"].as_str()), (Some(1), Some("SIGTERM")), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_batch_on_a_sqlite_store_in_use_is_refused_naming_the_process_that_uses_it() {
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 30, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let batch = RunningBatch::start(&sim, "shared", 200, 4);
    batch.until_published(5).await;
    let second = postato(&strings(&batch.args), None).await;
    let said = format!("{}{}", String::from_utf8_lossy(&second.stdout), String::from_utf8_lossy(&second.stderr));
    assert_eq!(code(&second), 1, "{said}");
    let pid = batch.child.id().unwrap();
    assert!(said.contains(&format!("is in use by pid {pid}")), "{said}");
    // Reading the store beside the run is not publishing through it; requeueing is.
    let store = batch.store_path.to_str().unwrap();
    for read in [&["status", "--store", store][..], &["dlq", "list", "--store", store]] {
        let output = postato(read, None).await;
        assert_eq!(code(&output), 0, "{read:?}: {output:?}");
    }
    let mut retry = vec!["dlq".to_owned(), "retry".into(), "--store".into(), store.into()];
    retry.extend(connection(&sim));
    let refused = postato(&strings(&retry), None).await;
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(code(&refused), 1, "{refused:?}");
    assert!(said.contains(&format!("is in use by pid {pid}")), "{said}");
    let (output, _, args, _dir) = batch.output().await;
    assert_eq!(code(&output), 0, "{output:?}");
    assert_eq!((sim.stats().published_keys, sim.stats().requests), (200, 200), "nothing was sent twice");
    // Once the first run has ended, the store is free.
    let rerun = json_line(&postato(&strings(&args), None).await);
    assert_eq!(rerun["alreadyPublished"].as_u64(), Some(200), "{rerun}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_lines_are_dead_lettered_by_campaign_and_line_where_no_business_key_reaches() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("shared.db");
    let store = store.to_str().unwrap();
    let full = |path: &std::path::Path| std::fs::canonicalize(path).unwrap().to_string_lossy().into_owned();
    // Line 2 of the first campaign is a post keyed `line:1`; each campaign's line 1 is not one;
    // line 3 of the second is keyed as the first's line 1 is stored, which no post may be.
    let first = dir.path().join("first.jsonl");
    std::fs::write(&first, format!("not json\n{}\n", post_line("line:1", "a post keyed line:1"))).unwrap();
    let forged = format!("\u{FDD0}{}\u{FDD0}line:1", full(&first));
    let second = dir.path().join("second.jsonl");
    std::fs::write(&second, format!("{{\n{}\n{}\n", post_line("second-2", "c"), post_line(&forged, "c"))).unwrap();
    for (campaign, dead) in [(&first, 1), (&second, 2)] {
        let output = postato(&strings(&batch_args(campaign, store, 2, &[], &sim)), None).await;
        let summary = json_line(&output);
        assert_eq!(
            (summary["published"].as_u64(), summary["deadLettered"].as_u64()),
            (Some(1), Some(dead)),
            "{summary}"
        );
    }
    assert_eq!(sim.stats().published_keys, 2);
    let list = postato(&["dlq", "list", "--store", store, "--output", "json"], None).await;
    let letters: Vec<Value> =
        String::from_utf8(list.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let campaigns: Vec<(&str, &str)> =
        letters.iter().map(|l| (l["businessKey"].as_str().unwrap(), l["campaign"].as_str().unwrap())).collect();
    let (first, second) = (full(&first), full(&second));
    let expected = [("line:1", first.as_str()), ("line:1", second.as_str()), ("line:3", second.as_str())];
    assert_eq!(campaigns, expected, "{letters:?}");
    let text = postato(&["dlq", "list", "--store", store], None).await;
    let text = String::from_utf8_lossy(&text.stdout);
    for campaign in [&first, &second] {
        assert!(text.contains(&format!("invalid_input: line 1 of {campaign}: post: not valid JSON")), "{text}");
    }
    assert!(text.contains(&format!("invalid_input: line 3 of {second}: businessKey: contains U+FDD0")), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_account_is_deferred_while_the_others_publish_and_a_rerun_sends_nothing_for_it() {
    // 400 posts over 10 accounts; every request of acc_0 is answered 429 `Retry-After: 3000`
    // (its daily quota).
    let spent_accounts = BTreeMap::from([("x/acc_0".to_owned(), 3_000)]);
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("quota.jsonl");
    let store = dir.path().join("quota.db");
    let line = |i: usize| {
        format!(
            r#"{{"businessKey":"quota-{i}","platform":"x","accountId":"acc_{}","status":"publish","postType":"post","content":"c"}}"#,
            i % 10
        )
    };
    std::fs::write(&campaign, (0..400).map(line).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    let mut args = vec![
        "batch",
        campaign.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--output",
        "json",
        "--no-progress",
    ];
    let (base_url, api_key) = (sim.base_url(), sim.api_key().to_owned());
    args.extend(["--concurrency", "16", "--base-url", &base_url, "--api-key", &api_key, "--workspace", "ws_quota"]);
    let started = std::time::Instant::now();
    let output =
        tokio::time::timeout(std::time::Duration::from_secs(120), postato(&args, None)).await.expect("the batch ended");
    let took = started.elapsed();
    let summary = json_line(&output);
    assert_eq!(code(&output), 5, "nothing failed, posts are deferred: {summary}");
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
    let (published, deferred) = (summary["published"].as_u64().unwrap(), summary["deferred"].as_u64().unwrap());
    assert_eq!(
        (summary["deadLettered"].as_u64(), published, deferred),
        (Some(0), 360, 40),
        "the nine healthy accounts published, acc_0 deferred: {summary}"
    );
    assert_eq!(sim.stats().rate_limited, 1, "the spent account cost one request, its probe");
    let until = summary["deferredUntil"].as_str().expect("deferredUntil");
    let until = chrono::DateTime::parse_from_rfc3339(until).unwrap().timestamp_millis();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    assert!((now + 2_900_000..now + 3_100_000).contains(&until), "{summary}");
    let stats = sim.stats();
    assert_eq!(stats.published_keys as u64, published, "nothing lost");
    assert!(stats.duplicate_keys.is_empty(), "nothing published twice");

    // The store says so; the dead-letter queue does not list them.
    let status = json_line(&postato(&["status", "--store", store.to_str().unwrap(), "--output", "json"], None).await);
    assert_eq!((status["deferred"].as_u64(), status["deadLettered"].as_u64()), (Some(deferred), Some(0)), "{status}");
    assert!(status["deferredUntil"].is_string() && status["nextDue"].is_string(), "{status}");
    let list = postato(&["dlq", "list", "--store", store.to_str().unwrap(), "--output", "json"], None).await;
    assert_eq!(String::from_utf8_lossy(&list.stdout).trim(), "", "deferred posts are not dead letters");

    // Running it again before their time sends nothing for them.
    let requests = sim.stats().requests;
    let rerun = postato(&args, None).await;
    let again = json_line(&rerun);
    assert_eq!(code(&rerun), 5, "{again}");
    assert_eq!((again["alreadyPublished"].as_u64(), again["deferred"].as_u64()), (Some(published), Some(deferred)));
    assert_eq!(sim.stats().requests, requests, "not one request for a deferred post");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_wait_publishes_each_deferred_post_once_it_is_due_and_a_rerun_finds_them_published() {
    // acc_1 is spent for 6 s from the simulator's start; the client waits at most 1 s.
    let spent_accounts = BTreeMap::from([("x/acc_1".to_owned(), 6)]);
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("wait.jsonl");
    let store = dir.path().join("wait.db");
    let line = |i: usize| {
        format!(
            r#"{{"businessKey":"wait-{i}","platform":"x","accountId":"acc_{}","status":"publish","postType":"post","content":"c"}}"#,
            i % 4
        )
    };
    std::fs::write(&campaign, (0..40).map(line).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    // Real waits, as a user's run has them.
    let connection: Vec<String> = connection(&sim).into_iter().filter(|a| a != "--fast-forward-waits").collect();
    let mut args = vec![
        "batch",
        campaign.to_str().unwrap(),
        "--store",
        store.to_str().unwrap(),
        "--output",
        "json",
        "--no-progress",
        "--max-retry-after-ms",
        "1000",
    ];
    args.extend(strings(&connection));
    let plain = postato(&args, None).await;
    let first = json_line(&plain);
    assert_eq!((code(&plain), first["deferred"].as_u64(), first["published"].as_u64()), (5, Some(10), Some(30)));

    args.push("--wait");
    let waited = tokio::time::timeout(std::time::Duration::from_secs(60), postato(&args, None)).await.expect("it ends");
    let summary = json_line(&waited);
    assert_eq!(code(&waited), 0, "{summary}");
    assert_eq!(
        (summary["published"].as_u64(), summary["alreadyPublished"].as_u64(), summary["deferred"].as_u64()),
        (Some(10), Some(30), Some(0)),
        "{summary}"
    );
    assert!(summary["deferredUntil"].is_null(), "{summary}");
    let stats = sim.stats();
    assert_eq!((stats.published_keys, stats.duplicate_keys.len()), (40, 0));
    let status = json_line(&postato(&["status", "--store", store.to_str().unwrap(), "--output", "json"], None).await);
    assert_eq!((status["published"].as_u64(), status["deferred"].as_u64()), (Some(40), Some(0)), "{status}");
}

/// How many line numbers `text` gives: `line 151`, `line:151`, `(line 151)`, `at line 1 …`.
fn line_references(text: &str) -> usize {
    text.match_indices("line")
        .filter(|(at, _)| text[at + 4..].trim_start_matches([' ', ':']).starts_with(|c: char| c.is_ascii_digit()))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_line_says_its_kind_and_its_line_number_once() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("stutter.jsonl");
    let store = dir.path().join("stutter.db");
    let store = store.to_str().unwrap();
    // Line 1 a post, lines 2-150 blank, line 151 a bad status, line 152 cut JSON without a key.
    let bad_status =
        r#"{"businessKey":"bad-status","platform":"x","accountId":"a","status":"now","postType":"post","content":"c"}"#;
    let text = format!("{}{}{bad_status}\n{{\"platform\":\"x\n", post_line("fine", "c"), "\n".repeat(150));
    std::fs::write(&campaign, text).unwrap();
    let connection = connection(&sim);
    let mut args = vec!["batch", campaign.to_str().unwrap(), "--store", store, "--output", "json", "--no-progress"];
    args.extend(strings(&connection));
    let output = postato(&args, None).await;
    assert_eq!(code(&output), 3, "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(json_line(&output)["deadLetteredByKind"], serde_json::json!({"invalid_input": 2}));

    let list = postato(&["dlq", "list", "--store", store], None).await;
    let rows: Vec<String> = String::from_utf8(list.stdout).unwrap().lines().map(str::to_owned).collect();
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(line_references(row), 1, "one line number: {row}");
        assert_eq!(row.matches("invalid").count(), 1, "one kind prefix: {row}");
        assert!(!row.contains("not a post"), "one kind prefix: {row}");
    }
    assert!(rows[0].starts_with(r#"bad-status: invalid_input: line 151: status: unknown status "now""#), "{}", rows[0]);
    let named = format!(
        "invalid_input: line 152 of {}: post: not valid JSON",
        std::fs::canonicalize(&campaign).unwrap().display()
    );
    assert!(rows[1].starts_with(&named), "{}", rows[1]);

    let list = postato(&["dlq", "list", "--store", store, "--output", "json"], None).await;
    for letter in String::from_utf8(list.stdout).unwrap().lines() {
        let letter: Value = serde_json::from_str(letter).unwrap();
        let message = letter["message"].as_str().unwrap();
        assert_eq!((line_references(message), message.matches("invalid").count()), (0, 0), "{letter}");
    }

    let publish = postato(
        &["publish", "--business-key", "k", "--platform", "x", "--account", "a", "--content", "c", "--status", "now"],
        None,
    )
    .await;
    let error = String::from_utf8_lossy(&publish.stderr);
    assert_eq!(code(&publish), 2);
    assert!(error.starts_with(r#"error (invalid_input): status: unknown status "now""#), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_prints_a_script_for_each_shell_and_refuses_others() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = postato(&["completion", shell], None).await;
        assert_eq!(code(&output), 0, "{shell}: {output:?}");
        let script = String::from_utf8(output.stdout).unwrap();
        for word in ["postato", "batch", "publish", "no-color"] {
            assert!(script.contains(word), "{shell}'s script names {word}");
        }
    }
    let unknown = postato(&["completion", "tcsh"], None).await;
    assert_eq!(code(&unknown), 2);
    let error = String::from_utf8_lossy(&unknown.stderr);
    assert!(error.contains("[possible values: bash, elvish, fish, powershell, zsh]"), "{error}");
    // Where bash is, the script loads and registers the completion.
    let Ok(bash) = std::process::Command::new("bash")
        .args(["-c", &format!("source <({BIN} completion bash) && complete -p postato")])
        .output()
    else {
        return;
    };
    assert!(String::from_utf8_lossy(&bash.stdout).contains("-F _postato postato"), "{bash:?}");
}

/// The first ````language` block of `page` (a Markdown file, from the repository's root) that
/// contains `marker`.
fn readme_block(page: &str, language: &str, marker: &str) -> String {
    let readme = std::fs::read_to_string(format!("{}/../../{page}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let fence = format!("```{language}\n");
    let block = readme.split(&fence).skip(1).map(|rest| rest.split("```").next().unwrap()).find(|b| b.contains(marker));
    block.unwrap_or_else(|| panic!("{page} has a ```{language} block with {marker}")).to_owned()
}

/// The ```sh block of `page` that contains `marker`, run as written by `sh -eu` with `postato`
/// on the PATH, in a fresh HOME (its working directory too) and no POSTATO_* variable: its
/// output. The block runs in a process
/// group of its own, killed whole after 60 s or once it ends, so that a background process it
/// left (a simulator whose `kill` never came) can neither hang the test nor outlive it.
fn run_readme_block(page: &str, marker: &str, home: &std::path::Path) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let block = readme_block(page, "sh", marker);
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = std::process::Command::new("sh");
    command.args(["-eu", "-c", &block]).current_dir(home).env("HOME", home).env("PATH", path);
    for variable in ["POSTATO_API_KEY", "POSTATO_WORKSPACE_ID", "POSTATO_BASE_URL", "POSTATO_LOG"] {
        command.env_remove(variable);
    }
    command.process_group(0).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    let child = command.spawn().unwrap();
    let group = child.id() as i32;
    let (done, outcome) = std::sync::mpsc::channel();
    std::thread::spawn(move || done.send(child.wait_with_output()));
    let ended = outcome.recv_timeout(std::time::Duration::from_secs(60));
    // SAFETY: a plain signal to the block's own process group.
    unsafe { libc::kill(-group, libc::SIGKILL) };
    let output = match ended {
        Ok(output) => output,
        Err(_) => outcome.recv().unwrap(),
    };
    output.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_readme_s_local_recipe_publishes_once_and_replays() {
    let home = tempfile::tempdir().unwrap();
    let output = run_readme_block("README.md", "postato sim > sim.url", home.path());
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "two publishes: {stdout}");
    assert!(lines[0].starts_with("published: post_") && !lines[0].contains("replay"), "{stdout}");
    assert!(lines[1].ends_with("answered by the server's replay"), "{stdout}");
    assert!(!home.path().join("sim.url").exists(), "the block cleans up after itself");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_completion_lines_install_every_script_on_a_fresh_home() {
    let home = tempfile::tempdir().unwrap();
    let output = run_readme_block("docs/cli.md", "postato completion bash", home.path());
    assert!(output.status.success(), "{output:?}");
    for script in
        [".local/share/bash-completion/completions/postato", ".zfunc/_postato", ".config/fish/completions/postato.fish"]
    {
        let written = std::fs::read_to_string(home.path().join(script)).unwrap_or_default();
        assert!(written.contains("postato"), "{script} was not written");
    }
}

/// `postato sim` (with `flags` first) until SIGTERM: what it printed on stderr, and its exit code.
async fn sim_stderr(flags: &[&str]) -> (String, i32) {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(flags.iter().chain(&["sim"]))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let url = stdout.next_line().await.unwrap().unwrap();
    assert!(url.starts_with("http://127.0.0.1:"), "the URL still comes first: {url}");
    let id = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &id]).status().unwrap().success());
    let output = child.wait_with_output().await.unwrap();
    (String::from_utf8_lossy(&output.stderr).into_owned(), code(&output))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiet_leaves_out_progress_and_notices_but_not_warnings_errors_or_results() {
    // Progress: a plain line every 2 s off a terminal, so a batch made to take 3 s shows one.
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 500, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut summaries = Vec::new();
    for (run, quiet) in [("loud", &[][..]), ("quiet", &["--quiet"][..])] {
        let campaign = dir.path().join(format!("{run}.jsonl"));
        write_campaign(&campaign, &(0..6).map(|i| format!("{run}-{i}")).collect::<Vec<_>>());
        let store = dir.path().join(format!("{run}.db"));
        let args: Vec<String> = quiet
            .iter()
            .map(|flag| flag.to_string())
            .chain(
                batch_args(&campaign, store.to_str().unwrap(), 1, &[], &sim)
                    .into_iter()
                    .filter(|a| a != "--no-progress"),
            )
            .collect();
        let output = postato(&strings(&args), None).await;
        assert_eq!(code(&output), 0, "{output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        assert_eq!(stderr.contains("progress:"), quiet.is_empty(), "{run}: {stderr:?}");
        let summary = json_line(&output);
        summaries.push((summary["published"].clone(), summary["ok"].clone()));
    }
    assert_eq!(summaries[0], summaries[1], "the same results on stdout");
    assert_eq!(summaries[0], (Value::from(6), Value::from(true)));

    // Notices: the simulator's banner; its URL on stdout is unchanged.
    let (banner, status) = sim_stderr(&[]).await;
    assert!(banner.contains("listening"), "{banner:?}");
    assert_eq!(sim_stderr(&["-q"]).await, (String::new(), status));

    // Warnings and errors still print.
    let connection = connection(&sim);
    let post =
        ["publish", "--quiet", "--business-key", "q-past", "--platform", "x", "--account", "a", "--content", "c"];
    let past =
        postato(&[&post[..], &["--scheduled-at", "2020-01-01T00:00:00Z"], &strings(&connection)].concat(), None).await;
    assert_eq!(code(&past), 0, "{past:?}");
    assert!(String::from_utf8_lossy(&past.stderr).contains("is in the past"), "{past:?}");
    sim.script_business_key("q-perm", vec![respond(400, &[])]);
    let post = ["publish", "-q", "--business-key", "q-perm", "--platform", "x", "--account", "a", "--content", "c"];
    let failed = postato(&[&post[..], &strings(&connection)].concat(), None).await;
    assert_eq!(code(&failed), 3);
    let errors = String::from_utf8_lossy(&failed.stderr).into_owned();
    assert!(errors.lines().any(|line| line.starts_with("error (permanent): ")), "{errors}");
    let both = postato(&["--quiet", "--verbose", "status"], None).await;
    assert_eq!(code(&both), 2, "--quiet and --verbose contradict each other");
}

/// Where a command writes what a test looks at.
#[derive(Clone, Copy, Debug)]
enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    fn of(self, output: &std::process::Output) -> &[u8] {
        match self {
            Stream::Stdout => &output.stdout,
            Stream::Stderr => &output.stderr,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_color_and_a_non_empty_no_color_turn_off_every_colour() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let connection = connection(&sim);
    let past = ["publish", "--business-key", "past", "--platform", "x", "--account", "a", "--content", "c"];
    let past: Vec<&str> = [&past[..], &["--scheduled-at", "2020-01-01T00:00:00Z"], &strings(&connection)].concat();
    // Clap's help (stdout) and usage errors (stderr), and a warning logged by postato (stderr).
    let cases = [
        ("help", &["--help"][..], Stream::Stdout),
        ("usage error", &["publish", "--bogus"][..], Stream::Stderr),
        ("warning", &past[..], Stream::Stderr),
    ];
    let coloured = |bytes: &[u8]| String::from_utf8_lossy(bytes).contains("\x1b[");
    for (what, args, stream) in cases {
        let stream = |output| stream.of(output);
        let forced = postato_env(args, None, &[("CLICOLOR_FORCE", "1")]).await;
        assert!(coloured(stream(&forced)), "{what}: coloured when forced: {forced:?}");
        let empty = postato_env(args, None, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "")]).await;
        assert!(coloured(stream(&empty)), "{what}: an empty NO_COLOR is no request (no-color.org)");
        let flag: Vec<&str> = ["--no-color"].into_iter().chain(args.iter().copied()).collect();
        let plain = postato_env(&flag, None, &[("CLICOLOR_FORCE", "1")]).await;
        assert!(!coloured(stream(&plain)) && !stream(&plain).is_empty(), "{what}: --no-color: {plain:?}");
        let plain = postato_env(args, None, &[("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")]).await;
        assert!(!coloured(stream(&plain)) && !stream(&plain).is_empty(), "{what}: NO_COLOR=1: {plain:?}");
        assert_eq!(code(&plain), code(&forced), "{what}: the same exit code");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_stdout_ends_every_command_quietly_with_141() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (campaign, store) = (dir.path().join("c.jsonl"), dir.path().join("s.db"));
    std::fs::write(&campaign, format!("{}\n{{not json\n", post_line("pipe-1", "hello"))).unwrap();
    let store = store.to_str().unwrap();
    let connection = connection(&sim);
    let post = ["--business-key", "pipe-2", "--platform", "x", "--account", "a", "--content", "c"];
    let connected = |args: &[&str]| -> Vec<String> {
        args.iter().map(|a| a.to_string()).chain(connection.iter().cloned()).collect()
    };
    let owned = |args: &[&str]| -> Vec<String> { args.iter().map(|a| a.to_string()).collect() };
    // The batch first: it leaves a dead letter for `dlq list` to print.
    let commands = [
        connected(&["batch", campaign.to_str().unwrap(), "--store", store, "--no-progress"]),
        connected(&[&["publish"][..], &post].concat()),
        connected(&[&["publish", "--output", "json"][..], &post].concat()),
        owned(&["key", "a", "b"]),
        owned(&["dlq", "list", "--store", store]),
        owned(&["dlq", "list", "--store", store, "--output", "json"]),
        owned(&["status", "--store", store]),
        owned(&["status", "--store", store, "--output", "json"]),
        owned(&["completion", "bash"]),
        owned(&["sim"]),
        owned(&["demo"]),
        owned(&["--help"]),
    ];
    for args in &commands {
        let output = postato_into_closed_pipe(&strings(args)).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(matches!(code(&output), 0 | 141), "{args:?} exited {}: {stderr}", code(&output));
        assert!(!stderr.contains("error"), "{args:?}: {stderr}");
    }
    assert_eq!(sim.platform_publishes_for("pipe-1"), 1, "the batch ran to its end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_be_opened_exits_1_in_every_command_and_a_blank_one_2() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("c.jsonl");
    write_campaign(&campaign, &["k".to_owned()]);
    let unwritable = "/nonexistent/dir/x.db";
    // A port where nothing listens.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("postgres://postato@127.0.0.1:{port}/postato");
    let connection = connection(&sim);
    let post = ["--business-key", "k", "--platform", "x", "--account", "a", "--content", "c"];
    let commands = |store: &str| -> Vec<Vec<String>> {
        let with = |args: &[&str], connected: bool| -> Vec<String> {
            let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
            all.extend(["--store".to_owned(), store.to_owned(), "--output".to_owned(), "json".to_owned()]);
            if connected {
                all.extend(connection.iter().cloned());
            }
            all
        };
        vec![
            with(&["status"], false),
            with(&["dlq", "list"], false),
            with(&["dlq", "retry"], true),
            with(&[&["publish"][..], &post].concat(), true),
            with(&["batch", campaign.to_str().unwrap(), "--no-progress"], true),
        ]
    };
    for store in [unwritable, &unreachable] {
        for args in commands(store) {
            let output = postato(&strings(&args), None).await;
            assert_eq!(code(&output), 1, "{args:?}: {output:?}");
            let v = json_line(&output);
            assert_eq!((v["kind"].as_str(), v["attempts"].as_u64()), (Some("error"), Some(0)), "{args:?}: {v}");
            assert!(v["message"].as_str().unwrap().starts_with("--store: "), "{v}");
        }
    }
    for args in commands(" ") {
        let output = postato(&strings(&args), None).await;
        assert_eq!(code(&output), 2, "{args:?}: {output:?}");
        let message = json_line(&output)["message"].as_str().unwrap().to_owned();
        assert!(message.starts_with("invalid setting: --store: is empty"), "{message}");
    }
    assert_eq!(sim.stats().requests, 0, "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_errors_say_the_requests_sent_and_the_wait_a_429_asked_for() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let post =
        |key: &'static str| ["--business-key", key, "--platform", "x", "--account", "acc_1", "--content", "hello"];

    sim.script_business_key("quota", vec![respond(429, &[("Retry-After", "3600")])]);
    let limited = json_line(&publish(&sim, &post("quota")).await);
    assert_eq!(limited["kind"], "rate_limited", "{limited}");
    assert_eq!((limited["attempts"].as_u64(), limited["retryAfterMs"].as_u64()), (Some(1), Some(3_600_000)));

    sim.script_business_key("perm", vec![respond(400, &[])]);
    let permanent = json_line(&publish(&sim, &post("perm")).await);
    assert_eq!((permanent["kind"].as_str(), permanent["attempts"].as_u64()), (Some("permanent"), Some(1)));
    assert!(permanent.get("retryAfterMs").is_none(), "only rate_limited says a wait: {permanent}");
    let request_id = permanent["requestId"].as_str().unwrap_or_default();
    assert!(request_id.starts_with("req_"), "the answer's request id: {permanent}");
    assert!(limited["requestId"].as_str().is_some_and(|id| id != request_id), "{limited}");

    sim.script_business_key("down", (0..3).map(|_| respond(503, &[])).collect());
    let transient = json_line(&publish(&sim, &[&post("down")[..], &["--max-attempts", "3"]].concat()).await);
    assert_eq!((transient["kind"].as_str(), transient["attempts"].as_u64()), (Some("transient"), Some(3)));

    let invalid = json_line(&publish(&sim, &[&post("bad")[..], &["--status", "soon"]].concat()).await);
    assert_eq!((invalid["kind"].as_str(), invalid["attempts"].as_u64()), (Some("invalid_input"), Some(0)));
    assert!(invalid.get("requestId").is_none(), "no answer is behind an invalid post: {invalid}");
    let refused = json_line(&publish(&sim, &[&post("bad")[..], &["--max-attempts", "0"]].concat()).await);
    assert_eq!((refused["kind"].as_str(), refused["attempts"].as_u64()), (Some("invalid_input"), Some(0)));
}

/// The exit codes as `(code, meaning)`, from `text` between "Exit codes:" and "(run again to
/// finish)", items split by `separator`, backticks and line breaks ignored.
fn exit_codes(text: &str, separator: &str) -> Vec<(String, String)> {
    let start = text.find("Exit codes:").expect("an exit-code table") + "Exit codes:".len();
    let last = "a batch's results are in its store)";
    let end = text[start..].find(last).expect("its end") + start + last.len();
    let table = text[start..end].replace('`', "").split_whitespace().collect::<Vec<_>>().join(" ");
    table
        .split(separator)
        .map(|item| {
            let (code, meaning) = item.trim().split_once(' ').unwrap();
            (code.to_owned(), meaning.to_owned())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn help_says_the_documented_exit_codes_and_the_stores_each_command_takes() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/cli.md")).unwrap();
    let help = String::from_utf8(postato(&["--help"], None).await.stdout).unwrap();
    let codes = exit_codes(&help, "; ");
    assert_eq!(codes, exit_codes(&readme, " · "));
    let listed: Vec<&str> = codes.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(listed, ["0", "1", "2", "3", "4", "5", "6", "130", "143", "129", "141"]);
    assert_eq!(codes[1].1, "unexpected failure (such as a store that cannot be opened)");
    for command in [&["status"][..], &["dlq", "list"], &["dlq", "retry"], &["batch"], &["publish"]] {
        let help = postato(&[command, &["--help"][..]].concat(), None).await;
        let help = String::from_utf8_lossy(&help.stdout).split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            help.contains("a SQLite file") && help.contains("a PostgreSQL URL (postgres://…)"),
            "{command:?}: {help}"
        );
    }
}

/// `GET /metrics` over a plain HTTP/1.0 connection: the body (`None` once the run has ended).
async fn scrape(addr: &str) -> Option<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: postato\r\n\r\n").await.ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.ok()?;
    answer.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batch_serves_its_metrics_as_prometheus_text_while_it_runs() {
    use tokio::io::AsyncBufReadExt;
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<String> = ["ok", "retried", "refused", "slow"].iter().map(|k| format!("metrics-{k}")).collect();
    sim.script_business_key(&keys[1], vec![respond(503, &[]), ScriptAction::Ok]);
    sim.script_business_key(&keys[2], vec![respond(400, &[])]);
    // The last post's first request hangs 4 s (then its retry publishes): the run is still
    // going when the test scrapes what came before.
    sim.script_business_key(&keys[3], vec![ScriptAction::Hang { ms: 4000 }, ScriptAction::Ok]);
    let campaign = dir.path().join("metrics.jsonl");
    write_campaign(&campaign, &keys);
    let store = dir.path().join("metrics.db");
    let args = batch_args(&campaign, store.to_str().unwrap(), 1, &["-q", "--metrics", "127.0.0.1:0"], &sim);
    let mut child = tokio::process::Command::new(BIN)
        .args(&args)
        .env_remove("POSTATO_API_KEY")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = stderr.next_line().await.unwrap().expect("postato prints where its metrics are");
        if let Some(url) = line.strip_prefix("metrics: http://") {
            break url.trim_end_matches("/metrics").to_owned();
        }
    };
    // Scraped until the dead letter shows (the slow post is still hanging then).
    let mut text = String::new();
    for _ in 0..300 {
        text = scrape(&addr).await.expect("the run serves its metrics until it ends");
        if text.contains(r#"postato_dead_letters_total{kind="permanent"} 1"#) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    for line in [
        r#"postato_publishes_total{outcome="published"} "#,
        r#"postato_publishes_total{outcome="permanent"} 1"#,
        r#"postato_dead_letters_total{kind="permanent"} 1"#,
        r#"postato_retries_total{reason="retryable_status"} 1"#,
        "# TYPE postato_attempts counter",
        "# TYPE postato_waits counter",
        "# TYPE postato_wait_duration_seconds histogram",
        "# TYPE postato_retry_budget_tokens gauge",
    ] {
        assert!(text.contains(line), "{line} is not in {text}");
    }
    let attempts: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("postato_attempts_total "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no attempts in {text}"));
    assert!(attempts >= 4, "{text}");
    let output = child.wait_with_output().await.unwrap();
    let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!((summary["published"].as_u64(), summary["deadLettered"].as_u64()), (Some(3), Some(1)), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_batch_wait_stops_the_wait_and_the_deferred_posts_stay_for_the_next_run() {
    use tokio::io::AsyncBufReadExt;
    let spent_accounts = BTreeMap::from([("x/acc_0".to_owned(), 3_000)]);
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("wait-stop.jsonl");
    let store = dir.path().join("wait-stop.db");
    let line = |i: usize| {
        format!(
            r#"{{"businessKey":"stop-{i}","platform":"x","accountId":"acc_{}","status":"publish","postType":"post","content":"c"}}"#,
            i % 2
        )
    };
    std::fs::write(&campaign, (0..20).map(line).collect::<Vec<_>>().join("\n") + "\n").unwrap();
    // Progress on: off a terminal it is a plain line every 2 s, saying what the run waits for.
    let mut args = vec!["batch", campaign.to_str().unwrap(), "--store", store.to_str().unwrap(), "--output", "json"];
    args.push("--wait");
    // Real waits: fast-forwarded ones would let the 3000 s hold pass in no time.
    let connection: Vec<String> = connection(&sim).into_iter().filter(|a| a != "--fast-forward-waits").collect();
    args.extend(strings(&connection));
    let mut child = tokio::process::Command::new(BIN)
        .args(&args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stderr = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let waiting = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.contains("waiting for 10 deferred post(s)") {
                return line;
            }
        }
        panic!("stderr ended before the run said what it waits for")
    })
    .await
    .expect("the progress says what the run waits for");
    assert!(waiting.contains("10 done (10 published") && waiting.contains(", last 20"), "{waiting}");
    assert!(std::process::Command::new("kill")
        .args(["-INT", &child.id().unwrap().to_string()])
        .status()
        .unwrap()
        .success());
    let output = tokio::time::timeout(std::time::Duration::from_secs(10), child.wait_with_output())
        .await
        .expect("Ctrl-C ends the wait at once")
        .unwrap();
    let summary = json_line(&output);
    assert_eq!(code(&output), 130, "{summary}");
    assert_eq!(
        (summary["interrupted"].as_bool(), summary["published"].as_u64(), summary["deferred"].as_u64()),
        (Some(true), Some(10), Some(10)),
        "{summary}"
    );
    assert!(summary["deferredUntil"].is_string(), "{summary}");
    let status = json_line(&postato(&["status", "--store", store.to_str().unwrap(), "--output", "json"], None).await);
    assert_eq!((status["published"].as_u64(), status["deferred"].as_u64()), (Some(10), Some(10)), "{status}");
    assert_eq!(sim.stats().rate_limited, 1, "one request to the spent account, its probe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_limits_per_account_from_its_flags_and_refuses_a_malformed_one() {
    use tokio::io::AsyncBufReadExt;
    let mut child = tokio::process::Command::new(BIN)
        .args(["sim", "--account-quota", "1/1h", "--spent-account", "x/acc_9=3000", "--account-rate", "100"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let url = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines().next_line().await.unwrap().unwrap();
    let publish = |key: &'static str, account: &'static str| {
        let url = url.clone();
        async move {
            let args = ["publish", "--output", "json", "--business-key", key, "--platform", "x", "--account", account];
            let args = [&args[..], &["--content", "hi", "--base-url", &url, "--api-key", "sk_test_postato"]].concat();
            postato(&[&args[..], &["--workspace", "ws_flags"]].concat(), None).await
        }
    };
    assert_eq!(code(&publish("flags-1", "acc_1").await), 0);
    let second = publish("flags-2", "acc_1").await;
    assert_eq!((code(&second), json_line(&second)["kind"].as_str()), (4, Some("rate_limited")), "1 post an hour");
    assert_eq!(code(&publish("flags-3", "acc_2").await), 0, "another account has its own quota");
    let spent = json_line(&publish("flags-4", "acc_9").await);
    assert!(spent["retryAfterMs"].as_u64().is_some_and(|ms| ms > 2_900_000), "{spent}");
    let _ = child.kill().await;
    for (flag, value) in [("--account-quota", "2"), ("--account-quota", "2/1w"), ("--spent-account", "acc_1=5")] {
        let output = postato(&["sim", flag, value], None).await;
        assert_eq!(code(&output), 2, "{flag} {value}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("N/WINDOW") || stderr.contains("PLATFORM/ACCOUNT=SECS"), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_server_echoes_reaches_no_output_or_store_with_the_key_or_raw_escapes() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let key = sim.api_key().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("posts.db");
    let store = store.to_str().unwrap();
    let echo = ScriptAction::Respond {
        status: 400,
        headers: [("X-Echo-Authorization".to_owned(), format!("Bearer {key}"))].into(),
        body: None,
        body_text: Some(format!("Authorization: Bearer {key}\n\u{1b}[2J\u{1b}[31mFAKE LINE")),
    };
    let connection = connection(&sim);
    let post = |business_key: &'static str, output: &'static str| {
        ["publish", "--business-key", business_key, "--platform", "x", "--account", "a", "--content", "c"]
            .into_iter()
            .chain(["--store", store, "--output", output])
            .chain(strings(&connection))
            .collect::<Vec<_>>()
    };
    let mut shown = Vec::new();
    for (business_key, output) in [("echo-json", "json"), ("echo-text", "text")] {
        sim.script_business_key(business_key, vec![echo.clone()]);
        let printed = postato(&post(business_key, output), None).await;
        assert_eq!(code(&printed), 3, "{printed:?}");
        shown.push((format!("publish --output {output}"), printed));
    }
    for output in ["json", "text"] {
        shown.push((
            format!("dlq list --output {output}"),
            postato(&["dlq", "list", "--store", store, "--output", output], None).await,
        ));
    }
    // A post id that would clear the screen and forge a line.
    let forged = r#"{"id":"p1\u001b[2J\u001b[31mPWNED\nFAKE LINE","status":"published"}"#;
    let answer =
        ScriptAction::Respond { status: 201, headers: Default::default(), body: None, body_text: Some(forged.into()) };
    sim.script_business_key("escapes", vec![answer]);
    let printed = postato(&post("escapes", "text"), None).await;
    assert_eq!(String::from_utf8_lossy(&printed.stdout).lines().count(), 1, "{printed:?}");
    shown.push(("publish of an id with escapes".into(), printed));
    for (what, printed) in &shown {
        for (stream, bytes) in [("stdout", &printed.stdout), ("stderr", &printed.stderr)] {
            let text = String::from_utf8_lossy(bytes);
            assert!(!text.contains(&key), "{what}: the key on {stdout}: {text}", stdout = stream);
            let text_output = what.contains("text") || what.contains("escapes");
            assert!(!(text_output && text.contains('\u{1b}')), "{what}: a raw escape on {stream}: {text:?}");
        }
    }
    for file in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(file.unwrap().path()).unwrap();
        assert!(!bytes.windows(key.len()).any(|w| w == key.as_bytes()), "the key is in the store's files");
    }
}
