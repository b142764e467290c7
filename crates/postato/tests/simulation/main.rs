//! A deterministic simulation of the client's shared machinery (FoundationDB/TigerBeetle
//! style): each seed runs many concurrent publishes through the real `Client` and
//! `Publisher`s — the rate-limit gate, the retry budget, the policy, the machine, cancellation
//! by token and by dropping, claims, intents, a store that fails, loses answers and stalls,
//! a process that dies and its successor — on tokio's paused clock against a seeded,
//! fault-injecting server, then checks the invariants in `invariants.rs`.
//!
//! ```sh
//! cargo test -p postato --test simulation -- --nocapture                 # 10,000 seeds
//! scripts/soak.sh [SEEDS] [FIRST_SEED]                  # 1,000,000 seeds in release mode
//! POSTATO_SIM_SEED=1234 cargo test -p postato --test simulation \
//!     simulation_of_the_shared_machinery_keeps_every_invariant -- --exact --nocapture      # replay one
//! ```
//!
//! Every seed that ever failed is listed in `seeds_that_failed.txt` and runs with every test
//! run: when a soak finds one, fix it and add it there.

mod dice;
mod invariants;
mod outbox;
mod run;
mod server;
mod store;
mod transport;

use std::time::{Duration, Instant};

use run::{Plan, PlannedPublish};
use server::{Faults, Limiter};

fn env_number(name: &str) -> Option<u64> {
    let value = std::env::var(name).ok()?;
    Some(value.trim().parse().unwrap_or_else(|_| panic!("{name}={value:?} is not a whole number")))
}

/// The seeds from `$first` (default 0), `$count` of them (default `default_count`).
fn seed_range(first: &str, count: &str, default_count: u64) -> Vec<u64> {
    let (from, n) = (env_number(first).unwrap_or(0), env_number(count).unwrap_or(default_count));
    let end = from.checked_add(n).unwrap_or_else(|| panic!("{first}={from} and {count}={n} go past the last seed"));
    (from..end).collect()
}

#[test]
fn simulation_of_the_shared_machinery_keeps_every_invariant() {
    let seeds: Vec<u64> = match env_number("POSTATO_SIM_SEED") {
        Some(seed) => vec![seed],
        None => seed_range("POSTATO_SIM_FIRST_SEED", "POSTATO_SIM_SEEDS", 10_000),
    };
    // POSTATO_SIM_ONE_ACCOUNT=1 replays a seed as drawn before accounts were (the seeds list's).
    let plan: fn(u64) -> Plan = match std::env::var_os("POSTATO_SIM_ONE_ACCOUNT") {
        Some(_) => |seed| Plan::draw(seed).with_one_account(),
        None => Plan::draw,
    };
    let run = run_seeds(&seeds, plan, "");
    println!(
        "simulation: {} seeds, {} violations ({:.1} s); {} resumes past the key retention ended outcome_unknown",
        seeds.len(),
        run.violations(),
        run.took.as_secs_f64(),
        run.unknown
    );
    assert!(run.failing.is_empty(), "seeds with violations (add them to {SEEDS_THAT_FAILED}): {:?}", run.seeds());
    if seeds.len() >= 1_000 {
        assert!(run.unknown > 0, "no seed reached a resume past the key retention: the simulation lost that path");
    }
}

