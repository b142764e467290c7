//! Rate limits and quotas: posts deferred for a spent account, `batch --wait`, the simulator's limit flags.
use postato_sim::{SimConfig, Simulator};
use std::collections::BTreeMap;

use crate::common::*;

/// Writes a campaign of `posts` posts keyed `{prefix}-{i}`, spread over `accounts` accounts of
/// network `x` (`acc_{i % accounts}`).
fn write_campaign(path: &std::path::Path, prefix: &str, posts: usize, accounts: usize) {
    let line = |i: usize| {
        format!(
            r#"{{"businessKey":"{prefix}-{i}","platform":"x","accountId":"acc_{}","status":"publish","postType":"post","content":"c"}}"#,
            i % accounts
        )
    };
    std::fs::write(path, (0..posts).map(line).collect::<Vec<_>>().join("\n") + "\n").unwrap();
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
    write_campaign(&campaign, "quota", 400, 10);
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
    write_campaign(&campaign, "wait", 40, 4);
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

/// `postato batch --wait` of 20 posts over acc_0 and acc_1, acc_0 spent for `spent_seconds`
/// from the simulator's start, with real waits (fast-forwarded ones would let the hold pass in
/// no time) and `extra` flags, running until its progress (off a terminal, a plain line every
/// 2 s) says it waits for deferred posts: the run, that line, its store and its arguments.
struct WaitingBatch {
    child: tokio::process::Child,
    waiting: String,
    store: std::path::PathBuf,
    args: Vec<String>,
    _dir: tempfile::TempDir,
}

impl WaitingBatch {
    async fn start(sim: &postato_sim::SimulatorHandle, name: &str, extra: &[&str]) -> WaitingBatch {
        use tokio::io::AsyncBufReadExt;
        let dir = tempfile::tempdir().unwrap();
        let campaign = dir.path().join(format!("{name}.jsonl"));
        let store = dir.path().join(format!("{name}.db"));
        write_campaign(&campaign, name, 20, 2);
        let mut args: Vec<String> =
            ["batch", campaign.to_str().unwrap(), "--store", store.to_str().unwrap(), "--output", "json", "--wait"]
                .map(str::to_owned)
                .to_vec();
        args.extend(extra.iter().map(|a| a.to_string()));
        args.extend(connection(sim).into_iter().filter(|a| a != "--fast-forward-waits"));
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
                if line.contains("deferred post(s)") {
                    return line;
                }
            }
            panic!("stderr ended before the run said what it waits for")
        })
        .await
        .expect("the progress says what the run waits for");
        WaitingBatch { child, waiting, store, args, _dir: dir }
    }
}

/// `postato status` of `store`, as JSON.
async fn status_of(store: &std::path::Path) -> serde_json::Value {
    json_line(&postato(&["status", "--store", store.to_str().unwrap(), "--output", "json"], None).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_batch_wait_stops_the_wait_and_the_deferred_posts_stay_for_the_next_run() {
    let spent_accounts = BTreeMap::from([("x/acc_0".to_owned(), 3_000)]);
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let WaitingBatch { child, waiting, store, _dir, .. } = WaitingBatch::start(&sim, "stop", &[]).await;
    assert!(waiting.contains("waiting for 10 deferred post(s)"), "{waiting}");
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
    let status = status_of(&store).await;
    assert_eq!((status["published"].as_u64(), status["deferred"].as_u64()), (Some(10), Some(10)), "{status}");
    assert_eq!(sim.stats().rate_limited, 1, "one request to the spent account, its probe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_batch_wait_loses_nothing_and_a_restart_picks_up_where_it_stopped() {
    // acc_0 is spent for the first 12 s of the simulator's life, past the run's 1 s
    // `--max-retry-after-ms`, so its posts are deferred: long enough to kill the wait (its
    // first progress line comes after 2 s) on a slow machine, short enough for the restart.
    let spent_accounts = BTreeMap::from([("x/acc_0".to_owned(), 12)]);
    let sim = Simulator::start(SimConfig { spent_accounts, ..SimConfig::default() }).await.unwrap();
    let mut batch = WaitingBatch::start(&sim, "kill", &["--max-retry-after-ms", "1000"]).await;
    batch.child.start_kill().unwrap();
    let killed = batch.child.wait().await.unwrap();
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&killed), Some(libc::SIGKILL));
    // Killed while it waited: every post is published or kept deferred, none lost.
    let status = status_of(&batch.store).await;
    let (published, deferred) = (status["published"].as_u64().unwrap(), status["deferred"].as_u64().unwrap());
    assert!(published + deferred == 20 && deferred >= 1, "{status}");

    // The same command again: it waits for the deferred posts' time and publishes each once.
    let rerun = tokio::time::timeout(std::time::Duration::from_secs(30), postato(&strings(&batch.args), None))
        .await
        .expect("it ends");
    let summary = json_line(&rerun);
    assert_eq!(code(&rerun), 0, "{summary}");
    assert_eq!(
        (summary["published"].as_u64(), summary["alreadyPublished"].as_u64(), summary["deferred"].as_u64()),
        (Some(deferred), Some(published), Some(0)),
        "{summary}"
    );
    let stats = sim.stats();
    assert_eq!((stats.published_keys, stats.duplicate_keys.len()), (20, 0), "{stats:?}");
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
