//! Timing under real faults: slow commits, the shared rate-limit gate, the retry budget.
use postato::{Client, Jitter, RetryBudgetConfig};
use postato_sim::{RateLimitConfig, ScriptAction, SimConfig, Simulator};
use std::time::Duration;

mod common;
use common::*;

#[tokio::test]
async fn a_slow_commit_meets_409_then_the_replay_and_publishes_once() {
    let sim = sim().await;
    let k = key("slow");
    sim.script_business_key(&k, vec![ScriptAction::SlowCommit { ms: 700 }]);
    let client = builder(&sim)
        .fast_forward_waits(false)
        .timeout(Duration::from_millis(100))
        .backoff(Duration::from_millis(100), Duration::from_secs(1))
        .jitter(Jitter::Additive { max: Duration::from_millis(20) })
        .max_attempts(6)
        .build()
        .unwrap();
    let published = client.publish(&post(&k)).await.unwrap();
    assert!(published.replayed);
    let stats = sim.stats();
    assert!(stats.in_progress_conflicts >= 1, "{stats:?}");
    assert_eq!(sim.platform_publishes_for(&k), 1);
}

#[tokio::test]
async fn the_shared_gate_turns_a_429_storm_into_a_trickle() {
    let config = SimConfig { rate_limit: Some(RateLimitConfig { rate_per_second: 200.0, burst: 20 }), ..SimConfig::default() };
    let sim = Simulator::start(config).await.unwrap();
    let client = builder(&sim).fast_forward_waits(false).build().unwrap();
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.publish(&post(&format!("gate-{i}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = sim.stats();
    assert_eq!(stats.platform_publishes, 200);
    assert!(stats.rate_limited <= 10, "{} of {} requests were 429", stats.rate_limited, stats.requests);
}

#[tokio::test]
async fn the_retry_budget_bounds_load_during_an_outage_and_everything_publishes_after() {
    let sim = sim().await;
    sim.outage(Duration::ZERO, Duration::from_millis(1_000));
    let budget = RetryBudgetConfig { capacity: 20.0, refill_per_second: 10.0, ..RetryBudgetConfig::default() };
    let client: Client = builder(&sim)
        .fast_forward_waits(false)
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .jitter(Jitter::Full)
        .max_attempts(20)
        .retry_budget(budget)
        .build()
        .unwrap();
    let posts = 200;
    let tasks: Vec<_> = (0..posts)
        .map(|i| {
            let client = client.clone();
            tokio::spawn(async move { client.publish(&post(&format!("outage-{i}"))).await })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let stats = sim.stats();
    assert_eq!(stats.platform_publishes, posts);
    // During the outage: one first attempt per post, plus the budget (20 tokens, 10/s for
    // about 1 s). Without the budget each post would retry every 20-200 ms (about 8 times).
    let failed = stats.by_status.get(&503).copied().unwrap_or(0);
    assert!(failed <= posts + 45, "{failed} requests failed during the outage for {posts} posts");
    // Afterwards each post needs exactly one more request.
    assert!(stats.requests <= failed + posts, "{stats:?}");
}
