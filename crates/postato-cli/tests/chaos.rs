//! The chaos run: 5,000 posts through `postato batch` against a simulator with 20 % 5xx, 5 %
//! 429, 5 % drops after commit, 2 % resets and 2 % slow commits past the client's timeout; the
//! batch is killed with SIGKILL at 10 random moments and restarted each time. Every key must
//! end published exactly once on the platform, or dead-lettered with a reason; none missing.
use postato::{idempotency_key, ResultStore, SqliteStore};
use postato_sim::{FaultRates, SimConfig, Simulator};
use std::time::{Duration, Instant};

mod common;
use common::*;

const POSTS: usize = 5_000;
const KILLS: usize = 10;

/// A small deterministic generator for the kill moments (seeded, so a failure can be replayed).
struct Moments(u64);

impl Moments {
    fn next_in(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_run_publishes_every_post_exactly_once() {
    let faults = FaultRates {
        server_error: 0.20,
        rate_limited: 0.05,
        drop_after_commit: 0.05,
        reset_before: 0.02,
        slow_commit: 0.02,
        slow_commit_ms: 800,
        ..FaultRates::default()
    };
    let sim = Simulator::start(SimConfig { faults, seed: 2026, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("chaos.jsonl");
    let store_path = dir.path().join("chaos.db");
    let keys: Vec<String> = (0..POSTS).map(|i| format!("chaos-{i:05}")).collect();
    write_campaign(&campaign, &keys);
    let args =
        batch_args(&campaign, store_path.to_str().unwrap(), 32, &["--max-attempts", "25", "--timeout-ms", "400"], &sim);
    let args = strings(&args);

    let store = SqliteStore::open(&store_path).unwrap();
    let mut moments = Moments(0x0005_eedc_4a05);
    let started = Instant::now();
    let runs = run_with_kills(&args, &store, KILLS, |_| moments.next_in(50, 400), Duration::from_secs(150)).await;
    let kills = KILLS;

    let publishes = sim.publishes();
    let letters = store.dead_letters(None, usize::MAX).await.unwrap();
    let (mut published, mut dead, mut lost, mut duplicates) = (0, 0, Vec::new(), 0);
    for key in &keys {
        let count = publishes.get(&idempotency_key(key)).copied().unwrap_or(0);
        if count > 1 {
            duplicates += 1;
        }
        match store.published(key).await.unwrap() {
            Some(_) if count == 1 => published += 1,
            Some(_) => panic!("{key} is recorded as published but the platform saw it {count} times"),
            None if letters.iter().any(|l| &l.business_key == key && !l.message.is_empty()) => dead += 1,
            None => lost.push(key.clone()),
        }
    }
    let stats = sim.stats();
    println!(
        "chaos: {POSTS} posts, {} requests, {} faults injected ({} resets, {} drops after commit, {} slow commits, {} 429s), {kills} SIGKILLs over {runs} runs, {:.1} s: {published} published exactly once, {dead} dead-lettered, {} lost, {duplicates} duplicates",
        stats.requests,
        stats.faults_injected,
        stats.resets,
        stats.drops_after_commit,
        stats.slow_commits,
        stats.rate_limited,
        started.elapsed().as_secs_f64(),
        lost.len(),
    );
    assert!(lost.is_empty(), "lost: {lost:?}");
    assert_eq!(duplicates, 0);
    assert!(stats.duplicate_keys.is_empty());
    assert_eq!(published + dead, POSTS);
    assert!(stats.slow_commits > 0 && stats.drops_after_commit > 0 && stats.resets > 0, "{stats:?}");
}
