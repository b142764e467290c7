//! Row 10, the outbox in PostgreSQL: (a) posts drained by several `postato worker` processes
//! (the release CLI) beside one alone, against a simulator whose every answer is 50 ms late,
//! with every post checked published once; (b) the enqueue's cost in the application's
//! transaction, beside a plain INSERT of the same row; (c) from an enqueue's commit to its
//! post's first request, with one idle worker woken by NOTIFY.
//!
//! PostgreSQL: `POSTATO_BENCH_POSTGRES_URL` or `POSTATO_TEST_POSTGRES_URL`, else the server
//! `scripts/postgres.sh` starts; the rows go to a database of their own, made afresh.

use postato::postato_core::idempotency_key;
use postato::Post;
use postato_postgres::outbox;
use postato_sim::{FaultRates, SimConfig, SimulatorHandle};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio_postgres::{Client as Db, NoTls};

use crate::results::{
    Baseline, Bound, DrainRun, Figures, Metric, OutboxDrain, OutboxDrainParameters, OutboxEnqueue,
    OutboxEnqueueParameters, OutboxWake, OutboxWakeParameters, PerRow, Percentiles, Scenario, Target,
};
use crate::workload::{post, simulator};

const LATENCY_MS: u64 = 50;
const WORKERS: usize = 4;
/// Each worker's `--concurrency`: the default.
const CONCURRENCY: u32 = postato::postato_core::defaults::CONCURRENCY;
const PER_TRANSACTION: usize = 1_000;
/// The worker's fallback poll in (c): a figure near it would be a poll, not a wake.
const WAKE_POLL_MS: u64 = 60_000;
const DATABASE: &str = "postato_bench_outbox";

/// The three rows.
pub async fn outbox(repo: &Path, cli: &Path, quick: bool) -> Vec<Scenario> {
    let posts = if quick { 10_000 } else { 100_000 };
    let url = database(repo).await;
    postato_postgres::PostgresStore::connect(&url, 2).await.expect("postato's tables are created");
    let db = connect(&url).await;
    let faults = FaultRates { latency: 1.0, latency_ms: LATENCY_MS, ..FaultRates::default() };
    let sim = simulator(SimConfig { faults, ..SimConfig::default() }).await;

    eprintln!("   enqueueing {posts} posts, and as many plain rows");
    let enqueue = enqueue_cost(&db, "one", posts).await;
    eprintln!("   draining them with one worker");
    let one = drain(cli, &url, &sim, "one", posts, 1);
    enqueue_all(&db, "four", posts).await;
    eprintln!("   draining as many with {WORKERS} workers");
    let four = drain(cli, &url, &sim, "four", posts, WORKERS);
    eprintln!("   commit to first request, one post at a time");
    let wake = wake(cli, &url, &db, if quick { 50 } else { 200 }).await;

    let drain = OutboxDrain {
        parameters: OutboxDrainParameters {
            posts,
            workers: WORKERS,
            concurrency: CONCURRENCY as usize,
            latency_ms: LATENCY_MS,
        },
        ours: four,
        baseline: Baseline { description: "one worker".into(), figures: one },
    };
    let (enqueue, insert) = enqueue;
    vec![
        Scenario::new(
            "10a",
            "Outbox drained",
            Figures::OutboxDrain(drain),
            vec![
                Target::new(Metric::Ratio, Bound::AtLeast(3.5)),
                Target::new(Metric::Lost, Bound::AtMost(0.0)),
                Target::new(Metric::Twice, Bound::AtMost(0.0)),
            ],
        ),
        Scenario::new(
            "10b",
            "Outbox enqueue in a transaction",
            Figures::OutboxEnqueue(OutboxEnqueue {
                parameters: OutboxEnqueueParameters { posts, per_transaction: PER_TRANSACTION },
                ours: enqueue,
                baseline: Baseline { description: "a plain INSERT of the same row".into(), figures: insert },
            }),
            Vec::new(),
        ),
        Scenario::new(
            "10c",
            "Outbox commit to first request",
            Figures::OutboxWake(wake),
            vec![Target::new(Metric::P50Ms, Bound::AtMost(50.0)), Target::new(Metric::P99Ms, Bound::AtMost(250.0))],
        ),
    ]
}

