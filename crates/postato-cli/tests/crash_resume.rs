//! Crash and resume: `postato batch` on 1,200 posts against a faulty simulator, killed with
//! SIGKILL at several points and rerun until done. Every key must end with exactly one
//! platform publish and a stored post id (or a dead letter with its reason); none missing.
use postato::{idempotency_key, ResultStore, SqliteStore};
use postato_sim::{FaultRates, SimConfig, Simulator};
use std::time::{Duration, Instant};

mod common;
use common::*;

const POSTS: usize = 1_200;
const KILLS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_killed_with_sigkill_resumes_without_duplicates_or_losses() {
    let faults = FaultRates {
        server_error: 0.10,
        rate_limited: 0.03,
        reset_before: 0.02,
        drop_after_commit: 0.05,
        latency: 0.2,
        latency_ms: 20,
        ..FaultRates::default()
    };
    let sim = Simulator::start(SimConfig { faults, seed: 11, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("campaign.jsonl");
    let store_path = dir.path().join("crash.db");
    let keys: Vec<String> = (0..POSTS).map(|i| format!("crash-{i:05}")).collect();
    write_campaign(&campaign, &keys);
    let args = batch_args(&campaign, store_path.to_str().unwrap(), 16, &["--max-attempts", "12"], &sim);
    let args = strings(&args);

    let store = SqliteStore::open(&store_path).unwrap();
    let started = Instant::now();
    let runs = run_with_kills(&args, &store, KILLS, |kill| 80 + 40 * kill as u64, Duration::from_secs(120)).await;
    let kills = KILLS;

    let publishes = sim.publishes();
    let (mut published, mut dead, mut missing) = (0, 0, Vec::new());
    let letters = store.dead_letters(None, usize::MAX).await.unwrap();
    for key in &keys {
        match store.published(key).await.unwrap() {
            Some(record) => {
                assert_eq!(
                    publishes.get(&idempotency_key(key)),
                    Some(&1),
                    "{key} published {:?} times",
                    publishes.get(&idempotency_key(key))
                );
                assert!(record.post_id.starts_with("post_"));
                published += 1;
            }
            None if letters.iter().any(|l| &l.business_key == key && !l.message.is_empty()) => dead += 1,
            None => missing.push(key.clone()),
        }
    }
    let stats = sim.stats();
    println!(
        "crash/resume: {POSTS} posts, {kills} SIGKILLs, {runs} runs, {:.1} s; {published} published, {dead} dead-lettered, {} missing; {} faults injected, {} duplicates",
        started.elapsed().as_secs_f64(),
        missing.len(),
        stats.faults_injected,
        stats.duplicate_keys.len()
    );
    assert!(missing.is_empty(), "lost: {missing:?}");
    assert!(stats.duplicate_keys.is_empty(), "published twice: {:?}", stats.duplicate_keys);
    assert_eq!(published + dead, POSTS);
}
