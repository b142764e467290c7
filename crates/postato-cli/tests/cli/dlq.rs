//! Dead letters: how a line that cannot be read is named and listed, and `dlq retry`.
use postato_sim::{SimConfig, Simulator};
use serde_json::Value;

use crate::common::*;
use crate::{publish, respond};

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
async fn status_shows_a_devices_outbox_in_its_sqlite_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("outbox.db");
    let client = postato::Client::builder().api_key("sk_test_postato").workspace_id("ws_1").build().unwrap();
    let outbox = postato::LocalOutbox::open(client, &path).unwrap();
    for key in ["device-1", "device-2"] {
        let post = postato::Post::new(key, "x", "acc_1", postato::PostStatus::Publish, "post", "hello");
        outbox.enqueue(&post, None).await.unwrap();
    }
    let store = path.to_str().unwrap();
    let status = json_line(&postato(&["status", "--store", store, "--output", "json"], None).await);
    assert_eq!(
        (status["outbox"]["pending"].as_u64(), status["outbox"]["due"].as_u64()),
        (Some(2), Some(2)),
        "{status}"
    );
    let text = postato(&["status", "--store", store], None).await;
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(text.contains("outbox: 2 pending (2 due, 0 being published), 0 published, 0 dead-lettered"), "{text}");
    // A campaign's store, with no outbox rows, says nothing of one.
    let campaign = dir.path().join("campaign.db");
    drop(postato::SqliteStore::open(&campaign).unwrap());
    let status =
        json_line(&postato(&["status", "--store", campaign.to_str().unwrap(), "--output", "json"], None).await);
    assert!(status["outbox"].is_null(), "{status}");
}