/// The URL of a fresh database for the rows.
async fn database(repo: &Path) -> String {
    let server = std::env::var("POSTATO_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("POSTATO_TEST_POSTGRES_URL"))
        .unwrap_or_else(|_| {
            let out = Command::new(repo.join("scripts/postgres.sh")).output().expect("scripts/postgres.sh runs");
            assert!(out.status.success(), "scripts/postgres.sh starts PostgreSQL");
            String::from_utf8(out.stdout).expect("a URL").trim().to_owned()
        });
    let admin = connect(&server).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")).await.expect("dropped");
    admin.batch_execute(&format!("CREATE DATABASE {DATABASE}")).await.expect("created");
    let (base, _) = server.split('?').next().unwrap_or(&server).rsplit_once('/').expect("a URL with a database");
    format!("{base}/{DATABASE}")
}

async fn connect(url: &str) -> Db {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.expect("PostgreSQL answers");
    tokio::spawn(connection);
    client
}

fn posts(prefix: &str, n: usize) -> Vec<Post> {
    (0..n).map(|i| post(&format!("outbox-{prefix}"), i)).collect()
}

/// Enqueues the posts `prefix` in transactions of [`PER_TRANSACTION`]; returns the time per
/// post, beside a plain INSERT of the same values into a table of the application's.
async fn enqueue_cost(db: &Db, prefix: &str, n: usize) -> (PerRow, PerRow) {
    db.batch_execute(
        "CREATE TABLE app_rows (business_key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, payload TEXT NOT NULL, \
         not_before_ms BIGINT NOT NULL)",
    )
    .await
    .expect("the application's table");
    let plain = posts("plain", n);
    let insert = db
        .prepare("INSERT INTO app_rows (business_key, fingerprint, payload, not_before_ms) VALUES ($1, $2, $3, $4)")
        .await
        .expect("prepared");
    let started = Instant::now();
    for chunk in plain.chunks(PER_TRANSACTION) {
        db.batch_execute("BEGIN").await.expect("begun");
        for post in chunk {
            let payload = serde_json::to_string(post).expect("JSON");
            let fingerprint = postato::payload_fingerprint(&post.wire_body());
            db.execute(&insert, &[&post.business_key, &fingerprint, &payload, &0i64]).await.expect("inserted");
        }
        db.batch_execute("COMMIT").await.expect("committed");
    }
    let insert = per_row(started.elapsed(), n);
    let started = Instant::now();
    enqueue_all(db, prefix, n).await;
    (per_row(started.elapsed(), n), insert)
}

async fn enqueue_all(db: &Db, prefix: &str, n: usize) {
    for chunk in posts(prefix, n).chunks(PER_TRANSACTION) {
        db.batch_execute("BEGIN").await.expect("begun");
        for post in chunk {
            outbox::enqueue(db, post, None).await.expect("enqueued");
        }
        db.batch_execute("COMMIT").await.expect("committed");
    }
}

fn per_row(took: Duration, n: usize) -> PerRow {
    PerRow { microseconds_per_row: took.as_secs_f64() * 1e6 / n as f64 }
}

/// A worker process, killed if the harness stops first.
struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(cli: &Path, url: &str, sim: Option<&SimulatorHandle>, extra: &[&str]) -> Worker {
    let mut command = Command::new(cli);
    command
        .args(["worker", "--concurrency", &CONCURRENCY.to_string()])
        .args(extra)
        .env("POSTATO_STORE", url)
        .env("POSTATO_WORKSPACE_ID", "ws_bench")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(sim) = sim {
        command.env("POSTATO_BASE_URL", sim.base_url()).env("POSTATO_API_KEY", sim.api_key());
    }
    Worker(command.spawn().expect("postato worker starts"))
}

/// Drains the posts `prefix` with `workers` workers that exit once nothing is due; checks each
/// post was published once.
fn drain(cli: &Path, url: &str, sim: &SimulatorHandle, prefix: &str, n: usize, workers: usize) -> DrainRun {
    let started = Instant::now();
    let mut running: Vec<Worker> = (0..workers).map(|_| worker(cli, url, Some(sim), &["--exit-when-idle"])).collect();
    for worker in &mut running {
        let status = worker.0.wait().expect("the worker ends");
        assert!(status.success(), "a worker failed: {status}");
    }
    let seconds = started.elapsed().as_secs_f64();
    let published: Vec<u64> =
        posts(prefix, n).iter().map(|p| sim.platform_publishes(&idempotency_key(&p.business_key))).collect();
    DrainRun {
        seconds,
        posts_per_second: n as f64 / seconds,
        lost: published.iter().filter(|&&count| count == 0).count(),
        twice: published.iter().filter(|&&count| count > 1).count(),
    }
}

/// Commit to first request for `samples` posts, enqueued one at a time with one idle worker.
async fn wake(cli: &Path, url: &str, db: &Db, samples: usize) -> OutboxWake {
    // A simulator of its own, prompt: only the wake is measured.
    let sim = simulator(SimConfig::default()).await;
    let _worker = worker(cli, url, Some(&sim), &["--poll-ms", &WAKE_POLL_MS.to_string()]);
    let mut took = Vec::with_capacity(samples);
    // The first posts wait for the worker to start (and warm its connections).
    for i in 0..samples + 5 {
        let post = post("outbox-wake", i);
        let key = idempotency_key(&post.business_key);
        db.batch_execute("BEGIN").await.expect("begun");
        outbox::enqueue(db, &post, None).await.expect("enqueued");
        let committing = Instant::now();
        db.batch_execute("COMMIT").await.expect("committed");
        let first = loop {
            if let Some(at) = sim.first_request_at(&key) {
                break at;
            }
            assert!(committing.elapsed() < Duration::from_secs(30), "the worker never sent {}", post.business_key);
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        while sim.platform_publishes(&key) == 0 {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if i >= 5 {
            took.push(first.saturating_duration_since(committing).as_secs_f64() * 1e3);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    took.sort_by(f64::total_cmp);
    let at = |q: f64| took[((took.len() as f64 * q).ceil() as usize).clamp(1, took.len()) - 1];
    OutboxWake {
        parameters: OutboxWakeParameters { samples, poll_ms: WAKE_POLL_MS },
        ours: Percentiles { p50_ms: at(0.5), p99_ms: at(0.99), max_ms: took[took.len() - 1] },
    }
}
