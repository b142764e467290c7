//! Plugs in your own transport: here one that fails the first attempt of every post, then
//! answers from memory. Any HTTP stack can implement `postato_core::Transport`.
//!
//! `cargo run -p postato --example custom_transport`

use postato::postato_core::{Request, Response, Transport, TransportFailure, TransportFailureKind};
use postato::{Client, Post, PostStatus};
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default)]
struct FlakyInMemory {
    seen: Mutex<HashSet<String>>,
}

impl Transport for FlakyInMemory {
    async fn send(&self, request: &Request, _timeout: Duration) -> Result<Response, TransportFailure> {
        let first = self.seen.lock().unwrap().insert(request.idempotency_key().to_owned());
        if first {
            return Err(TransportFailure::new(TransportFailureKind::Io, "connection reset (simulated)"));
        }
        Ok(Response::new(202, format!(r#"{{"id":"mem_{}","status":"published"}}"#, &request.idempotency_key()[..8])))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::builder()
        .api_key("unused")
        .workspace_id("ws_demo")
        .fast_forward_waits(true)
        .build_with_transport(FlakyInMemory::default())?;
    let post = Post::new("draft-7", "x", "acc_1", PostStatus::Publish, "post", "hi");
    let published = client.publish(&post).await?;
    println!("{} after {} attempts", published.id, published.attempts);
    assert_eq!(published.attempts, 2);
    Ok(())
}
