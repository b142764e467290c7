//! Scenario 8d, the learned rate against a limiter that is not ours: `postato_sim::governed`'s
//! server, whose limit is governor's (GCRA, the Rust ecosystem's well-known limiter), 100
//! requests/s with a burst of 10, answering `429` with `Retry-After: 1` and nothing else (no
//! `RateLimit-*` headers, no scope).

use postato_sim::governed::GovernedServer;

use crate::results::{Baseline, Bound, Figures, Goodput, GoodputParameters, GoodputRun, Metric, Scenario, Target};
use crate::workload::{body, post, run};

const RATE: u32 = 100;
const BURST: u32 = 10;
const CONCURRENCY: usize = 64;
const API_KEY: &str = "sk_test_governor";

/// 500 posts (200 when quick) at concurrency 64 through our client, then through the
/// cookbook's loop, each against a fresh governor-limited server.
pub async fn governor_limited(quick: bool) -> Scenario {
    let n = if quick { 200 } else { 500 };
    eprintln!("  8d: a limiter that is not ours (governor), then the reference loop");
    let server = GovernedServer::start(RATE, BURST).await.expect("a loopback port");
    let client = postato::Client::builder()
        .api_key(API_KEY)
        .workspace_id("ws_bench")
        .base_url(server.base_url())
        .build()
        .expect("the client builds");
    let ours = run(n, CONCURRENCY, move |i| {
        let client = client.clone();
        async move {
            client.publish(&post("governed", i)).await.expect("the publish succeeds");
        }
    })
    .await;
    let ours = GoodputRun { seconds: ours.as_secs_f64(), share_429: server.counts().share_429() };

    let server = GovernedServer::start(RATE, BURST).await.expect("a loopback port");
    let (http, url) = (reqwest::Client::new(), format!("{}/v1/workspaces/ws_bench/posts", server.base_url()));
    let reference = run(n, CONCURRENCY, move |i| {
        let (http, url) = (http.clone(), url.clone());
        async move {
            let key = postato::idempotency_key(&format!("ref-{i}"));
            let _ = crate::reference::publish(&http, &url, API_KEY, &key, &body(i)).await;
        }
    })
    .await;
    let reference = GoodputRun { seconds: reference.as_secs_f64(), share_429: server.counts().share_429() };

    let figures = Figures::Goodput(Goodput {
        parameters: GoodputParameters {
            posts: n,
            concurrency: CONCURRENCY,
            rate_per_second: f64::from(RATE),
            burst: BURST,
            rate_limit_headers: false,
            limiter: Some(format!("a server with governor's GCRA (burst {BURST})")),
        },
        ours,
        baseline: Baseline { description: "reference loop".into(), figures: reference },
    });
    let targets = vec![
        Target::new(Metric::IdealMultiple, Bound::AtMost(1.3)),
        Target::new(Metric::Share429, Bound::AtMost(0.05)),
    ];
    Scenario::new("8d", "Goodput against governor's limiter, bare 429s", figures, targets)
}