/// The outbox drained by two workers, one of which dies and has a successor: every row is
/// published or dead-lettered, none twice (`POSTATO_SIM_OUTBOX_SEEDS`, default 2,000, from
/// `POSTATO_SIM_OUTBOX_FIRST_SEED`, default 0; `POSTATO_SIM_OUTBOX_SEED` replays one).
#[test]
fn simulation_of_the_outbox_publishes_every_row_once_through_crashed_workers() {
    let seeds: Vec<u64> = match env_number("POSTATO_SIM_OUTBOX_SEED") {
        Some(seed) => vec![seed],
        None => seed_range("POSTATO_SIM_OUTBOX_FIRST_SEED", "POSTATO_SIM_OUTBOX_SEEDS", 2_000),
    };
    let started = Instant::now();
    let results: Vec<(u64, Vec<String>, bool)> = on_every_core(&seeds, |seed| {
        let (violations, crashed) = outbox::run(seed);
        (seed, violations, crashed)
    });
    let crashed = results.iter().filter(|(_, _, crashed)| *crashed).count();
    let mut failing: Vec<&(u64, Vec<String>, bool)> = results.iter().filter(|(_, v, _)| !v.is_empty()).collect();
    failing.sort_by_key(|(seed, _, _)| *seed);
    for (seed, violations, _) in failing.iter().take(10) {
        eprintln!("outbox seed {seed}: {}", violations.join("; "));
        eprintln!(
            "  replay: POSTATO_SIM_OUTBOX_SEED={seed} cargo test -p postato --test simulation \
             simulation_of_the_outbox_publishes_every_row_once_through_crashed_workers -- --exact --nocapture"
        );
    }
    println!(
        "simulation of the outbox: {} seeds ({crashed} with a worker killed), {} violations ({:.1} s)",
        seeds.len(),
        failing.iter().map(|(_, v, _)| v.len()).sum::<usize>(),
        started.elapsed().as_secs_f64()
    );
    assert!(failing.is_empty(), "outbox seeds with violations: {:?}", failing.iter().map(|f| f.0).collect::<Vec<_>>());
    if seeds.len() >= 100 {
        assert!(crashed > 0, "no seed killed a worker: the simulation lost that path");
    }
}

/// Every seed that ever failed, kept: a fix that comes undone fails here first.
const SEEDS_THAT_FAILED: &str = "crates/postato/tests/simulation/seeds_that_failed.txt";

#[test]
fn simulation_of_the_shared_machinery_keeps_every_invariant_on_the_seeds_that_once_failed() {
    let list = include_str!("seeds_that_failed.txt");
    let seeds: Vec<u64> = list
        .lines()
        .map(|line| line.split('#').next().unwrap_or_default().trim())
        .filter(|line| !line.is_empty())
        .map(|seed| seed.parse().unwrap_or_else(|_| panic!("{SEEDS_THAT_FAILED}: {seed:?} is not a seed")))
        .collect();
    assert!(!seeds.is_empty(), "{SEEDS_THAT_FAILED} lists no seed");
    // Each as it was drawn when it failed (through one account), and as seeds draw now.
    let run = run_seeds(&seeds, |seed| Plan::draw(seed).with_one_account(), "POSTATO_SIM_ONE_ACCOUNT=1 ");
    assert!(run.failing.is_empty(), "seeds that once failed fail again: {:?}", run.seeds());
    let run = run_seeds(&seeds, Plan::draw, "");
    println!("simulation: {} seeds that once failed, {} violations", seeds.len(), run.violations());
    assert!(run.failing.is_empty(), "seeds that once failed fail again: {:?}", run.seeds());
}

/// What a run of many seeds found.
struct SeedsRun {
    /// The seeds with violations, and what each broke.
    failing: Vec<(u64, Vec<String>)>,
    /// Publishes resumed past the key retention that ended `outcome_unknown`.
    unknown: usize,
    took: Duration,
}

impl SeedsRun {
    fn violations(&self) -> usize {
        self.failing.iter().map(|(_, v)| v.len()).sum()
    }

    fn seeds(&self) -> Vec<u64> {
        self.failing.iter().map(|(seed, _)| *seed).collect()
    }
}

/// `run` for each seed, the seeds spread over the cores (each on one thread).
fn on_every_core<T: Send>(seeds: &[u64], run: impl Fn(u64) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let run = &run;
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let mine: Vec<u64> = seeds.iter().copied().skip(t).step_by(threads).collect();
                scope.spawn(move || mine.into_iter().map(run).collect::<Vec<T>>())
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("a simulation thread panicked")).collect()
    })
}

