//! The load the scenarios share: a post and its JSON body, the workers that run a job for
//! every post at a given concurrency, and the two ways to reach a simulator (our client, and a
//! plain HTTP endpoint for the baselines).

use postato::{Client, Post, PostStatus};
use postato_sim::{SimConfig, Simulator, SimulatorHandle};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::reference;

/// The content of post `i`: `benchmark post {i}`, padded with `.` to `size` bytes if given.
pub fn content(i: usize, size: Option<usize>) -> String {
    let mut text = format!("benchmark post {i}");
    if let Some(size) = size {
        text.extend(std::iter::repeat_n('.', size.saturating_sub(text.len())));
    }
    text
}

/// The JSON body of post `i`, as the baselines send it.
pub fn body(i: usize) -> String {
    sized_body(i, None)
}

/// The JSON body of post `i` with its content of `size` bytes.
pub fn sized_body(i: usize, size: Option<usize>) -> String {
    let content = content(i, size);
    format!(r#"{{"platform":"x","accountId":"acc_1","status":"publish","postType":"post","content":"{content}"}}"#)
}

/// Post `i`, as our client publishes it.
pub fn post(prefix: &str, i: usize) -> Post {
    sized_post(prefix, i, None)
}

/// Post `i` with its content of `size` bytes.
pub fn sized_post(prefix: &str, i: usize, size: Option<usize>) -> Post {
    Post::new(format!("{prefix}-{i}"), "x", "acc_1", PostStatus::Publish, "post", content(i, size))
}

/// Runs `job(i)` for i in 0..n with `concurrency` workers; returns the wall time.
pub async fn run<F, Fut>(n: usize, concurrency: usize, job: F) -> Duration
where
    F: Fn(usize) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (next, job) = (Arc::clone(&next), job.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    job(i).await;
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("a benchmark worker ends");
    }
    started.elapsed()
}

/// Publishes/s of the Rust client on the simulator at `base_url`: `n` posts at `concurrency`,
/// best of two rounds.
pub async fn client_rate_at(base_url: &str, api_key: &str, n: usize, concurrency: usize, prefix: &str) -> f64 {
    let client = Client::builder()
        .api_key(api_key)
        .workspace_id("ws_bench")
        .base_url(base_url)
        .build()
        .expect("the client builds");
    let mut best = 0f64;
    for round in 0..2 {
        let (c, prefix) = (client.clone(), format!("{prefix}-{round}"));
        let took = run(n, concurrency, move |i| {
            let (c, post) = (c.clone(), post(&prefix, i));
            async move {
                c.publish(&post).await.expect("the publish succeeds");
            }
        })
        .await;
        best = best.max(n as f64 / took.as_secs_f64());
    }
    best
}

/// Publishes/s of the Rust client in a process of its own (this harness run again with
/// `--client-process`), as the language scripts and `postato batch` run: `n` posts, 64 tasks.
pub async fn client_process_rate(sim: &SimulatorHandle, n: usize, prefix: &str) -> f64 {
    client_process_rate_at(&sim.base_url(), sim.api_key(), n, prefix).await
}

/// [`client_process_rate`] against the simulator at `base_url`.
pub async fn client_process_rate_at(base_url: &str, api_key: &str, n: usize, prefix: &str) -> f64 {
    let exe = std::env::current_exe().expect("the harness knows its path");
    // Waited for without blocking a worker: a simulator in this process may need both.
    let output = tokio::process::Command::new(exe)
        .args(["--client-process", base_url, api_key, &n.to_string(), prefix])
        .output()
        .await
        .expect("the harness runs again");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("the child prints its rate")
}

pub async fn simulator(config: SimConfig) -> SimulatorHandle {
    Simulator::start(config).await.expect("the simulator starts")
}

/// Our client, with its defaults, pointed at `sim`.
pub fn client(sim: &SimulatorHandle) -> Client {
    Client::builder()
        .api_key(sim.api_key())
        .workspace_id("ws_bench")
        .base_url(sim.base_url())
        .build()
        .expect("the client builds")
}

/// The simulator's publish endpoint, reached with plain reqwest (the baselines' way).
#[derive(Clone)]
pub struct Endpoint {
    pub http: reqwest::Client,
    pub url: String,
    pub api_key: String,
}

impl Endpoint {
    pub fn new(sim: &SimulatorHandle, http: reqwest::Client) -> Endpoint {
        Endpoint {
            http,
            url: format!("{}/v1/workspaces/ws_bench/posts", sim.base_url()),
            api_key: sim.api_key().to_owned(),
        }
    }

    /// Publishes post `i` the reference's way, keyed by `key_prefix`.
    pub async fn reference(&self, key_prefix: &str, i: usize) -> reference::Outcome {
        let key = postato::idempotency_key(&format!("{key_prefix}-{i}"));
        reference::publish(&self.http, &self.url, &self.api_key, &key, &body(i)).await
    }
}
