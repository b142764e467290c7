//! Scenarios 8a to 8c, limits where the API puts them (per account, per window), each beside
//! the cookbook's reference loop on the same posts:
//! (a) 10 accounts, one of them spent (`429 Retry-After: 3000`): the nine healthy accounts'
//! posts against their own ideal time (the same posts alone, same run), and what the spent
//! account costs in requests; (b) 200 accounts limited to 1 request/s each under a workspace
//! limit of 100/s, bare 429s only; (c) a campaign across a per-account quota window (20 posts
//! per 10 s), every post published through a Publisher that defers and publishes once due.

use postato::{MemoryStore, Post, PostStatus, PublishError, Publisher};
use postato_sim::{QuotaConfig, RateLimitConfig, SimConfig};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::results::{Baseline, Bound, Figures, Metric, Scenario, Scoped, ScopedParameters, ScopedRun, Target};
use crate::workload::{client, run, simulator, Endpoint};

fn account_post(prefix: &str, i: usize, account: usize) -> Post {
    let account = format!("acc_{account}");
    Post::new(format!("{prefix}-{i}"), "x", &account, PostStatus::Publish, "post", format!("benchmark post {i}"))
}

fn account_body(i: usize, account: usize) -> String {
    format!(
        r#"{{"platform":"x","accountId":"acc_{account}","status":"publish","postType":"post","content":"benchmark post {i}"}}"#
    )
}

/// The cookbook's loop over posts `0..n` (post `i` through `account(i)`), for at most `limit`:
/// its wall time (or the limit) and the posts it published within it.
async fn reference(
    sim: &postato_sim::SimulatorHandle,
    n: usize,
    concurrency: usize,
    account: fn(usize) -> usize,
    counted: fn(usize) -> bool,
    limit: Duration,
) -> (f64, usize) {
    let endpoint = Endpoint::new(sim, reqwest::Client::new());
    let published = Arc::new(Mutex::new(0usize));
    let done = Arc::clone(&published);
    let loop_ = run(n, concurrency, move |i| {
        let (e, done) = (endpoint.clone(), Arc::clone(&done));
        async move {
            let key = postato::idempotency_key(&format!("ref-{i}"));
            let outcome =
                crate::reference::publish(&e.http, &e.url, &e.api_key, &key, &account_body(i, account(i))).await;
            if matches!(outcome, crate::reference::Outcome::Published) && counted(i) {
                *done.lock().unwrap() += 1;
            }
        }
    });
    let seconds = match tokio::time::timeout(limit, loop_).await {
        Ok(took) => took.as_secs_f64(),
        Err(_) => limit.as_secs_f64(),
    };
    let published = *published.lock().unwrap();
    (seconds, published)
}

fn share_429(sim: &postato_sim::SimulatorHandle) -> f64 {
    let s = sim.stats();
    s.rate_limited as f64 / s.requests.max(1) as f64
}