/// Runs the plans of `seeds`, spread over the cores (each seed on one thread), and prints the first few
/// failing ones with what they broke and how to replay them.
fn run_seeds(seeds: &[u64], plan: fn(u64) -> Plan, replay_with: &str) -> SeedsRun {
    let started = Instant::now();
    let unknown = std::sync::atomic::AtomicUsize::new(0);
    let mut failing: Vec<(u64, Vec<String>)> = on_every_core(seeds, |seed| {
        let started = Instant::now();
        if std::env::var_os("POSTATO_SIM_TRACE").is_some() {
            eprintln!("seed {seed} starting");
        }
        let report = run::run(seed, plan(seed));
        let reached = report
            .outcomes
            .iter()
            .filter(|o| matches!(&o.restarted, Some(Err(e)) if e.kind() == postato::ErrorKind::OutcomeUnknown))
            .count();
        unknown.fetch_add(reached, std::sync::atomic::Ordering::Relaxed);
        let violations = invariants::check(&report);
        if started.elapsed() > Duration::from_secs(5) {
            eprintln!("seed {seed} took {:.1} s of real time", started.elapsed().as_secs_f64());
        }
        (seed, violations)
    });
    failing.retain(|(_, violations)| !violations.is_empty());
    failing.sort();
    for (seed, list) in failing.iter().take(10) {
        eprintln!("seed {seed}: {} violation(s):", list.len());
        for violation in list.iter().take(5) {
            eprintln!("  {violation}");
        }
        eprintln!(
            "  replay: {replay_with}POSTATO_SIM_SEED={seed} cargo test -p postato --test simulation \
             simulation_of_the_shared_machinery_keeps_every_invariant -- --exact --nocapture"
        );
    }
    SeedsRun { failing, unknown: unknown.load(std::sync::atomic::Ordering::Relaxed), took: started.elapsed() }
}

#[test]
fn a_seed_replays_exactly() {
    for seed in [7, 4242, 90_001] {
        let trace = |seed| {
            let report = run::run(seed, Plan::draw(seed));
            report.arrivals.iter().map(|a| (a.seq, a.at - report.started, a.key.clone(), a.status)).collect::<Vec<_>>()
        };
        assert_eq!(trace(seed), trace(seed), "seed {seed} ran two different ways");
    }
}

/// `count` publishes at once against a server that fails only as `faults` and `limiter` say.
fn plan_of(count: usize, faults: Faults, limiter: Option<Limiter>) -> Plan {
    let mut plan = Plan::draw(0).with_one_account();
    plan.policy = postato::RetryPolicy::default();
    plan.budget = postato::RetryBudgetConfig::default();
    plan.faults = faults;
    plan.limiter = limiter;
    plan.via_publisher = false;
    plan.crash = None;
    plan.publishes = (0..count)
        .map(|i| PlannedPublish {
            business_key: format!("campaign-{i}"),
            // All at once: harder on the gate than a batch's 64 at a time.
            start: Duration::ZERO,
            cancel: None,
            shared_key: false,
            process: 0,
            account: 0,
        })
        .collect();
    plan
}

#[test]
fn the_gate_learns_a_bare_429_limiter() {
    // 100 requests/s with a burst of 10, `Retry-After: 1`, no RateLimit-* headers: the
    // ideal is N/R = 5 s.
    let faults = Faults { max_latency_ms: 3, max_stall_ms: 1, ..Faults::default() };
    let report =
        run::run(1, plan_of(500, faults, Some(Limiter { rate_per_second: 100.0, burst: 10.0, names_scope: false })));
    assert!(invariants::check(&report).is_empty(), "{:?}", invariants::check(&report));
    let published = report.outcomes.iter().filter(|o| matches!(o.result, Some(Ok(_)))).count();
    let last = report.outcomes.iter().filter_map(|o| o.ended).max().unwrap();
    let took = last.duration_since(report.started).as_secs_f64();
    let share = report.rate_limited_requests as f64 / report.arrivals.len() as f64;
    println!(
        "bare 429 limiter: {published} of 500 published in {took:.2} s (ideal 5 s: {:.2}x), {} of {} requests 429 ({:.1} %)",
        took / 5.0,
        report.rate_limited_requests,
        report.arrivals.len(),
        share * 100.0
    );
    if std::env::var_os("POSTATO_SIM_TIMELINE").is_some() {
        for arrival in &report.arrivals {
            println!("{:>6} ms {:?}", (arrival.at - report.started).as_millis(), arrival.status);
        }
    }
    assert_eq!(published, 500);
    assert!(took <= 5.0 * 1.3, "{took:.2} s");
    assert!(share <= 0.05, "{:.1} % of requests were 429", share * 100.0);
}

