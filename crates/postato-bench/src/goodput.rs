//! Scenarios 2 and 2b, goodput under a rate limit: wall time and 429 share of our client
//! against the reference loop, with the limit advertised in `RateLimit-*` headers (2) or
//! enforced by bare 429s with `Retry-After` only (2b).

use postato_sim::{RateLimitConfig, SimConfig};

use crate::results::{Baseline, Bound, Figures, Goodput, GoodputParameters, GoodputRun, Metric, Scenario, Target};
use crate::workload::{client, post, run, simulator, Endpoint};

const CONCURRENCY: usize = 64;

/// One goodput scenario: its size, the simulator's limit and the targets.
pub struct Setup {
    pub id: &'static str,
    pub name: &'static str,
    pub posts: usize,
    pub rate_per_second: f64,
    /// Advertise the limit with `RateLimit-*` headers, or answer bare 429s.
    pub headers: bool,
    /// Wall time at most this multiple of the ideal (N/R)…
    pub max_ideal_multiple: f64,
    /// …with at most this share (0 to 1) of requests answered 429.
    pub max_share_429: f64,
}

pub const ADVERTISED: Setup = Setup {
    id: "2",
    name: "Goodput",
    posts: 2_000,
    rate_per_second: 400.0,
    headers: true,
    max_ideal_multiple: 1.05,
    max_share_429: 0.01,
};

pub const BARE: Setup = Setup {
    id: "2b",
    name: "Goodput, bare 429s",
    posts: 500,
    rate_per_second: 100.0,
    headers: false,
    max_ideal_multiple: 1.3,
    max_share_429: 0.05,
};

/// Our client, then the reference, each against a fresh simulator limited to the setup's rate
/// (its bucket holds a tenth of a second's worth).
pub async fn goodput(setup: &Setup) -> Scenario {
    let (n, rate) = (setup.posts, setup.rate_per_second);
    let burst = (rate / 10.0) as u32;
    let limited = SimConfig {
        rate_limit: Some(RateLimitConfig { rate_per_second: rate, burst }),
        rate_limit_headers: setup.headers,
        ..SimConfig::default()
    };

    let sim = simulator(limited.clone()).await;
    let c = client(&sim);
    let ours = run(n, CONCURRENCY, move |i| {
        let c = c.clone();
        async move {
            c.publish(&post("goodput", i)).await.expect("the publish succeeds");
        }
    })
    .await;
    let s = sim.stats();
    let ours = GoodputRun { seconds: ours.as_secs_f64(), share_429: s.rate_limited as f64 / s.requests as f64 };

    let sim = simulator(limited).await;
    let endpoint = Endpoint::new(&sim, reqwest::Client::new());
    let reference = run(n, CONCURRENCY, move |i| {
        let e = endpoint.clone();
        async move {
            let _ = e.reference("ref", i).await;
        }
    })
    .await;
    let r = sim.stats();
    let reference =
        GoodputRun { seconds: reference.as_secs_f64(), share_429: r.rate_limited as f64 / r.requests as f64 };

    let figures = Figures::Goodput(Goodput {
        parameters: GoodputParameters {
            posts: n,
            concurrency: CONCURRENCY,
            rate_per_second: rate,
            burst,
            rate_limit_headers: setup.headers,
            limiter: None,
        },
        ours,
        baseline: Baseline { description: "reference loop".into(), figures: reference },
    });
    let targets = vec![
        Target::new(Metric::IdealMultiple, Bound::AtMost(setup.max_ideal_multiple)),
        Target::new(Metric::Share429, Bound::AtMost(setup.max_share_429)),
    ];
    Scenario::new(setup.id, setup.name, figures, targets)
}
