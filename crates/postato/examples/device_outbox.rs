//! A device's outbox (docs/outbox.md, "On a device"): the app enqueues posts the moment it has
//! them, offline or not, and a background job drains what is due within a deadline. Reads
//! POSTATO_API_KEY, POSTATO_WORKSPACE_ID and POSTATO_BASE_URL: point them at `postato sim`.
//!
//! `cargo run -p postato --example device_outbox`

use postato::{Client, LocalOutbox, Post};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder_from_env()?.build()?;
    let outbox = LocalOutbox::open(client, "outbox.db")?; // synced: an enqueue survives a power loss

    // In the app, where the user taps "post": durable once it returns, network or not.
    for i in 0..3 {
        let post = Post::builder(format!("device-draft-{i}")).platform("x").account_id("acc_1").text("Hi").build()?;
        outbox.enqueue(&post, None).await?;
    }

    // In the background job (WorkManager, BGTaskScheduler): what is due, within its time.
    let drained = outbox.drain(Duration::from_secs(25)).await?;
    println!(
        "published {}, deferred {}, dead-lettered {}; pending {}",
        drained.published.len(),
        drained.deferred.len(),
        drained.dead_lettered.len(),
        drained.counts.pending
    );
    if let Some(error) = drained.blocked {
        eprintln!("nothing can be published until this is fixed: {error}");
    }
    Ok(())
}
