//! Issue #17's cases through the command line: each bad input is a clear refusal naming what
//! was wrong (exit 2, nothing sent) or the right behaviour, never a wrong publish, a hang or a
//! lost record.
use postato_sim::{SimConfig, Simulator, SimulatorHandle};
use serde_json::Value;

mod common;
use common::*;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

async fn publish(sim: &SimulatorHandle, extra: &[&str]) -> std::process::Output {
    let connection = connection(sim);
    let args: Vec<&str> = ["publish", "--output", "json"].into_iter().chain(extra.iter().copied()).collect();
    postato(&[&args[..], &strings(&connection)[..]].concat(), None).await
}

/// `publish --output json` with the post's flags and the simulator's connection, `flag` set
/// to `value` in place of the connection's own.
async fn publish_with(sim: &SimulatorHandle, flag: &str, value: &str) -> std::process::Output {
    let mut connection = connection(sim);
    let at = connection.iter().position(|a| a == flag).expect("a connection flag");
    connection[at + 1] = value.to_owned();
    let args: Vec<&str> = ["publish", "--output", "json"].into_iter().chain(POST).collect();
    postato(&[&args[..], &strings(&connection)[..]].concat(), None).await
}

const POST: [&str; 8] = ["--business-key", "s-1", "--platform", "x", "--account", "acc_1", "--content", "hi"];

