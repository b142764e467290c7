//! Each subcommand, its JSON output and its exit codes: one test binary, one module a topic.
//! The helpers that several modules use are here; the others are in `../common/mod.rs`.
//!
//! - `publish`: `publish` and `key`, one post at a time.
//! - `batch`: a campaign run, its rerun, its store and its metrics.
//! - `dlq`: dead letters and `dlq retry`.
//! - `signals`: Ctrl-C, SIGTERM and SIGHUP stop a run cleanly.
//! - `limits`: rate limits and quotas, deferred posts, `batch --wait`.
//! - `otlp`: spans exported to an OpenTelemetry collector.
//! - `report`: `batch --events` and the HTML report made from it.
//! - `output`: what every command prints and exits with.
//! - `demo_and_readme`: the simulator, the demo and the completion scripts, as the docs show them.
use postato_sim::ScriptAction;
use std::collections::BTreeMap;

#[path = "../common/mod.rs"]
mod common;
use common::*;

mod batch;
mod demo_and_readme;
mod dlq;
mod limits;
#[cfg(feature = "otlp")]
mod otlp;
mod output;
mod publish;
mod report;
mod signals;

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
