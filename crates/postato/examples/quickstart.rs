//! The README's quickstart: publish one post, again (the server replays it), with options of
//! its own, through a store, and many at once. Reads POSTATO_API_KEY, POSTATO_WORKSPACE_ID
//! and POSTATO_BASE_URL: point them at `postato sim` to try it without an account.
//!
//! `cargo run -p postato --example quickstart`

use postato::{Client, ManyOptions, Post, Publisher, SqliteStore};
use std::time::Duration;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder_from_env()? // or Client::builder().api_key("sk_live_…").workspace_id("ws_1")
        .on_retry(|retry| eprintln!("retrying {} in {:?}: {}", retry.business_key, retry.delay, retry.reason))
        .build()?;
    let post = Post::builder("rust-draft-1").platform("x").account_id("acc_1").text("Hello from postato").build()?;
    let published = client.publish(&post).await?;
    println!("{} after {} attempt(s)", published.id, published.attempts);
    let again = client.publish(&post).await?;
    assert!(again.replayed && again.id == published.id, "the same business key is the same post");

    // This publish only: a shorter deadline, fewer attempts and a shorter limit on each attempt
    // (checked as the client's settings).
    let urgent = Post::builder("rust-urgent-1").platform("x").account_id("acc_1").text("Now").build()?;
    let call = client.publish_with(&urgent).deadline(Duration::from_secs(5)).max_attempts(2);
    if let Err(e) = call.timeout(Duration::from_secs(2)).await {
        eprintln!("{e} ({:?}; request id {:?})", e.kind(), e.request_id());
    }

    // A store: the second publish of a post is answered from it, with nothing sent.
    let publisher = Publisher::new(client.clone(), SqliteStore::open("posts.db")?);
    let first = publisher.publish(&post).await?;
    let second = publisher.publish(&post).await?;
    assert!(!first.from_store && second.from_store, "the second answer comes from the store: nothing sent");

    // Many posts in one call: 16 at once, one Result per post, in input order.
    let posts = (0..100)
        .map(|i| {
            Post::builder(format!("rust-campaign-{i}"))
                .platform("x")
                .account_id("acc_2")
                .text(format!("post {i}"))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let results = client.publish_many(&posts, &ManyOptions::new().concurrency(16)).await?;
    println!("{} of {} published", results.iter().filter(|r| r.is_ok()).count(), results.len());
    Ok(())
}