/// A refusal: exit 2, one JSON error line naming `named`, and no request made.
fn assert_refused(output: &std::process::Output, sim: &SimulatorHandle, named: &str) {
    assert_eq!(code(output), 2, "{output:?}");
    let v = json_line(output);
    assert_eq!(v["kind"], "invalid_input", "{v}");
    let message = v["message"].as_str().unwrap();
    assert!(message.contains(named), "the message names {named}: {message}");
    assert_eq!(sim.stats().requests, 0, "nothing may reach the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_1_a_schedule_time_without_a_status_schedules_and_publish_with_one_is_refused() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let conflict =
        publish(&sim, &[&POST[..], &["--status", "publish", "--scheduled-at", "2027-01-01T00:00:00Z"]].concat()).await;
    assert_refused(&conflict, &sim, "scheduledAt");
    let scheduled = publish(&sim, &[&POST[..], &["--scheduled-at", "2027-01-01T00:00:00Z"]].concat()).await;
    assert_eq!(code(&scheduled), 0, "{scheduled:?}");
    assert_eq!(json_line(&scheduled)["status"], "scheduled", "sent as scheduled, not published now");
    // The same rule for a campaign line and a --file post.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("post.json");
    std::fs::write(&file, r#"{"businessKey":"s-2","platform":"x","accountId":"a","postType":"post","content":"c","scheduledAt":"2027-01-01T00:00:00Z"}"#).unwrap();
    let from_file = publish(&sim, &["--file", file.to_str().unwrap()]).await;
    assert_eq!(json_line(&from_file)["status"], "scheduled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_2_a_workspace_of_dot_or_dot_dot_is_refused_never_a_rewritten_path() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    for workspace in ["..", "."] {
        assert_refused(&publish_with(&sim, "--workspace", workspace).await, &sim, "--workspace");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_3_an_empty_base_url_is_refused_never_the_production_api() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let output = publish_with(&sim, "--base-url", "").await;
    assert_refused(&output, &sim, "--base-url");
    assert!(json_line(&output)["message"].as_str().unwrap().contains("is empty"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_bundle_that_cannot_be_read_is_refused_naming_the_flag_and_the_file() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let output = publish(&sim, &[&POST[..], &["--ca-bundle", "/nonexistent/company-ca.pem"]].concat()).await;
    assert_refused(&output, &sim, "--ca-bundle");
    assert!(json_line(&output)["message"]
        .as_str()
        .unwrap()
        .contains("/nonexistent/company-ca.pem, which cannot be read"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_4_durations_and_counts_beyond_their_bounds_are_refused_by_flag() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    for (flag, value) in [
        ("--backoff-base-ms", "1000000000"),
        ("--backoff-cap-ms", "99999999999"),
        ("--timeout-ms", "0"),
        ("--deadline-ms", "1e300"),
        ("--max-attempts", "-1"),
        ("--max-attempts", "4294967299"),
        ("--max-attempts", "2.5"),
    ] {
        let output = publish(&sim, &[&POST[..], &[flag, value]].concat()).await;
        assert_eq!(code(&output), 2, "{flag} {value}: {output:?}");
        let error = json_line(&output)["message"].as_str().unwrap().to_owned();
        assert!(error.contains(flag) && error.contains("give"), "{flag} {value}: {error}");
        assert!(error.len() < 400 && !error.contains(&"0".repeat(30)), "short, never 300 digits: {error}");
        // In text, clap's own line on stderr names the flag too.
        let args: Vec<&str> = ["publish"].into_iter().chain(POST).chain([flag, value]).collect();
        let text = postato(&args, None).await;
        assert!(stderr(&text).contains(flag) && stderr(&text).contains("give"), "{}", stderr(&text));
    }
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("c.jsonl");
    write_campaign(&campaign, &["k".to_owned()]);
    for (flag, value, range) in [
        ("--lease-ms", "99999999999", "from 100 to 3600000"),
        ("--key-retention-hours", "-1", "hours from"),
        ("--concurrency", "0", "from 1 to 1024"),
    ] {
        let mut args = batch_args(&campaign, dir.path().join("s.db").to_str().unwrap(), 1, &[], &sim);
        match args.iter().position(|a| a == flag) {
            Some(at) => args[at + 1] = value.to_owned(),
            None => args.extend([flag.to_owned(), value.to_owned()]),
        }
        let output = postato(&strings(&args), None).await;
        assert_eq!(code(&output), 2, "{flag} {value}: {output:?}");
        // --output json: the refusal is one JSON line on stdout, like every other error.
        let message = json_line(&output)["message"].as_str().unwrap().to_owned();
        assert!(message.starts_with(&format!("invalid setting: {flag}: ")), "{message}");
        assert!(message.contains(range), "{message}");
    }
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_5_the_first_line_of_a_business_key_wins_and_the_other_is_a_recorded_dead_letter() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("c.jsonl");
    let mut lines: Vec<String> = (0..20).map(|i| post_line(&format!("other-{i}"), "x")).collect();
    lines.insert(3, post_line("dup", "first"));
    lines.push(post_line("dup", "second"));
    std::fs::write(&campaign, lines.join("\n") + "\n").unwrap();
    let store = dir.path().join("s.db");
    for run in 0..2 {
        let output = postato(&strings(&batch_args(&campaign, store.to_str().unwrap(), 16, &[], &sim)), None).await;
        assert_eq!(code(&output), 3, "run {run}: {output:?}");
    }
    assert_eq!(sim.platform_publishes_for("dup"), 1);
    // The same post twice is no conflict: the second is answered from the store.
    let same = dir.path().join("same.jsonl");
    std::fs::write(&same, [post_line("same", "x"), post_line("same", "x")].join("\n")).unwrap();
    let output = postato(&strings(&batch_args(&same, store.to_str().unwrap(), 1, &[], &sim)), None).await;
    assert_eq!(code(&output), 0, "{output:?}");
    let summary = json_line(&output);
    assert_eq!((summary["published"].as_u64(), summary["alreadyPublished"].as_u64()), (Some(1), Some(1)));
    let published = postato::SqliteStore::open(&store).unwrap();
    use postato::ResultStore;
    let record = published.published("dup").await.unwrap().unwrap();
    let first = postato::Post::from_json(&post_line("dup", "first")).unwrap();
    let fingerprint = postato::payload_fingerprint(&first.wire_body());
    assert_eq!(record.fingerprint, fingerprint, "the first line's content was published");
    let list = postato(&["dlq", "list", "--store", store.to_str().unwrap(), "--output", "json"], None).await;
    let letters: Vec<Value> =
        String::from_utf8_lossy(&list.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(letters.len(), 1, "{letters:?}");
    assert_eq!(letters[0]["line"], 22);
    assert!(letters[0]["message"].as_str().unwrap().contains("line 4"), "{}", letters[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_6_an_empty_store_path_is_refused_and_read_only_commands_never_create_one() {
    // An empty path is invalid usage (exit 2); a store that cannot be opened, a missing file
    // for a read-only command or another program's file, an unexpected failure (exit 1).
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let output = publish(&sim, &[&POST[..], &["--store", ""]].concat()).await;
    assert_refused(&output, &sim, "--store");
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("c.jsonl");
    write_campaign(&campaign, &["k".to_owned()]);
    let batch = postato(&strings(&batch_args(&campaign, "", 1, &[], &sim)), None).await;
    assert_eq!(code(&batch), 2, "{batch:?}");
    let missing = dir.path().join("typo.db");
    for command in [&["status", "--store"][..], &["dlq", "list", "--store"][..]] {
        let output = postato(&[command, &[missing.to_str().unwrap()][..]].concat(), None).await;
        assert_eq!(code(&output), 1, "{output:?}");
        assert!(stderr(&output).contains("there is no store at"), "{}", stderr(&output));
        assert!(!missing.exists(), "a read-only command created {missing:?}");
    }
    // Another program's SQLite file is refused before anything is sent.
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign).unwrap().execute_batch("CREATE TABLE users (id INTEGER)").unwrap();
    let output = publish(&sim, &[&POST[..], &["--store", foreign.to_str().unwrap()]].concat()).await;
    assert_eq!(code(&output), 1, "{output:?}");
    let v = json_line(&output);
    assert_eq!(v["kind"], "error", "{v}");
    assert!(v["message"].as_str().unwrap().contains("another program's SQLite database (tables: users)"), "{v}");
    assert_eq!(sim.stats().requests, 0, "nothing may reach the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_7_a_line_without_an_end_is_dead_lettered_in_bounded_memory_and_the_batch_goes_on() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("c.jsonl");
    let mut bytes = post_line("before", "x").into_bytes();
    bytes.extend(b"\n");
    bytes.extend(std::iter::repeat_n(b'x', 3 << 20));
    bytes.extend(b"\n\xef\xbb\xbf");
    bytes.extend(post_line("bom", "x").as_bytes());
    bytes.extend(b"\n{\"businessKey\":\"bad-\xff\"}\n");
    bytes.extend(post_line("after", "x").as_bytes());
    std::fs::write(&campaign, bytes).unwrap();
    let store = dir.path().join("s.db");
    let output = postato(&strings(&batch_args(&campaign, store.to_str().unwrap(), 2, &[], &sim)), None).await;
    assert_eq!(code(&output), 3, "{output:?}");
    assert_eq!((sim.platform_publishes_for("before"), sim.platform_publishes_for("after")), (1, 1));
    let list = postato(&["dlq", "list", "--store", store.to_str().unwrap()], None).await;
    let text = String::from_utf8_lossy(&list.stdout);
    let of = format!("of {}", std::fs::canonicalize(&campaign).unwrap().display());
    assert!(text.contains(&format!("line 2 {of}: post: is longer than 1 MiB")), "{text}");
    assert!(text.contains(&format!("line 3 {of}: post: starts with a byte-order mark")), "{text}");
    assert!(text.contains(&format!("line 4 {of}: post: is not UTF-8 text")), "{text}");
    // A post file that never ends is refused after the largest post, not read into memory.
    let endless = postato(&["publish", "--file", "/dev/zero", "--output", "json"], None).await;
    assert_eq!(code(&endless), 2);
    assert!(json_line(&endless)["message"].as_str().unwrap().contains("is longer than 1 MiB"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_dev_zero_dead_letters_its_line_and_stops_without_growing() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.db");
    // With progress on (the default): counting the lines of an endless device must not hang.
    let args: Vec<String> = batch_args(std::path::Path::new("/dev/zero"), store.to_str().unwrap(), 64, &[], &sim)
        .into_iter()
        .filter(|a| a != "--no-progress")
        .collect();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), postato(&strings(&args), None))
        .await
        .expect("batch /dev/zero ends");
    assert_eq!(code(&output), 1, "{output:?}");
    let error = json_line(&output);
    let message = error["message"].as_str().unwrap().to_owned();
    assert!(message.contains("line 1 runs on for more than 1 GiB without ending"), "{message}");
    assert!(error["attempts"].is_null(), "a run stopped part way did not count its requests: {error}");
    let list = postato(&["dlq", "list", "--store", store.to_str().unwrap()], None).await;
    let listed = String::from_utf8_lossy(&list.stdout);
    assert!(listed.contains("line 1 of /dev/zero read at "), "{listed}");
    assert!(listed.contains(": post: is longer than 1 MiB"), "{listed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unclear_inputs_get_messages_that_name_them() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    let blank_key =
        publish(&sim, &["--business-key", "  ", "--platform", "x", "--account", "a", "--content", "c"]).await;
    assert_refused(&blank_key, &sim, "businessKey: is only whitespace");
    let empty_key = postato(&["key", ""], None).await;
    assert_eq!(code(&empty_key), 2);
    assert!(stderr(&empty_key).contains("businessKey: is empty"), "{}", stderr(&empty_key));
    let content = publish(&sim, &[&POST[..6], &["--content-json", "{\"text\":1}"]].concat()).await;
    assert_refused(&content, &sim, "content: must be a string, or a thread");
    let limit = postato(&["dlq", "list", "--limit", "0"], None).await;
    assert_eq!(code(&limit), 2);
    assert!(stderr(&limit).contains("--limit"), "{}", stderr(&limit));
    // A schedule time already past is published (the API's call), with a word on stderr.
    let past = publish(
        &sim,
        &[
            "--business-key",
            "past",
            "--platform",
            "x",
            "--account",
            "a",
            "--content",
            "c",
            "--scheduled-at",
            "2020-01-01T00:00:00Z",
        ],
    )
    .await;
    assert_eq!(code(&past), 0, "{past:?}");
    assert!(stderr(&past).contains("is in the past"), "{}", stderr(&past));
    // https to a server that answers in plain HTTP names the likely mistake.
    let https = sim.base_url().replace("http://", "https://");
    let tls = publish_with(&sim, "--base-url", &https).await;
    let message = json_line(&tls)["message"].as_str().unwrap().to_owned();
    assert!(message.contains("the server did not answer in TLS"), "{message}");
    // A setting is not "invalid post".
    let setting = publish_with(&sim, "--workspace", " ").await;
    assert!(json_line(&setting)["message"].as_str().unwrap().starts_with("invalid setting: --workspace"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_lines_quote_what_the_network_said_and_a_short_test_key_never_mangles_them() {
    let args = [
        "publish",
        "--base-url",
        "http://127.0.0.1:9",
        "--api-key",
        "k",
        "--workspace",
        "w",
        "--business-key",
        "line\nFAKE LINE",
        "--platform",
        "x",
        "--account",
        "a",
        "--content",
        "hi",
        "--max-attempts",
        "1",
    ];
    let output = postato_env(&args, None, &[("POSTATO_LOG", "info")]).await;
    let stderr = stderr(&output);
    let failure = stderr.lines().find(|l| l.contains("postato: transport failure")).expect("a transport failure line");
    assert!(
        failure.contains(r#"failure="error sending request for url (http://127.0.0.1:9/v1/workspaces/w/posts)"#),
        "{failure}"
    );
    assert!(failure.contains(r#"business_key="line\nFAKE LINE""#), "{failure}");
    assert!(!stderr.lines().any(|l| l.starts_with("FAKE LINE")), "{stderr}");
}
