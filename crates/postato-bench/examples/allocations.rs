//! Allocations a publish: our client against the plain reqwest loop of rows 1 and 7, counted by
//! a global allocator that counts, simulator included (it serves both alike). The figures in
//! BENCHMARKS.md's row 1 come from it:
//!
//! ```text
//! cargo run --release -p postato-bench --example allocations -- plain
//! cargo run --release -p postato-bench --example allocations -- ours
//! ```
//!
//! For where the CPU goes, run the same loops under `perf record -g` (a release build with
//! `-C force-frame-pointers=yes`).

use postato::{Client, Post, PostStatus};
use postato_sim::{SimConfig, Simulator};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

/// The system allocator, counting each allocation and reallocation.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is passed to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

const POSTS: usize = 20_000;
const CONCURRENCY: usize = 64;

#[tokio::main]
async fn main() {
    let side = std::env::args().nth(1).unwrap_or_else(|| "ours".into());
    let sim = Simulator::start(SimConfig::default()).await.expect("the simulator starts");
    let http = reqwest::Client::builder().tcp_nodelay(true).build().expect("reqwest builds");
    let url = format!("{}/v1/workspaces/ws_bench/posts", sim.base_url());
    let api_key = sim.api_key().to_owned();
    let client = Client::builder()
        .api_key(sim.api_key())
        .workspace_id("ws_bench")
        .base_url(sim.base_url())
        .build()
        .expect("the client builds");
    // A warm-up round (connections, pools, the allocator's own growth), then the counted one.
    for round in ["warm", "counted"] {
        let next = Arc::new(AtomicUsize::new(0));
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        let workers: Vec<_> = (0..CONCURRENCY)
            .map(|_| {
                let (next, http, url, api_key, client, side) =
                    (next.clone(), http.clone(), url.clone(), api_key.clone(), client.clone(), side.clone());
                tokio::spawn(async move {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        if i >= POSTS {
                            break;
                        }
                        let (key, content) = (format!("{side}-{round}-{i}"), format!("benchmark post {i}"));
                        if side == "plain" {
                            let body = format!(
                                r#"{{"platform":"x","accountId":"acc_1","status":"publish","postType":"post","content":"{content}"}}"#
                            );
                            let response = http
                                .post(&url)
                                .header("Authorization", format!("Bearer {api_key}"))
                                .header("Content-Type", "application/json")
                                .header("Idempotency-Key", postato::idempotency_key(&key))
                                .header("User-Agent", "postato-bench")
                                .body(body)
                                .send()
                                .await
                                .expect("the plain request succeeds");
                            response.bytes().await.expect("the body reads");
                        } else {
                            let post = Post::new(key, "x", "acc_1", PostStatus::Publish, "post", content);
                            client.publish(&post).await.expect("the publish succeeds");
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            worker.await.expect("a worker ends");
        }
        let counted = ALLOCATIONS.load(Ordering::Relaxed) - before;
        println!("{side}, {round}: {:.1} allocations a publish", counted as f64 / POSTS as f64);
    }
}
