//! Helpers for the CLI's tests: run the `postato` binary against an in-process simulator.
#![allow(dead_code)]

use postato_sim::SimulatorHandle;
use serde_json::Value;
use std::process::Output;

pub const BIN: &str = env!("CARGO_BIN_EXE_postato");

/// Runs `postato` with `args` (and optional stdin), without inheriting POSTATO_* variables.
pub async fn postato(args: &[&str], stdin: Option<&str>) -> Output {
    postato_env(args, stdin, &[]).await
}

/// The environment variables that decide colours (read by clap and by postato alike).
const COLOUR_VARIABLES: [&str; 4] = ["NO_COLOR", "CLICOLOR", "CLICOLOR_FORCE", "TERM"];

/// Runs `postato` as [`postato`] does, with `env` set and no colour or OpenTelemetry variable
/// inherited.
pub async fn postato_env(args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Output {
    let mut command = command(args, env);
    command.stdout(std::process::Stdio::piped());
    let mut child = command.spawn().expect("postato runs");
    if let Some(input) = stdin {
        use tokio::io::AsyncWriteExt;
        child.stdin.take().unwrap().write_all(input.as_bytes()).await.unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().await.unwrap()
}

/// Runs `postato` as [`postato`] does, its stdout a pipe whose reader is already gone (as
/// `postato … | head -1` is once `head` has its line): every write to it fails.
pub async fn postato_into_closed_pipe(args: &[&str]) -> Output {
    use std::os::fd::{FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: `pipe` fills both descriptors; each is owned once, the reader closed at once.
    let writer = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0, "a pipe");
        drop(OwnedFd::from_raw_fd(fds[0]));
        OwnedFd::from_raw_fd(fds[1])
    };
    let mut command = command(args, &[]);
    command.stdout(std::process::Stdio::from(writer));
    command.spawn().expect("postato runs").wait_with_output().await.unwrap()
}

/// `postato` with `args` and `env`, no POSTATO_*, colour or OTEL_* variable inherited, stdin
/// and stderr piped.
fn command(args: &[&str], env: &[(&str, &str)]) -> tokio::process::Command {
    let mut command = tokio::process::Command::new(BIN);
    command
        .args(args)
        .env_remove("POSTATO_API_KEY")
        .env_remove("POSTATO_WORKSPACE_ID")
        .env_remove("POSTATO_BASE_URL")
        .env_remove("POSTATO_LOG");
    for variable in COLOUR_VARIABLES {
        command.env_remove(variable);
    }
    // The standard OpenTelemetry variables would export spans from every run.
    for (variable, _) in std::env::vars_os().filter(|(name, _)| name.to_string_lossy().starts_with("OTEL_")) {
        command.env_remove(variable);
    }
    command.envs(env.iter().copied());
    command.stdin(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
    command
}

/// The connection flags for `sim`, with fast-forwarded waits.
pub fn connection(sim: &SimulatorHandle) -> Vec<String> {
    vec![
        "--base-url".into(),
        sim.base_url(),
        "--api-key".into(),
        sim.api_key().into(),
        "--workspace".into(),
        "ws_cli".into(),
        "--fast-forward-waits".into(),
    ]
}

pub fn json_line(output: &Output) -> Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "exactly one JSON line, got {stdout:?} (stderr {:?})",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(lines[0]).unwrap()
}

pub fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

pub fn post_line(key: &str, content: &str) -> String {
    format!(
        r#"{{"businessKey":"{key}","platform":"x","accountId":"acc_1","status":"publish","postType":"post","content":"{content}"}}"#
    )
}

pub fn strings(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Writes a campaign of one post per key (each post's content is its key).
pub fn write_campaign(path: &std::path::Path, keys: &[String]) {
    std::fs::write(path, keys.iter().map(|k| post_line(k, k)).collect::<Vec<_>>().join("\n") + "\n").unwrap();
}

/// `postato batch CAMPAIGN --store STORE --output json --no-progress --concurrency N`, then
/// `extra`, then the flags that point it at `sim`.
pub fn batch_args(
    campaign: &std::path::Path,
    store: &str,
    concurrency: u16,
    extra: &[&str],
    sim: &SimulatorHandle,
) -> Vec<String> {
    let mut args: Vec<String> = ["batch", campaign.to_str().unwrap(), "--store", store, "--output", "json"]
        .into_iter()
        .chain(["--no-progress", "--concurrency", &concurrency.to_string()])
        .chain(extra.iter().copied())
        .map(str::to_owned)
        .collect();
    args.extend(connection(sim));
    args
}

/// Runs `postato args…` until it exits 0, killing it with SIGKILL `kills` times, each time once
/// the store has recorded `progress(kill)` more posts than when that run started. Returns the
/// number of runs. Panics if a kill did not land mid-run, or after `limit`.
pub async fn run_with_kills(
    args: &[&str],
    store: &postato::SqliteStore,
    kills: usize,
    mut progress: impl FnMut(usize) -> u64,
    limit: std::time::Duration,
) -> usize {
    use postato::ResultStore;
    let started = std::time::Instant::now();
    let (mut killed, mut runs) = (0, 0);
    loop {
        runs += 1;
        assert!(started.elapsed() < limit, "not done after {limit:?} ({runs} runs)");
        let before = store.counts().await.unwrap().published;
        let mut child = tokio::process::Command::new(BIN)
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        if killed < kills {
            let target = before + progress(killed);
            loop {
                if let Some(status) = child.try_wait().unwrap() {
                    assert!(status.success(), "a run failed: {status}");
                    panic!("the run finished before kill {} could land; lower the progress targets", killed + 1);
                }
                if store.counts().await.unwrap().published >= target {
                    child.start_kill().unwrap();
                    child.wait().await.unwrap();
                    killed += 1;
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            continue;
        }
        if child.wait().await.unwrap().success() {
            return runs;
        }
    }
}
