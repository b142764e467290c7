//! The reference algorithm from the cookbook page "Retry-safe posting", as a baseline: a
//! plain loop per post with the same headers, per-request Retry-After (in seconds), backoff
//! `min(30 s, 500 ms * 2^attempt) + jitter` on 5xx, 5 attempts, no shared gate or budget.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The attempts after which a post is given up.
pub const MAX_ATTEMPTS: u32 = 5;

/// What happened to one post.
pub enum Outcome {
    Published,
    Lost,
}

static JITTER: AtomicU64 = AtomicU64::new(0x2545_f491_4f6c_dd1d);

fn jitter_ms() -> u64 {
    let mut x = JITTER.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    JITTER.store(x, Ordering::Relaxed);
    x % 500
}

/// Publishes one post the reference's way.
pub async fn publish(client: &reqwest::Client, url: &str, api_key: &str, key: &str, body: &str) -> Outcome {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let response = client
            .post(url)
            .header("Authorization", format!("Bearer {api_key}"))
            .header("Content-Type", "application/json")
            .header("Idempotency-Key", key)
            .body(body.to_owned())
            .send()
            .await;
        let response = match response {
            Ok(r) => r,
            Err(_) if attempt >= MAX_ATTEMPTS => return Outcome::Lost,
            Err(_) => {
                backoff(attempt).await;
                continue;
            }
        };
        let status = response.status().as_u16();
        if (200..300).contains(&status) {
            let _ = response.bytes().await;
            return Outcome::Published;
        }
        if (400..500).contains(&status) && status != 429 {
            return Outcome::Lost;
        }
        if status == 429 {
            let seconds: f64 = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(1.0);
            let _ = response.bytes().await;
            tokio::time::sleep(Duration::from_secs_f64(seconds)).await;
            continue;
        }
        let _ = response.bytes().await;
        if attempt >= MAX_ATTEMPTS {
            return Outcome::Lost;
        }
        backoff(attempt).await;
    }
}

async fn backoff(attempt: u32) {
    let ms = (500u64 << attempt.min(16)).min(30_000) + jitter_ms();
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
