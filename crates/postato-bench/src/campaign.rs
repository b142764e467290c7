//! Scenario 4, campaign memory: `postato batch` (the release CLI) over campaigns of growing
//! size, its peak RSS and throughput, beside the SQLite store written alone.

use postato::SqliteStore;
use postato_sim::SimConfig;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::results::{
    Baseline, Bound, Campaign, CampaignParameters, CampaignRun, Figures, Metric, Overhead, OverheadParameters, Rate,
    Scenario, StoreRate, Target,
};
use crate::workload::{client_process_rate, simulator};

const CONCURRENCY: usize = 64;
/// Records the store-alone baseline writes.
const STORE_RECORDS: usize = 20_000;
/// The largest campaign's peak RSS may not exceed this…
const MAX_PEAK_RSS_MIB: f64 = 64.0;
/// …and memory may grow by at most this per post: the first-line-wins index keeps 16 bytes
/// for each business key (see `postato-cli`'s `campaign::FirstLineWins`); nothing else grows.
const MAX_RSS_BYTES_PER_POST: f64 = 32.0;
/// `postato batch` must reach this share of the Rust client's own throughput.
const MIN_BATCH_TO_CLIENT: f64 = 0.8;
/// Posts the client-alone comparison publishes (at most the largest campaign's).
const CLIENT_POSTS: usize = 100_000;

/// Builds the release CLI and returns its path.
pub fn build_cli(repo: &Path, target_dir: &Path) -> PathBuf {
    let built = Command::new("cargo")
        .current_dir(repo)
        .args(["build", "-q", "--release", "-p", "postato-cli"])
        .status()
        .expect("cargo runs");
    assert!(built.success(), "the CLI builds");
    target_dir.join("release/postato")
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn write_campaign(path: &Path, n: usize) {
    use std::io::Write;
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("the campaign file is created"));
    for i in 0..n {
        writeln!(
            file,
            concat!(
                r#"{{"businessKey":"mem-{n}-{i}","platform":"x","accountId":"acc_1","#,
                r#""status":"publish","postType":"post","content":"campaign post {i}"}}"#
            ),
            n = n,
            i = i
        )
        .expect("the campaign is written");
    }
}

/// One `postato batch` over a campaign of `n` posts, its peak RSS sampled every 20 ms.
async fn batch(cli: &Path, dir: &Path, n: usize) -> CampaignRun {
    let sim = simulator(SimConfig::default()).await;
    let file = dir.join(format!("campaign-{n}.jsonl"));
    write_campaign(&file, n);
    let store = dir.join(format!("store-{n}.db"));
    let _ = std::fs::remove_file(&store);
    let concurrency = CONCURRENCY.to_string();
    let mut child = tokio::process::Command::new(cli)
        .arg("batch")
        .arg(&file)
        .arg("--store")
        .arg(&store)
        .args(["--concurrency", &concurrency, "--no-progress", "--output", "json"])
        .args(["--base-url", &sim.base_url(), "--api-key", sim.api_key(), "--workspace", "ws_bench"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("postato runs");
    let pid = child.id().expect("the child has a pid");
    let mut peak = 0;
    let started = Instant::now();
    loop {
        if let Some(rss) = peak_rss_kib(pid) {
            peak = peak.max(rss);
        }
        if child.try_wait().expect("the child can be waited on").is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    assert_eq!(sim.stats().platform_publishes as usize, n, "every post was published");
    let _ = std::fs::remove_file(&file);
    CampaignRun { posts: n, peak_rss_kib: peak, posts_per_second: n as f64 / elapsed.as_secs_f64() }
}

/// Records/s of the SQLite store alone.
async fn sqlite_records(path: &Path, n: usize) -> f64 {
    let store = SqliteStore::open(path).expect("the store opens");
    let started = Instant::now();
    for i in 0..n {
        let record = postato::PublishedRecord {
            business_key: format!("rec-{i}"),
            idempotency_key: postato::idempotency_key(&format!("rec-{i}")),
            fingerprint: "f".into(),
            post_id: format!("post_{i}"),
            status: "published".into(),
            attempts: 1,
            replayed: false,
            published_at_ms: 0,
        };
        postato::ResultStore::record_published(&store, &record, "bench").await.expect("the record is written");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// Runs the campaigns, smallest first: their memory (4), and the largest one's throughput
/// beside the Rust client's own on a fresh simulator (4b).
pub async fn campaign(cli: &Path, sizes: &[usize]) -> Vec<Scenario> {
    let dir = std::env::temp_dir().join(format!("postato-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("the bench directory is created");
    let mut runs = Vec::new();
    for &n in sizes {
        runs.push(batch(cli, &dir, n).await);
    }
    let records = sqlite_records(&dir.join("records.db"), STORE_RECORDS).await;
    let client_posts = sizes.iter().copied().max().unwrap_or(0).min(CLIENT_POSTS);
    let client = client_process_rate(&simulator(SimConfig::default()).await, client_posts, "campaign-client").await;
    let _ = std::fs::remove_dir_all(&dir);
    let largest = runs.last().cloned().expect("at least one campaign ran");
    let figures = Figures::Campaign(Campaign {
        parameters: CampaignParameters { concurrency: CONCURRENCY, store_records: STORE_RECORDS },
        ours: runs,
        baseline: Baseline {
            description: "SQLite store alone".into(),
            figures: StoreRate { records_per_second: records },
        },
    });
    let targets = vec![
        Target::new(Metric::PeakRssMib, Bound::AtMost(MAX_PEAK_RSS_MIB)),
        Target::new(Metric::RssBytesPerPost, Bound::AtMost(MAX_RSS_BYTES_PER_POST)),
    ];
    let throughput = Figures::Overhead(Overhead {
        parameters: OverheadParameters {
            posts: largest.posts,
            concurrency: CONCURRENCY,
            rounds: 1,
            content_bytes: None,
            latency_ms: None,
        },
        ours: Rate { publishes_per_second: largest.posts_per_second },
        baseline: Baseline {
            description: format!(
                "the Rust Client alone in its own process, {CONCURRENCY} tasks, {client_posts} posts, same run"
            ),
            figures: Rate { publishes_per_second: client },
        },
    });
    vec![
        Scenario::new("4", "Campaign memory", figures, targets),
        Scenario::new(
            "4b",
            "Campaign throughput: `postato batch`, SQLite store",
            throughput,
            vec![Target::new(Metric::Ratio, Bound::AtLeast(MIN_BATCH_TO_CLIENT))],
        ),
    ]
}
