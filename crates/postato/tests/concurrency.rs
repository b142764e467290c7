//! Timing under a real fault: a slow commit. The shared gate and retry budget are proven on a
//! virtual clock, where no load can make them flaky: see `tests/simulation/`.
use postato::Jitter;
use postato_sim::ScriptAction;
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
