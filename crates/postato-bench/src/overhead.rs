//! Scenario 1, overhead: publishes/s of our client against a plain reqwest POST loop, with no
//! faults, best of a few rounds each.

use postato_sim::SimConfig;

use crate::results::{Baseline, Bound, Figures, Metric, Overhead, OverheadParameters, Rate, Scenario, Target};
use crate::workload::{client, post, run, simulator, Endpoint};

const CONCURRENCY: usize = 64;
const ROUNDS: usize = 3;
/// Our throughput must be at least this share of the plain loop's.
const MIN_RATIO: f64 = 0.95;

pub async fn overhead(posts: usize) -> Scenario {
    let sim = simulator(SimConfig::default()).await;
    let http = reqwest::Client::builder().tcp_nodelay(true).build().expect("reqwest builds");
    let endpoint = Endpoint::new(&sim, http);
    let ours = client(&sim);
    let (mut best_plain, mut best_ours) = (0f64, 0f64);
    for round in 0..ROUNDS {
        let e = endpoint.clone();
        let plain = run(posts, CONCURRENCY, move |i| {
            let e = e.clone();
            async move {
                let response = e
                    .http
                    .post(&e.url)
                    .header("Authorization", format!("Bearer {}", e.api_key))
                    .header("Content-Type", "application/json")
                    .header("Idempotency-Key", postato::idempotency_key(&format!("plain-{round}-{i}")))
                    .header("User-Agent", "postato-bench")
                    .body(crate::workload::body(i))
                    .send()
                    .await
                    .expect("the plain request succeeds");
                assert_eq!(response.status(), 202);
                response.bytes().await.expect("the body reads");
            }
        })
        .await;
        let c = ours.clone();
        let with_client = run(posts, CONCURRENCY, move |i| {
            let c = c.clone();
            async move {
                c.publish(&post(&format!("ours-{round}"), i)).await.expect("the publish succeeds");
            }
        })
        .await;
        best_plain = best_plain.max(posts as f64 / plain.as_secs_f64());
        best_ours = best_ours.max(posts as f64 / with_client.as_secs_f64());
    }
    let figures = Figures::Overhead(Overhead {
        parameters: OverheadParameters { posts, concurrency: CONCURRENCY, rounds: ROUNDS },
        ours: Rate { publishes_per_second: best_ours },
        baseline: Baseline {
            description: "plain reqwest POST loop".into(),
            figures: Rate { publishes_per_second: best_plain },
        },
    });
    Scenario::new("1", "Overhead", figures, vec![Target::new(Metric::Ratio, Bound::AtLeast(MIN_RATIO))])
}
