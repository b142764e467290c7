//! Scenario 3, outage: every request is answered 503 for a while; requests per post, posts
//! lost and the time to drain the backlog, for our client and for the reference.

use postato::Client;
use postato_sim::SimConfig;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::reference;
use crate::results::{Baseline, Bound, Figures, Metric, Outage, OutageParameters, OutageRun, Scenario, Target};
use crate::workload::{client, post, run, simulator, Endpoint};

/// At most this many requests per post, on average (the reference makes up to its attempts).
const MAX_REQUESTS_PER_POST: f64 = 2.5;

/// What one side counts while its posts run.
struct Tally {
    started: Instant,
    lost: AtomicUsize,
    /// When the last post was published, from the start.
    last: Mutex<Option<Duration>>,
}

impl Tally {
    fn published(&self) {
        let mut last = self.last.lock().expect("not poisoned");
        *last = Some(last.unwrap_or_default().max(self.started.elapsed()));
    }
}

/// The side being measured: our client, or the reference through the plain endpoint.
#[derive(Clone)]
enum Side {
    Ours(Client),
    Reference(Endpoint),
}

impl Side {
    async fn publish(&self, i: usize) -> bool {
        match self {
            Side::Ours(c) => c.publish(&post("outage", i)).await.is_ok(),
            Side::Reference(e) => matches!(e.reference("outage-ref", i).await, reference::Outcome::Published),
        }
    }
}

/// `n` posts at once, every request answered 503 for `window` from the start.
async fn measure(ours: bool, n: usize, window: Duration) -> OutageRun {
    let sim = simulator(SimConfig::default()).await;
    sim.outage(Duration::ZERO, window);
    let side =
        if ours { Side::Ours(client(&sim)) } else { Side::Reference(Endpoint::new(&sim, reqwest::Client::new())) };
    let tally = Arc::new(Tally { started: Instant::now(), lost: AtomicUsize::new(0), last: Mutex::new(None) });
    let t = Arc::clone(&tally);
    run(n, n, move |i| {
        let (side, tally) = (side.clone(), Arc::clone(&t));
        async move {
            if side.publish(i).await {
                tally.published();
            } else {
                tally.lost.fetch_add(1, Ordering::Relaxed);
            }
        }
    })
    .await;
    let stats = sim.stats();
    let last = *tally.last.lock().expect("not poisoned");
    OutageRun {
        requests_per_post: stats.requests as f64 / n as f64,
        answered_503_per_post: Some(stats.by_status.get(&503).copied().unwrap_or(0) as f64 / n as f64),
        lost: tally.lost.load(Ordering::Relaxed),
        drain_seconds: last.map(|last| last.saturating_sub(window).as_secs_f64()),
    }
}

pub async fn outage(posts: usize, window: Duration) -> Scenario {
    let ours = measure(true, posts, window).await;
    let reference = measure(false, posts, window).await;
    let figures = Figures::Outage(Outage {
        parameters: OutageParameters {
            posts,
            concurrency: posts,
            outage_seconds: window.as_secs_f64(),
            reference_max_attempts: reference::MAX_ATTEMPTS,
        },
        ours,
        baseline: Baseline { description: "reference".into(), figures: reference },
    });
    let targets = vec![
        Target::new(Metric::Lost, Bound::AtMost(0.0)),
        Target::new(Metric::RequestsPerPost, Bound::Below(MAX_REQUESTS_PER_POST)),
    ];
    Scenario::new("3", "Outage", figures, targets)
}
