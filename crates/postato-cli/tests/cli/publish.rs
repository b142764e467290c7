//! `publish` and `key`: one post, its JSON line, its failure kinds, its inputs and its settings.
use postato_sim::{ScriptAction, SimConfig, Simulator};
use serde_json::Value;

use crate::common::*;
use crate::{publish, respond};

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
    assert!(v["requestId"].as_str().is_some_and(|id| id.starts_with("req_")), "{v}");
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
