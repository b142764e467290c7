//! Ctrl-C, SIGTERM and SIGHUP: a run stops cleanly and records what was in flight.
use postato_sim::{ScriptAction, SimConfig, Simulator};

use crate::common::*;
use crate::RunningBatch;

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
async fn after_a_stop_no_line_waiting_for_a_request_slot_sends() {
    use postato::ResultStore;
    // Every answer takes two seconds: when the signal comes, 4 lines' requests are out (the
    // --concurrency) and more lines wait for a slot with their keys claimed; the signal has two
    // seconds to land before the next 4 would go out.
    let faults = postato_sim::FaultRates { latency: 1.0, latency_ms: 2_000, ..Default::default() };
    let sim = Simulator::start(SimConfig { faults, ..SimConfig::default() }).await.unwrap();
    let batch = RunningBatch::start(&sim, "slots", 40, 4);
    batch.until_published(4).await;
    batch.signal("-TERM");
    let (output, store, _, _dir) = batch.output().await;
    assert_eq!(code(&output), 143, "{output:?}");
    let recorded = store.counts().await.unwrap().published;
    let stats = sim.stats();
    assert_eq!((stats.requests, stats.published_keys as u64), (recorded, recorded), "every request was recorded");
    assert!(recorded <= 8, "the 4 recorded and the 4 in flight, no more: {recorded}");
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
