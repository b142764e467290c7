//! Scenarios 1 and 7, overhead and scaling: publishes/s of our client against a plain reqwest
//! POST loop in the same run, with no faults.

use postato_sim::SimConfig;

use crate::results::{Baseline, Bound, Figures, Metric, Overhead, OverheadParameters, Rate, Scenario, Target};
use crate::workload::{client, run, simulator, sized_body, sized_post, Endpoint};

const CONCURRENCY: usize = 64;
const ROUNDS: usize = 3;
/// Our throughput must be at least this share of the plain loop's.
const MIN_RATIO: f64 = 0.95;

pub async fn overhead(posts: usize) -> Scenario {
    let load = Load { posts, concurrency: CONCURRENCY, content_bytes: None, rounds: ROUNDS };
    let figures = Figures::Overhead(compare(&load).await);
    Scenario::new("1", "Overhead", figures, vec![Target::new(Metric::Ratio, Bound::AtLeast(MIN_RATIO))])
}

/// Scenario 7, how the cost grows: the same comparison at concurrency 1, 8, 64 and 512, then
/// with bodies of 100 B, 10 KiB and 1 MiB (fewer posts for the larger bodies); best of 3 rounds.
/// The targets are issue #31's: concurrency 1 and the larger bodies at 0.9 of the plain loop,
/// 64 and 512 at 0.95.
pub async fn scaling(posts: usize) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    for (concurrency, least) in [(1, Some(0.9)), (8, None), (64, Some(MIN_RATIO)), (512, Some(MIN_RATIO))] {
        let posts = if concurrency == 1 { posts / 4 } else { posts };
        let load = Load { posts, concurrency, content_bytes: None, rounds: ROUNDS };
        let figures = Figures::Overhead(compare(&load).await);
        let name = format!("Scaling: concurrency {concurrency}");
        scenarios.push(Scenario::new("7", name, figures, at_least(least)));
    }
    for (bytes, shown, posts, least) in [
        (100, "100 B", posts, None),
        (10 * 1024, "10 KiB", posts / 2, Some(0.9)),
        (1_000_000, "1 MiB", posts / 50, Some(0.9)),
    ] {
        let load = Load { posts, concurrency: CONCURRENCY, content_bytes: Some(bytes), rounds: ROUNDS };
        let figures = Figures::Overhead(compare(&load).await);
        scenarios.push(Scenario::new("7", format!("Scaling: {shown} bodies"), figures, at_least(least)));
    }
    scenarios
}

fn at_least(ratio: Option<f64>) -> Vec<Target> {
    ratio.map(|r| Target::new(Metric::Ratio, Bound::AtLeast(r))).into_iter().collect()
}

enum Side {
    Plain,
    Ours,
}

#[derive(Clone, Copy)]
struct Load {
    posts: usize,
    concurrency: usize,
    content_bytes: Option<usize>,
    rounds: usize,
}

/// Our client against a plain reqwest POST loop on `load`, on a simulator of its own (one that
/// kept every earlier row's posts would answer both sides slower), best of its rounds each:
/// after an untimed warm-up of each (connections opened, allocators grown), in rounds that
/// alternate which side goes first, so neither always runs on a runtime the other left idle or
/// busy. Every post is new to the simulator: none is answered as a replay.
async fn compare(load: &Load) -> Overhead {
    let sim = simulator(SimConfig::default()).await;
    let http = reqwest::Client::builder().tcp_nodelay(true).build().expect("reqwest builds");
    let endpoint = Endpoint::new(&sim, http);
    let ours = client(&sim);
    let (mut best_plain, mut best_ours) = (0f64, 0f64);
    let tag = format!("c{}-b{}", load.concurrency, load.content_bytes.unwrap_or(0));
    let warm = Load { posts: (load.posts / 10).max(load.concurrency), ..*load };
    plain_loop(&endpoint, &warm, format!("plain-{tag}-warm")).await;
    our_loop(&ours, &warm, format!("ours-{tag}-warm")).await;
    for round in 0..load.rounds {
        let order = if round % 2 == 0 { [Side::Plain, Side::Ours] } else { [Side::Ours, Side::Plain] };
        for side in order {
            match side {
                Side::Plain => {
                    let took = plain_loop(&endpoint, load, format!("plain-{tag}-{round}")).await;
                    best_plain = best_plain.max(load.posts as f64 / took.as_secs_f64());
                }
                Side::Ours => {
                    let took = our_loop(&ours, load, format!("ours-{tag}-{round}")).await;
                    best_ours = best_ours.max(load.posts as f64 / took.as_secs_f64());
                }
            }
        }
    }
    let stats = sim.stats();
    assert_eq!((stats.replays, stats.key_reused_conflicts), (0, 0), "every post of a comparison is new");
    let posts = load.posts;
    Overhead {
        parameters: OverheadParameters {
            posts,
            concurrency: load.concurrency,
            rounds: load.rounds,
            content_bytes: load.content_bytes,
            latency_ms: None,
        },
        ours: Rate { publishes_per_second: best_ours },
        baseline: Baseline {
            description: "plain reqwest POST loop".into(),
            figures: Rate { publishes_per_second: best_plain },
        },
    }
}

/// The plain loop: each post one reqwest POST with the headers our client sends.
async fn plain_loop(endpoint: &Endpoint, load: &Load, prefix: String) -> std::time::Duration {
    let (e, size) = (endpoint.clone(), load.content_bytes);
    run(load.posts, load.concurrency, move |i| {
        let (e, key) = (e.clone(), postato::idempotency_key(&format!("{prefix}-{i}")));
        async move {
            let response = e
                .http
                .post(&e.url)
                .header("Authorization", format!("Bearer {}", e.api_key))
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", key)
                .header("User-Agent", "postato-bench")
                .body(sized_body(i, size))
                .send()
                .await
                .expect("the plain request succeeds");
            assert_eq!(response.status(), 202);
            response.bytes().await.expect("the body reads");
        }
    })
    .await
}

/// Our client's loop: each post one `Client::publish`.
async fn our_loop(client: &postato::Client, load: &Load, prefix: String) -> std::time::Duration {
    let (c, size) = (client.clone(), load.content_bytes);
    run(load.posts, load.concurrency, move |i| {
        let (c, post) = (c.clone(), sized_post(&prefix, i, size));
        async move {
            c.publish(&post).await.expect("the publish succeeds");
        }
    })
    .await
}
