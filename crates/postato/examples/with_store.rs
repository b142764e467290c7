//! Publishes through a Publisher with a SQLite store: run it twice and the second run sends
//! nothing for posts already published. Uses the in-process simulator, with faults.
//!
//! `cargo run -p postato --example with_store`

use postato::{Client, Post, PostStatus, Publisher, SqliteStore};
use postato_sim::{FaultRates, SimConfig, Simulator};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let faults = FaultRates { server_error: 0.3, drop_after_commit: 0.2, ..FaultRates::default() };
    let sim = Simulator::start(SimConfig { faults, seed: 1, ..SimConfig::default() }).await?;
    let client = Client::builder()
        .api_key(sim.api_key())
        .workspace_id("ws_demo")
        .base_url(sim.base_url())
        .fast_forward_waits(true)
        .build()?;
    let dir = tempfile::tempdir()?;
    let publisher = Publisher::new(client, SqliteStore::open(dir.path().join("posts.db"))?);
    for round in 1..=2 {
        for i in 0..5 {
            let post =
                Post::new(format!("draft-{i}"), "linkedin", "acc_1", PostStatus::Publish, "post", format!("Post {i}"));
            let report = publisher.publish(&post).await?;
            let source = if report.from_store { "from the store" } else { "published" };
            println!(
                "round {round}: {} -> {} ({source}, {} attempt(s))",
                post.business_key, report.published.id, report.published.attempts
            );
        }
    }
    let stats = sim.stats();
    println!("platform publishes: {}, duplicates: {}", stats.platform_publishes, stats.duplicate_keys.len());
    Ok(())
}