/// (a) One spent account among ten.
pub async fn spent_account(quick: bool) -> Scenario {
    const ACCOUNTS: usize = 10;
    const CONCURRENCY: usize = 16;
    let n = if quick { 200 } else { 500 };
    let account = |i: usize| i % ACCOUNTS;
    // acc_0 is the spent one.
    let healthy = |i: usize| !i.is_multiple_of(ACCOUNTS);
    // A workspace limit of 200/s, advertised, makes the healthy posts' time the limit's.
    let workspace = Some(RateLimitConfig { rate_per_second: 200.0, burst: 20 });
    let config = |spent: bool| SimConfig {
        rate_limit: workspace,
        spent_accounts: if spent { [("x/acc_0".to_owned(), 3_000)].into_iter().collect() } else { Default::default() },
        ..SimConfig::default()
    };
    eprintln!("  8a: the healthy accounts alone, then every account, then the reference loop");
    // Their own ideal: the healthy posts alone.
    let sim = simulator(config(false)).await;
    let c = client(&sim);
    let healthy_posts: Vec<usize> = (0..n).filter(|i| healthy(*i)).collect();
    let posts = Arc::new(healthy_posts.clone());
    let ideal = run(healthy_posts.len(), CONCURRENCY, move |j| {
        let (c, i) = (c.clone(), posts[j]);
        async move {
            c.publish(&account_post("alone", i, account(i))).await.expect("a healthy post publishes");
        }
    })
    .await
    .as_secs_f64();

    // Ours: every post through a Publisher; the time until the last healthy post is published.
    let sim = simulator(config(true)).await;
    let publisher = Publisher::new(client(&sim), MemoryStore::new());
    let started = Instant::now();
    let healthy_done = Arc::new(Mutex::new(Duration::ZERO));
    let spent_requests = Arc::new(Mutex::new(0u32));
    let deferred = Arc::new(Mutex::new(0usize));
    let (done, requests, kept) = (Arc::clone(&healthy_done), Arc::clone(&spent_requests), Arc::clone(&deferred));
    run(n, CONCURRENCY, move |i| {
        let (publisher, done, requests, kept) = (publisher.clone(), done.clone(), requests.clone(), kept.clone());
        async move {
            match publisher.publish(&account_post("ours", i, account(i))).await {
                Ok(_) if healthy(i) => {
                    let mut done = done.lock().unwrap();
                    *done = (*done).max(started.elapsed());
                }
                Err(PublishError::Deferred { attempts, .. }) => {
                    *requests.lock().unwrap() += attempts;
                    *kept.lock().unwrap() += 1;
                }
                other => panic!("post {i}: {other:?}"),
            }
        }
    })
    .await;
    let ours = ScopedRun {
        seconds: healthy_done.lock().unwrap().as_secs_f64(),
        share_429: share_429(&sim),
        published: healthy_posts.len(),
        deferred: *deferred.lock().unwrap(),
        requests_per_hold: Some(f64::from(*spent_requests.lock().unwrap())),
    };

    let sim = simulator(config(true)).await;
    let limit = Duration::from_secs_f64((ideal * 20.0).max(30.0));
    let (seconds, published) = reference(&sim, n, CONCURRENCY, account, healthy, limit).await;
    let baseline = ScopedRun { seconds, share_429: share_429(&sim), published, deferred: 0, requests_per_hold: None };
    scenario(
        "8a",
        "One spent account among ten",
        ScopedParameters {
            posts: n,
            accounts: ACCOUNTS,
            concurrency: CONCURRENCY,
            limits: "workspace 200/s (RateLimit-* headers); acc_0 answers 429 Retry-After: 3000".into(),
            ideal_seconds: ideal,
            ideal: "the nine healthy accounts' posts alone, same run".into(),
        },
        ours,
        baseline,
        vec![
            Target::new(Metric::IdealMultiple, Bound::AtMost(1.05)),
            Target::new(Metric::RequestsPerHold, Bound::AtMost(1.0)),
        ],
    )
}

/// (b) 200 accounts at 1 request/s each, under a workspace limit of 100/s, bare 429s.
pub async fn many_limited_accounts(quick: bool) -> Scenario {
    const ACCOUNTS: usize = 200;
    const CONCURRENCY: usize = 64;
    let n = if quick { 400 } else { 1_000 };
    let account = |i: usize| i % ACCOUNTS;
    let config = SimConfig {
        rate_limit: Some(RateLimitConfig { rate_per_second: 100.0, burst: 10 }),
        account_rate_limit: Some(RateLimitConfig { rate_per_second: 1.0, burst: 1 }),
        rate_limit_headers: false,
        ..SimConfig::default()
    };
    eprintln!("  8b: 200 limited accounts, then the reference loop");
    // The binding limit: the workspace's N/100 s, or each account's posts at 1/s.
    let ideal = (n as f64 / 100.0).max((n / ACCOUNTS) as f64 - 1.0);
    let sim = simulator(config.clone()).await;
    let (seconds, deferred) = publish_and_wait(&sim, n, CONCURRENCY, account).await;
    let ours = ScopedRun { seconds, share_429: share_429(&sim), published: n, deferred, requests_per_hold: None };
    let sim = simulator(config).await;
    let (seconds, published) = reference(&sim, n, CONCURRENCY, account, |_| true, Duration::from_secs(600)).await;
    let baseline = ScopedRun { seconds, share_429: share_429(&sim), published, deferred: 0, requests_per_hold: None };
    scenario(
        "8b",
        "200 accounts limited to 1/s each",
        ScopedParameters {
            posts: n,
            accounts: ACCOUNTS,
            concurrency: CONCURRENCY,
            limits: "1 request/s per account, 100/s per workspace (burst 10), 429 + Retry-After only".into(),
            ideal_seconds: ideal,
            ideal: "N / 100 s".into(),
        },
        ours,
        baseline,
        vec![
            Target::new(Metric::IdealMultiple, Bound::AtMost(1.2)),
            Target::new(Metric::Share429, Bound::AtMost(0.05)),
        ],
    )
}

