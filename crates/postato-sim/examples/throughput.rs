//! Measures the simulator's throughput: publishes/s from a loopback load of keep-alive
//! connections. Run: `cargo run --release -p postato-sim --example throughput -- [N] [CONCURRENCY]`.

use postato_sim::{SimConfig, Simulator};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let total: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator starts");
    let url = format!("{}/v1/workspaces/ws_bench/posts", sim.base_url());
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client builds");
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, url, next, key) = (client.clone(), url.clone(), Arc::clone(&next), sim.api_key().to_owned());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        break;
                    }
                    let body = format!(r#"{{"platform":"x","accountId":"a","status":"publish","postType":"post","content":"post {i}"}}"#);
                    let response = client
                        .post(&url)
                        .bearer_auth(&key)
                        .header("Idempotency-Key", format!("bench-{i}"))
                        .header("Content-Type", "application/json")
                        .body(body)
                        .send()
                        .await
                        .expect("request succeeds");
                    assert_eq!(response.status(), 202);
                    response.bytes().await.expect("body reads");
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.expect("worker ends");
    }
    let elapsed = started.elapsed();
    let stats = sim.stats();
    assert_eq!(stats.platform_publishes as usize, total);
    println!(
        "{total} publishes, concurrency {concurrency}: {:.2} s, {:.0} publishes/s (client and server share the 2 cores)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}
