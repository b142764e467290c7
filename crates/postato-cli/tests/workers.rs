//! Many machines: 4 `postato batch` processes share one 2,000-post campaign through a
//! PostgreSQL store against a faulty simulator; one is killed with SIGKILL mid-run, then every
//! PostgreSQL connection of the others is cut (as a database restart would), and they finish.
//! Every key must have exactly one platform publish and be recorded as published or
//! dead-lettered (never both), and no two live leases may ever have held one key.
use postato::{idempotency_key, ResultStore};
use postato_postgres::testing::fresh_database;
use postato_postgres::PostgresStore;
use postato_sim::{FaultRates, SimConfig, Simulator};
use std::time::{Duration, Instant};

mod common;
use common::*;

const POSTS: usize = 2_000;
const WORKERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_workers_publish_one_campaign_exactly_once_despite_a_sigkill() {
    let Some(url) = fresh_database("workers").await else { return };
    let faults = FaultRates {
        server_error: 0.10,
        rate_limited: 0.02,
        drop_after_commit: 0.05,
        latency: 0.3,
        latency_ms: 10,
        ..FaultRates::default()
    };
    let sim = Simulator::start(SimConfig { faults, seed: 5, ..SimConfig::default() }).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let campaign = dir.path().join("campaign.jsonl");
    let keys: Vec<String> = (0..POSTS).map(|i| format!("multi-{i:05}")).collect();
    write_campaign(&campaign, &keys);
    let args = batch_args(&campaign, &url, 8, &["--max-attempts", "12", "--lease-ms", "2000"], &sim);
    // The test's own connections are named, so that the cut below counts the workers' only.
    let store = PostgresStore::connect(&format!("{url}?application_name=postato-test"), 2).await.unwrap();

    let started = Instant::now();
    let mut children: Vec<_> = (0..WORKERS)
        .map(|_| {
            tokio::process::Command::new(BIN)
                .args(&args)
                .env("POSTATO_AUDIT_CLAIMS", "1")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    // Kill the first worker once the campaign is well under way.
    loop {
        if store.counts().await.unwrap().published >= 400 {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "the workers make no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let victim = children.remove(0);
    let mut victim = victim;
    assert!(victim.try_wait().unwrap().is_none(), "the victim was still running when killed");
    victim.start_kill().unwrap();
    victim.wait().await.unwrap();
    // Then cut every connection to the campaign's database, mid-run.
    while store.counts().await.unwrap().published < 1_000 {
        assert!(started.elapsed() < Duration::from_secs(90), "the workers make no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (admin, admin_connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(admin_connection);
    let cut = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()
                AND application_name <> 'postato-test'",
            &[],
        )
        .await
        .unwrap()
        .len();
    for child in children {
        let output = child.wait_with_output().await.unwrap();
        assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    }

    let publishes = sim.publishes();
    let letters = store.dead_letters(None, usize::MAX).await.unwrap();
    let (mut published, mut dead, mut missing) = (0, 0, Vec::new());
    let mut both = Vec::new();
    for key in &keys {
        let recorded = store.published(key).await.unwrap();
        if recorded.is_some() && letters.iter().any(|l| &l.business_key == key) {
            both.push(key.clone());
        }
        match recorded {
            Some(_) => {
                assert_eq!(
                    publishes.get(&idempotency_key(key)),
                    Some(&1),
                    "{key} was published {:?} times",
                    publishes.get(&idempotency_key(key))
                );
                published += 1;
            }
            None if letters.iter().any(|l| &l.business_key == key && !l.message.is_empty()) => dead += 1,
            None => missing.push(key.clone()),
        }
    }
    let overlaps = store.overlapping_claims().await.unwrap();
    let stats = sim.stats();
    println!(
        "workers: {POSTS} posts, {WORKERS} workers (1 SIGKILLed, then {cut} PostgreSQL connections cut), {:.1} s; {published} published, {dead} dead-lettered, {} missing, {} both; {} faults, {} replays, {} duplicates, {} overlapping leases",
        started.elapsed().as_secs_f64(),
        missing.len(),
        both.len(),
        stats.faults_injected,
        stats.replays,
        stats.duplicate_keys.len(),
        overlaps.len()
    );
    assert!(missing.is_empty(), "lost: {missing:?}");
    assert!(both.is_empty(), "published and dead-lettered: {both:?}");
    assert!(cut > 0, "connections were cut mid-run");
    assert!(stats.duplicate_keys.is_empty(), "published twice: {:?}", stats.duplicate_keys);
    assert!(overlaps.is_empty(), "two live leases held: {overlaps:?}");
    assert_eq!(published + dead, POSTS);
}