/// (c) A campaign across a quota window: 20 posts per account per 10 s.
pub async fn quota_window(quick: bool) -> Scenario {
    const ACCOUNTS: usize = 2;
    const PER_WINDOW: usize = 20;
    const WINDOW: Duration = Duration::from_secs(10);
    const CONCURRENCY: usize = 16;
    let per_account = if quick { 60 } else { 300 };
    let n = per_account * ACCOUNTS;
    let account = |i: usize| i % ACCOUNTS;
    let config = SimConfig {
        account_quota: Some(QuotaConfig { limit: PER_WINDOW as u32, window: WINDOW }),
        ..SimConfig::default()
    };
    eprintln!("  8c: a quota window, then the reference loop");
    // The last window's posts can go no sooner than its start.
    let ideal = ((per_account / PER_WINDOW) as f64 - 1.0) * WINDOW.as_secs_f64();
    let sim = simulator(config.clone()).await;
    let (seconds, deferred) = publish_and_wait(&sim, n, CONCURRENCY, account).await;
    let ours = ScopedRun { seconds, share_429: share_429(&sim), published: n, deferred, requests_per_hold: None };
    let sim = simulator(config).await;
    let limit = Duration::from_secs_f64(ideal * 3.0 + 30.0);
    let (seconds, published) = reference(&sim, n, CONCURRENCY, account, |_| true, limit).await;
    let baseline = ScopedRun { seconds, share_429: share_429(&sim), published, deferred: 0, requests_per_hold: None };
    scenario(
        "8c",
        "A campaign across a quota window",
        ScopedParameters {
            posts: n,
            accounts: ACCOUNTS,
            concurrency: CONCURRENCY,
            limits: format!("{PER_WINDOW} posts per account per {} s, RateLimit-* headers", WINDOW.as_secs()),
            ideal_seconds: ideal,
            ideal: "the start of the last window".into(),
        },
        ours,
        baseline,
        vec![Target::new(Metric::IdealMultiple, Bound::AtMost(1.05))],
    )
}

/// As `postato batch --wait` does: every post once through a Publisher, then the deferred ones
/// once due, until all are published; the wall time and the posts its first pass deferred.
async fn publish_and_wait(
    sim: &postato_sim::SimulatorHandle,
    n: usize,
    concurrency: usize,
    account: fn(usize) -> usize,
) -> (f64, usize) {
    let started = Instant::now();
    let publisher = Publisher::new(client(sim), MemoryStore::new());
    let deferred = Arc::new(Mutex::new(0usize));
    let (p, kept) = (publisher.clone(), Arc::clone(&deferred));
    run(n, concurrency, move |i| {
        let (p, kept) = (p.clone(), kept.clone());
        async move {
            match p.publish(&account_post("ours", i, account(i))).await {
                Ok(_) => {}
                Err(PublishError::Deferred { .. }) => *kept.lock().unwrap() += 1,
                Err(other) => panic!("post {i}: {other:?}"),
            }
        }
    })
    .await;
    let cancel = postato::CancellationToken::new();
    loop {
        let counts = publisher.store().counts().await.expect("the store counts");
        let Some(next) = counts.next_due_ms else { break };
        let left = postato::Timestamp::from_millis(next).saturating_since(publisher.client().now());
        tokio::time::sleep(left).await;
        publisher.publish_due(concurrency, &cancel).await.expect("the due posts publish");
    }
    let counts = publisher.store().counts().await.expect("the store counts");
    assert_eq!((counts.published as usize, counts.dead_letters), (n, 0), "every post published, none dead-lettered");
    let deferred = *deferred.lock().unwrap();
    (started.elapsed().as_secs_f64(), deferred)
}

fn scenario(
    id: &str,
    name: &str,
    parameters: ScopedParameters,
    ours: ScopedRun,
    figures: ScopedRun,
    targets: Vec<Target>,
) -> Scenario {
    let baseline = Baseline { description: "reference loop".into(), figures };
    Scenario::new(id, name, Figures::Scoped(Scoped { parameters, ours, baseline }), targets)
}
