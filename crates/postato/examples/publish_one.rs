//! Publishes one post. Against the real API set POSTATO_API_KEY, POSTATO_WORKSPACE_ID (and
//! optionally POSTATO_BASE_URL); without them it starts the simulator in-process.
//!
//! `cargo run -p postato --example publish_one`

use postato::{Client, Post, PostStatus};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim;
    let builder = match (std::env::var("POSTATO_API_KEY"), std::env::var("POSTATO_WORKSPACE_ID")) {
        (Ok(key), Ok(workspace)) => {
            let builder = Client::builder().api_key(key).workspace_id(workspace);
            match std::env::var("POSTATO_BASE_URL") {
                Ok(url) => builder.base_url(url),
                Err(_) => builder,
            }
        }
        _ => {
            sim = postato_sim::Simulator::start(postato_sim::SimConfig::default()).await?;
            Client::builder().api_key(sim.api_key()).workspace_id("ws_demo").base_url(sim.base_url())
        }
    };
    let client = builder.build()?;
    let post = Post::new("example-draft-1", "x", "acc_1", PostStatus::Publish, "post", "Hello from postato");
    let published = client.publish(&post).await?;
    println!(
        "published {} ({}) with idempotency key {} after {} attempt(s)",
        published.id, published.status, published.idempotency_key, published.attempts
    );
    Ok(())
}
