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
    let sim = simulator(SimConfig::default()).await;
    let load = Load { posts, concurrency: CONCURRENCY, content_bytes: None, rounds: ROUNDS };
    let figures = Figures::Overhead(compare(&sim, &load).await);
    Scenario::new("1", "Overhead", figures, vec![Target::new(Metric::Ratio, Bound::AtLeast(MIN_RATIO))])
}

/// Scenario 7, how the cost grows: the same comparison at concurrency 1, 8, 64 and 512, then
/// with bodies of 100 B, 10 KiB and 1 MiB (fewer posts for the larger bodies); best of 3 rounds.
pub async fn scaling(posts: usize) -> Vec<Scenario> {
    let sim = simulator(SimConfig::default()).await;
    let mut scenarios = Vec::new();
    for concurrency in [1, 8, 64, 512] {
        let load = Load {
            posts: if concurrency == 1 { posts / 4 } else { posts },
            concurrency,
            content_bytes: None,
            rounds: 3,
        };
        let figures = Figures::Overhead(compare(&sim, &load).await);
        scenarios.push(Scenario::new("7", format!("Scaling: concurrency {concurrency}"), figures, vec![]));
    }
    for (bytes, shown, posts) in
        [(100, "100 B", posts), (10 * 1024, "10 KiB", posts / 2), (1_000_000, "1 MiB", posts / 50)]
    {
        let load = Load { posts, concurrency: CONCURRENCY, content_bytes: Some(bytes), rounds: 3 };
        let figures = Figures::Overhead(compare(&sim, &load).await);
        scenarios.push(Scenario::new("7", format!("Scaling: {shown} bodies"), figures, vec![]));
    }
    scenarios
}

#[derive(Clone, Copy)]
struct Load {
    posts: usize,
    concurrency: usize,
    content_bytes: Option<usize>,
    rounds: usize,
}

/// Our client against a plain reqwest POST loop on `load`, best of its rounds each: after an
/// untimed warm-up of each (connections opened, allocators grown), in rounds that alternate
/// which side goes first, so neither always runs on a runtime the other left idle or busy.
async fn compare(sim: &postato_sim::SimulatorHandle, load: &Load) -> Overhead {
    let http = reqwest::Client::builder().tcp_nodelay(true).build().expect("reqwest builds");
    let endpoint = Endpoint::new(sim, http);
    let ours = client(sim);
    let (mut best_plain, mut best_ours) = (0f64, 0f64);
    let tag = format!("c{}-b{}", load.concurrency, load.content_bytes.unwrap_or(0));
    let warm = Load { posts: (load.posts / 10).max(load.concurrency), ..*load };
    plain_loop(&endpoint, &warm, format!("plain-{tag}-warm")).await;
    our_loop(&ours, &warm, format!("ours-{tag}-warm")).await;
    for round in 0..load.rounds {
        for plain_side in [round % 2 == 0, round % 2 == 1] {
            if plain_side {
                let took = plain_loop(&endpoint, load, format!("plain-{tag}-{round}")).await;
                best_plain = best_plain.max(load.posts as f64 / took.as_secs_f64());
            } else {
                let took = our_loop(&ours, load, format!("ours-{tag}-{round}")).await;
                best_ours = best_ours.max(load.posts as f64 / took.as_secs_f64());
            }
        }
    }
    let posts = load.posts;
    Overhead {
        parameters: OverheadParameters {
            posts,
            concurrency: load.concurrency,
            rounds: load.rounds,
            content_bytes: load.content_bytes,
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