/// Prints the plan a seed draws: `POSTATO_SIM_SEED=N cargo test … print_the_plan -- --ignored`.
#[test]
#[ignore]
fn print_the_plan_of_a_seed() {
    let seed = env_number("POSTATO_SIM_SEED").unwrap();
    eprintln!("{:#?}", Plan::draw(seed));
}

#[test]
fn the_retry_budget_bounds_load_during_an_outage_and_everything_publishes_after() {
    let faults = Faults { max_latency_ms: 3, max_stall_ms: 1, outage: Duration::from_secs(1), ..Faults::default() };
    let mut plan = plan_of(200, faults, None);
    plan.policy = postato::RetryPolicy::default()
        .with_backoff_base(Duration::from_millis(20))
        .with_backoff_cap(Duration::from_millis(200))
        .with_jitter(postato::Jitter::Full)
        .with_max_attempts(20);
    plan.budget = postato::RetryBudgetConfig::default().with_capacity(20.0).with_refill_per_second(10.0);
    let report = run::run(2, plan);
    assert!(invariants::check(&report).is_empty(), "{:?}", invariants::check(&report));
    assert!(report.outcomes.iter().all(|o| matches!(o.result, Some(Ok(_)))), "every post publishes after the outage");
    // During the outage: one first attempt per post, plus the budget (20 tokens, 10/s for
    // about 1 s). Without the budget each post would retry every 20-200 ms (about 8 times).
    let failed = report.unavailable_requests;
    println!("outage: {failed} requests failed for 200 posts, {} requests in all", report.arrivals.len());
    assert!(failed <= 200 + 45, "{failed} requests failed during the outage for 200 posts");
    // Afterwards each post needs exactly one more request.
    assert!(report.arrivals.len() <= failed + 200, "{} requests", report.arrivals.len());
}

/// Runs `count` posts against a server that answers a share `noise` of requests 429 with
/// `Retry-After: 1`, at random; returns how long the last one took and how many were 429s.
fn under_random_429s(count: usize, noise: f64) -> (f64, usize) {
    let faults = Faults {
        rate_limited: noise,
        rate_limited_retry_after: Some(1),
        max_latency_ms: 3,
        max_stall_ms: 1,
        ..Faults::default()
    };
    let report = run::run(3, plan_of(count, faults, None));
    assert!(invariants::check(&report).is_empty(), "{:?}", invariants::check(&report));
    assert!(report.outcomes.iter().all(|o| matches!(o.result, Some(Ok(_)))));
    let last = report.outcomes.iter().filter_map(|o| o.ended).max().unwrap();
    (last.duration_since(report.started).as_secs_f64(), report.rate_limited_requests)
}

#[test]
fn random_429s_are_noise_not_a_rate_to_learn() {
    // A server that sheds a few requests at random is no rate limit: each 429 holds the gate
    // for its second, but the client must not start pacing itself down to a trickle. At most
    // one second per 429 (holds overlap), never a pace that keeps falling.
    for noise in [0.01, 0.05] {
        let (took, throttled) = under_random_429s(300, noise);
        println!("{:.0} % random 429s: 300 posts in {took:.1} s, {throttled} 429s", noise * 100.0);
        assert!(took <= throttled as f64 + 2.0, "{took:.1} s for {throttled} 429s");
    }
}

#[test]
fn publishes_queued_behind_a_slow_first_request_are_not_rate_limited() {
    // No rate-limit waits allowed and a short max_retry_after, against a healthy but slow
    // server: waiting for the probe's answer is neither a hold nor pacing.
    let faults = Faults { max_latency_ms: 1_500, max_stall_ms: 1, ..Faults::default() };
    let mut plan = plan_of(32, faults, None);
    plan.policy.max_rate_limit_waits = 0;
    plan.policy.max_retry_after = Duration::from_secs(1);
    let report = run::run(4, plan);
    assert!(invariants::check(&report).is_empty(), "{:?}", invariants::check(&report));
    for outcome in &report.outcomes {
        assert!(matches!(outcome.result, Some(Ok(_))), "{:?}", outcome.result);
    }
}
