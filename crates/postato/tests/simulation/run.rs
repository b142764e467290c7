//! One run of the simulation: a seed draws the client's settings, the server's faults and a
//! schedule of publishes and cancellations; the run drives them through the real `Client`
//! (or `Publishers` in one or two processes over one shared store that fails, stalls and loses
//! answers, one process crashing and restarting) on tokio's paused clock, and records what
//! happened.

use postato::store::Begin;
use postato::{CancellationToken, PublishError, Published, RetryBudgetConfig, RetryPolicy, WhenBudgetEmpty};
use postato::{Client, ErrorKind, Event, Jitter, MemoryStore, Post, PostStatus, Publisher, ResultStore};
use postato_core::Timestamp;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

use crate::dice::Dice;
use crate::server::{Arrival, Faults, Limiter, Server, Spent};
use crate::store::{SimStore, StoreFaults};
use crate::transport::SimTransport;

/// No run may take longer than this (virtual time): a publish still running then has hung.
pub const RUN_LIMIT: Duration = Duration::from_secs(6 * 3600);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelHow {
    Token,
    Drop,
}

#[derive(Clone, Debug)]
pub struct PlannedPublish {
    pub business_key: String,
    pub start: Duration,
    pub cancel: Option<(CancelHow, Duration)>,
    /// Another publish uses the same business key at the same time.
    pub shared_key: bool,
    /// Which process publishes it (Publisher runs).
    pub process: usize,
    /// Which account it is published through (`acc_N`).
    pub account: u32,
}

/// Process 0 dies (as by SIGKILL) at `at`; a new process 0 starts `restart_after` later on
/// the same store and publishes again what the dead one had not finished.
#[derive(Clone, Copy, Debug)]
pub struct Crash {
    pub at: Duration,
    pub restart_after: Duration,
}

#[derive(Clone, Debug)]
pub struct Plan {
    pub policy: RetryPolicy,
    pub budget: RetryBudgetConfig,
    pub faults: Faults,
    pub limiter: Option<Limiter>,
    pub via_publisher: bool,
    pub store_faults: StoreFaults,
    pub crash: Option<Crash>,
    /// The Publishers' idempotency-key retention.
    pub key_retention: Duration,
    pub publishes: Vec<PlannedPublish>,
    /// How many accounts the posts go through, and whether one of them has spent its quota.
    pub accounts: u32,
    pub spent: Option<SpentAccount>,
}

/// An account whose quota is spent: every request for it answers 429 until `until` (from the
/// start), with a Retry-After to that time; half the time the 429 body names the account.
#[derive(Clone, Copy, Debug)]
pub struct SpentAccount {
    pub account: u32,
    pub until: Duration,
    pub names_scope: bool,
}

impl Plan {
    /// Everything a seed decides.
    pub fn draw(seed: u64) -> Plan {
        let mut dice = Dice::new(seed);
        let backoff_base = Duration::from_millis(dice.between(10, 1_000));
        let policy = RetryPolicy::default()
            .with_max_attempts(dice.between(1, 6) as u32)
            .with_backoff_base(backoff_base)
            .with_backoff_cap(backoff_base * dice.between(1, 30) as u32)
            .with_jitter(if dice.chance(0.5) {
                Jitter::Full
            } else {
                Jitter::Additive { max: Duration::from_millis(dice.below(500)) }
            })
            .with_max_rate_limit_waits(if dice.chance(0.7) { 20 } else { dice.below(21) as u32 })
            .with_max_retry_after(Duration::from_secs(if dice.chance(0.7) { 60 } else { dice.between(1, 60) }))
            .with_default_retry_after(Duration::from_secs(1))
            .with_timeout(Duration::from_millis(dice.between(200, 30_000)))
            .with_deadline(dice.chance(0.4).then(|| Duration::from_millis(dice.between(1_000, 120_000))));
        let budget = if dice.chance(0.6) {
            RetryBudgetConfig::default()
        } else {
            RetryBudgetConfig::default()
                .with_capacity(dice.between(1, 20) as f64)
                .with_refill_per_second(dice.below(6) as f64)
                .with_when_empty(if dice.chance(0.5) { WhenBudgetEmpty::Wait } else { WhenBudgetEmpty::Fail })
        };
        let limiter = dice.chance(0.2).then(|| Limiter {
            rate_per_second: dice.between(5, 200) as f64,
            burst: dice.between(1, 10) as f64,
            names_scope: false,
        });
        let faults = Faults {
            server_error: dice.rate(0.3),
            rate_limited: dice.rate(0.1),
            reset: dice.rate(0.1),
            hang: dice.rate(0.05),
            drop_after_commit: dice.rate(0.1),
            slow_commit: dice.rate(0.1),
            ratelimit_headers: dice.rate(0.1),
            max_latency_ms: dice.below(50),
            max_stall_ms: dice.between(1, 40_000),
            outage: Duration::from_millis(if dice.chance(0.1) { dice.below(20_000) } else { 0 }),
            rate_limited_retry_after: dice.chance(0.3).then_some(1),
        };
        let count = dice.between(2, if limiter.is_some() { 40 } else { 20 }) as usize;
        let mut publishes: Vec<PlannedPublish> = Vec::with_capacity(count);
        for i in 0..count {
            let start = Duration::from_millis(dice.below(2_000));
            if i > 0 && dice.chance(0.1) {
                let twin = dice.below(i as u64) as usize;
                if publishes[twin].cancel.is_none() {
                    publishes[twin].shared_key = true;
                    let business_key = publishes[twin].business_key.clone();
                    let (process, account) = (publishes[twin].process, publishes[twin].account);
                    publishes.push(PlannedPublish {
                        business_key,
                        start,
                        cancel: None,
                        shared_key: true,
                        process,
                        account,
                    });
                    continue;
                }
            }
            let cancel = dice.chance(0.15).then(|| {
                let how = if dice.chance(0.5) { CancelHow::Token } else { CancelHow::Drop };
                (how, Duration::from_millis(dice.below(5_000)))
            });
            let process = dice.below(2) as usize;
            publishes.push(PlannedPublish {
                business_key: format!("sim-{i}"),
                start,
                cancel,
                shared_key: false,
                process,
                account: 0,
            });
        }
        let via_publisher = dice.chance(0.4);
        let store_faults = if dice.chance(0.5) {
            StoreFaults {
                fail: dice.rate(0.1),
                lost_answer: dice.rate(0.05),
                stall: dice.rate(0.2),
                max_stall_ms: dice.between(1, 30_000),
            }
        } else {
            StoreFaults::default()
        };
        // The retention outlasts any one publish (as the server's 24 h do); a restart comes
        // within it or well after it.
        let key_retention = Duration::from_secs(3 * 3600);
        let crash = dice.chance(0.4).then(|| Crash {
            at: Duration::from_millis(dice.below(20_000)),
            restart_after: if dice.chance(0.5) { Duration::from_secs(70) } else { Duration::from_secs(4 * 3600) },
        });
        let mut plan = Plan {
            policy,
            budget,
            faults,
            limiter,
            via_publisher,
            store_faults,
            crash,
            key_retention,
            publishes,
            accounts: 1,
            spent: None,
        };
        plan.draw_accounts(seed);
        plan
    }

    /// Half the seeds spread their posts over 2 to 4 accounts, and half of those spend one
    /// account's quota for a while. Drawn from dice of their own, so that the rest of a plan
    /// is what it was before accounts were drawn (see [`Plan::with_one_account`]).
    fn draw_accounts(&mut self, seed: u64) {
        let mut dice = Dice::new(seed ^ 0xacc0_acc0_acc0);
        if !dice.chance(0.5) {
            return;
        }
        self.accounts = dice.between(2, 4) as u32;
        let mut accounts = Vec::with_capacity(self.publishes.len());
        for (i, planned) in self.publishes.iter().enumerate() {
            // A business key shared by two publishes is one post: one account.
            let twin = self.publishes[..i].iter().position(|p| p.business_key == planned.business_key);
            accounts.push(match twin {
                Some(twin) => accounts[twin],
                None => dice.below(u64::from(self.accounts)) as u32,
            });
        }
        for (planned, account) in self.publishes.iter_mut().zip(accounts) {
            planned.account = account;
        }
        if let Some(limiter) = &mut self.limiter {
            limiter.names_scope = dice.chance(0.5);
        }
        self.spent = dice.chance(0.5).then(|| SpentAccount {
            account: dice.below(u64::from(self.accounts)) as u32,
            until: Duration::from_secs([5, 30, 3_000][dice.below(3) as usize]),
            names_scope: dice.chance(0.5),
        });
    }

    /// The plan as seeds were drawn before accounts were: every post through one account.
    pub fn with_one_account(mut self) -> Plan {
        self.accounts = 1;
        self.spent = None;
        if let Some(limiter) = &mut self.limiter {
            limiter.names_scope = false;
        }
        for planned in &mut self.publishes {
            planned.account = 0;
        }
        self
    }
}

/// What happened to one planned publish.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    pub started: Option<Instant>,
    pub ended: Option<Instant>,
    pub result: Option<Result<Published, PublishError>>,
    /// The server's request counter when the publish was cancelled or dropped.
    pub cancelled_after_seq: Option<u64>,
    /// Its process died before it ended.
    pub crashed: bool,
    /// The publish again by the restarted process.
    pub restarted: Option<Result<Published, PublishError>>,
    /// The publish succeeded but its record could not be written.
    pub store_error: bool,
    /// Its key was still claimed a moment after it ended (or was dropped).
    pub claim_left: bool,
}

/// Everything a run leaves for the invariants.
pub struct Report {
    pub plan: Plan,
    pub outcomes: Vec<Outcome>,
    pub arrivals: Vec<Arrival>,
    pub server_publishes: Vec<(String, u32)>,
    pub server_ids: Vec<(String, Option<String>)>,
    /// What the store says of each planned publish (Publisher runs only).
    pub store_ids: Vec<StoreView>,
    /// Each request as the client sent it: when (client time), and for which account.
    pub sends: Vec<(Timestamp, String)>,
    /// Every event of every publish, with its business key and time (client time).
    pub events: Vec<(Timestamp, String, Event)>,
    /// When each event happened on the server's clock (same order as `events`).
    pub event_instants: Vec<Instant>,
    /// Every hold end a gate had: the workspace's (`None`) and each account's.
    pub holds: BTreeSet<(Option<String>, Timestamp)>,
    pub rate_limited_requests: usize,
    pub unavailable_requests: usize,
    pub started: Instant,
    /// Keys whose store writes failed or lost their answer.
    pub troubled_keys: BTreeSet<String>,
    /// Keys a release of which stalled past the Publisher's wait for it (left to the background).
    pub slow_releases: BTreeSet<String>,
    /// Keys still claimed once every publish ended (and a tick passed).
    pub claims_left: Vec<String>,
    /// Rounds of due posts that ran (see [`DUE_ROUNDS`]).
    pub due_rounds: u32,
    /// The last request's sequence number when the rerun and the rounds of due posts began:
    /// requests numbered after it are theirs.
    pub due_from_seq: u64,
}

/// What a result store holds for one business key.
pub struct StoreView {
    pub business_key: String,
    pub published: Option<String>,
    pub dead: bool,
    /// The kind of its dead letter.
    pub dead_kind: Option<String>,
    /// Still deferred once every round of due posts ran.
    pub deferred: bool,
}

/// Rounds of due posts a run gives its deferred posts before they count as stuck: each round
/// publishes at least the probe of every held scope, so a run's posts (at most a few dozen)
/// are all published long before.
pub const DUE_ROUNDS: u32 = 1000;

#[derive(Default)]
struct Recorder {
    sends: Vec<(Timestamp, String)>,
    events: Vec<(Timestamp, String, Event)>,
    event_instants: Vec<Instant>,
    holds: BTreeSet<(Option<String>, Timestamp)>,
}

/// Runs `plan` on a fresh single-threaded runtime with a paused clock.
pub fn run(seed: u64, plan: Plan) -> Report {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    runtime.block_on(run_plan(seed, plan))
}

/// The plan's publishes against the simulated server, recording what the invariants check.
async fn run_plan(seed: u64, plan: Plan) -> Report {
    let started = Instant::now();
    let seq = Arc::new(AtomicU64::new(0));
    let spent = plan.spent.map(|spent| Spent {
        account: account_name(spent.account),
        until: spent.until,
        names_scope: spent.names_scope,
    });
    let server = Arc::new(Mutex::new(Server::new(seed, plan.faults.clone(), plan.limiter, spent, Arc::clone(&seq))));
    let recorder = Arc::new(Mutex::new(Recorder::default()));
    // The hook reads the client it belongs to through this cell, emptied at the end of the run:
    // a client holding itself would never be freed, nor the recorder its hook holds.
    let cell: Arc<Mutex<Option<Client<SimTransport>>>> = Arc::new(Mutex::new(None));
    let (hook_cell, hook_recorder) = (Arc::clone(&cell), Arc::clone(&recorder));
    let account_of: std::collections::BTreeMap<String, u32> =
        plan.publishes.iter().map(|p| (p.business_key.clone(), p.account)).collect();
    let client = Client::builder()
        .api_key("sk_test_simulation")
        .workspace_id("ws_1")
        .base_url("http://127.0.0.1:9")
        .policy(plan.policy.clone())
        .retry_budget(plan.budget)
        .seed(seed)
        .fast_forward_waits(false)
        .on_event(move |key, event| {
            let Some(client) = hook_cell.lock().unwrap().clone() else { return };
            let snapshot = client.limits_snapshot();
            let account = account_name(account_of.get(key).copied().unwrap_or(0));
            let scope = client.scope_snapshot(&postato::Scope::new(PLATFORM, &account));
            let mut recorder = hook_recorder.lock().unwrap();
            recorder.holds.insert((None, snapshot.gate.hold_until));
            if let Some(scope) = scope {
                recorder.holds.insert((Some(account.clone()), scope.hold_until));
            }
            if matches!(event, Event::AttemptStarted { .. }) {
                recorder.sends.push((snapshot.taken_at, account));
            }
            recorder.events.push((snapshot.taken_at, key.to_owned(), event.clone()));
            recorder.event_instants.push(Instant::now());
        })
        .build_with_transport(SimTransport { server: Arc::clone(&server) })
        .expect("a drawn policy is valid");
    *cell.lock().unwrap() = Some(client.clone());
    let store = Arc::new(MemoryStore::new());
    let troubled = Arc::new(Mutex::new(BTreeSet::new()));
    let slow_releases = Arc::new(Mutex::new(BTreeSet::new()));
    let process_store = |process: u64| {
        let faults = if plan.via_publisher { plan.store_faults } else { StoreFaults::default() };
        Arc::new(SimStore::new(
            Arc::clone(&store),
            faults,
            seed.wrapping_mul(31).wrapping_add(process),
            Arc::clone(&troubled),
            Arc::clone(&slow_releases),
        ))
    };
    let stores = [process_store(0), process_store(1)];
    let publishers: Vec<Option<Publisher<SimTransport>>> = stores
        .iter()
        .map(|s| {
            plan.via_publisher.then(|| {
                Publisher::with_shared_store(client.clone(), Arc::clone(s) as Arc<dyn ResultStore>)
                    .key_retention(plan.key_retention)
            })
        })
        .collect();

    let outcomes = Arc::new(Mutex::new(vec![Outcome::default(); plan.publishes.len()]));
    let mut handles = Vec::new();
    let mut aborts = Vec::new();
    for (i, planned) in plan.publishes.iter().enumerate() {
        let post = post_of(planned);
        let token = CancellationToken::new();
        let (client, publisher, results, cancel) =
            (client.clone(), publishers[planned.process].clone(), Arc::clone(&outcomes), token.clone());
        // Whether its claim is gone right after it ends: a key no other publish shares.
        // A publish cancelled by its token may leave its release to its guard (spawned, and the
        // store may stall it): its claim is looked at once that stall has passed; any other is
        // looked at the moment its publish returns.
        let settle = match planned.cancel {
            Some(_) => Duration::from_millis(plan.store_faults.max_stall_ms + 2),
            None => Duration::ZERO,
        };
        let probe_store = (plan.via_publisher && !planned.shared_key).then(|| (Arc::clone(&store), settle));
        let start = planned.start;
        let handle = tokio::spawn(async move {
            tokio::time::sleep(start).await;
            results.lock().unwrap()[i].started = Some(Instant::now());
            let result = match &publisher {
                Some(publisher) => publisher.publish_with(&post).cancel_on(&cancel).await.map(|report| {
                    results.lock().unwrap()[i].store_error = report.store_error.is_some();
                    report.published
                }),
                None => client.publish_with(&post).cancel_on(&cancel).await,
            };
            {
                let mut results = results.lock().unwrap();
                results[i].ended = Some(Instant::now());
                results[i].result = Some(result);
            }
            if let Some((store, settle)) = probe_store {
                if !settle.is_zero() {
                    tokio::time::sleep(settle).await;
                }
                results.lock().unwrap()[i].claim_left = still_claimed(&store, &post.business_key).await;
            }
        });
        aborts.push((planned.process, handle.abort_handle()));
        if let Some((how, after)) = planned.cancel {
            let (abort, outcomes, seq) = (handle.abort_handle(), Arc::clone(&outcomes), Arc::clone(&seq));
            let probe = (plan.via_publisher && !planned.shared_key)
                .then(|| (Arc::clone(&store), planned.business_key.clone(), plan.store_faults.max_stall_ms));
            tokio::spawn(async move {
                tokio::time::sleep(start + after).await;
                let dropped_unfinished = {
                    let mut outcomes = outcomes.lock().unwrap();
                    outcomes[i].cancelled_after_seq = Some(seq.load(Ordering::SeqCst));
                    outcomes[i].result.is_none()
                };
                match how {
                    CancelHow::Token => token.cancel(),
                    CancelHow::Drop => abort.abort(),
                }
                // A dropped publish's claim is released by its guard, through the store (which
                // may stall): gone once that release has had its time.
                if let (CancelHow::Drop, true, Some((store, key, stall))) = (how, dropped_unfinished, probe) {
                    tokio::time::sleep(Duration::from_millis(stall + 2)).await;
                    let crashed = outcomes.lock().unwrap()[i].crashed;
                    if !crashed {
                        outcomes.lock().unwrap()[i].claim_left = still_claimed(&store, &key).await;
                    }
                }
            });
        }
        handles.push(handle);
    }
    // Process 0 dies: its store calls never return, its publishes stop where they are.
    let crash = plan.crash.filter(|_| plan.via_publisher);
    let crashed_at = match crash {
        Some(crash) => {
            tokio::time::sleep(crash.at).await;
            stores[0].crashed.store(true, Ordering::SeqCst);
            let mut outcomes = outcomes.lock().unwrap();
            for (i, (process, abort)) in aborts.iter().enumerate() {
                if *process == 0 && outcomes[i].result.is_none() {
                    outcomes[i].crashed = true;
                    abort.abort();
                }
            }
            Some(Instant::now())
        }
        None => None,
    };
    let limit = started + RUN_LIMIT;
    for handle in handles {
        let _ = tokio::time::timeout_at(limit, handle).await;
    }
    // The successor of the dead process publishes again what it had not finished.
    if let (Some(crash), Some(crashed_at)) = (crash, crashed_at) {
        tokio::time::sleep_until(crashed_at + crash.restart_after).await;
        let restarted_at = Instant::now();
        let successor = Publisher::with_shared_store(client.clone(), process_store(2) as Arc<dyn ResultStore>)
            .key_retention(plan.key_retention);
        let again: Vec<usize> = (0..plan.publishes.len()).filter(|&i| outcomes.lock().unwrap()[i].crashed).collect();
        let mut restarts = Vec::new();
        for i in again {
            let (successor, post, results) = (successor.clone(), post_of(&plan.publishes[i]), Arc::clone(&outcomes));
            restarts.push(tokio::spawn(async move {
                let result = successor.publish(&post).await.map(|report| report.published);
                results.lock().unwrap()[i].restarted = Some(result);
            }));
        }
        for restart in restarts {
            let _ = tokio::time::timeout_at(restarted_at + RUN_LIMIT, restart).await;
        }
    }
    // The campaign runs again at once (as `postato batch` run twice would): a deferred post is
    // answered from the store, with nothing sent before its time.
    let due_from_seq = seq.load(Ordering::SeqCst);
    if plan.via_publisher {
        let rerun = Publisher::with_shared_store(client.clone(), process_store(4) as Arc<dyn ResultStore>)
            .key_retention(plan.key_retention);
        let deferred: Vec<usize> = (0..plan.publishes.len())
            .filter(|&i| matches!(outcomes.lock().unwrap()[i].result, Some(Err(PublishError::Deferred { .. }))))
            .collect();
        for i in deferred {
            let _ = tokio::time::timeout(RUN_LIMIT, rerun.publish(&post_of(&plan.publishes[i]))).await;
        }
    }
    // Virtual hours pass: the deferred posts are published once due, by a Publisher started
    // for it (as a service's timer would), round after round until none is left.
    let mut due_rounds = 0;
    if plan.via_publisher {
        let due = Publisher::with_shared_store(client.clone(), process_store(3) as Arc<dyn ResultStore>)
            .key_retention(plan.key_retention);
        while due_rounds < DUE_ROUNDS {
            let Ok(counts) = store.counts().await else { break };
            let Some(next_due) = counts.next_due_ms else { break };
            let now = client.limits_snapshot().taken_at.as_millis();
            tokio::time::sleep(Duration::from_millis(next_due.saturating_sub(now))).await;
            due_rounds += 1;
            let done = tokio::time::timeout(RUN_LIMIT, due.publish_due(8, &CancellationToken::new())).await;
            if std::env::var_os("POSTATO_SIM_TRACE").is_some() {
                eprintln!("due round {due_rounds}: {counts:?} -> {done:?}");
            }
        }
    }
    // Let requests still being processed (slow commits, hangs) reach the server's truth, and
    // releases spawned by dropped publishes land.
    tokio::time::sleep(Duration::from_millis(plan.faults.max_stall_ms + plan.faults.max_latency_ms + 10)).await;
    tokio::time::sleep(Duration::from_millis(plan.store_faults.max_stall_ms + 10)).await;

    let mut store_ids = Vec::new();
    let mut claims_left = Vec::new();
    if plan.via_publisher {
        let letters = store.dead_letters(None, 10_000).await.unwrap_or_default();
        let deferrals = store.deferrals(None, 10_000).await.unwrap_or_default();
        for planned in &plan.publishes {
            let record = store.published(&planned.business_key).await.unwrap_or(None);
            let dead = letters.iter().find(|l| l.business_key == planned.business_key);
            store_ids.push(StoreView {
                business_key: planned.business_key.clone(),
                published: record.map(|r| r.post_id),
                dead: dead.is_some(),
                dead_kind: dead.map(|l| l.kind.clone()),
                deferred: deferrals.iter().any(|d| d.business_key == planned.business_key),
            });
            if let Ok(Begin::HeldByOther { .. }) =
                store.begin(&planned.business_key, "probe", Duration::from_millis(1)).await
            {
                claims_left.push(planned.business_key.clone());
            }
            let _ = store.release(&planned.business_key, "probe").await;
        }
    }
    let troubled_keys = troubled.lock().unwrap().clone();
    let slow_releases = slow_releases.lock().unwrap().clone();
    let server = server.lock().unwrap();
    let keys: BTreeSet<String> = plan.publishes.iter().map(|p| postato::idempotency_key(&p.business_key)).collect();
    *cell.lock().unwrap() = None;
    let mut recorder = recorder.lock().unwrap();
    let outcomes = outcomes.lock().unwrap().clone();
    Report {
        outcomes,
        arrivals: server.arrivals.clone(),
        server_publishes: server.publishes.iter().map(|(k, n)| (k.clone(), *n)).collect(),
        server_ids: keys.iter().map(|k| (k.clone(), server.published_id(k).map(str::to_owned))).collect(),
        store_ids,
        sends: std::mem::take(&mut recorder.sends),
        events: std::mem::take(&mut recorder.events),
        event_instants: std::mem::take(&mut recorder.event_instants),
        holds: std::mem::take(&mut recorder.holds),
        rate_limited_requests: server.rate_limited_requests(),
        unavailable_requests: server.requests_answered(503),
        plan,
        started,
        troubled_keys,
        slow_releases,
        claims_left,
        due_rounds,
        due_from_seq,
    }
}

/// Whether another publish could not claim `key` now (a probe claim, let go at once).
async fn still_claimed(store: &MemoryStore, key: &str) -> bool {
    let held = matches!(store.begin(key, "probe", Duration::from_millis(1)).await, Ok(Begin::HeldByOther { .. }));
    let _ = store.release(key, "probe").await;
    held
}

/// The platform of every simulated post.
pub const PLATFORM: &str = "x";

/// The account id of account `n`.
pub fn account_name(n: u32) -> String {
    format!("acc_{n}")
}

fn post_of(planned: &PlannedPublish) -> Post {
    let account = account_name(planned.account);
    Post::new(&planned.business_key, PLATFORM, &account, PostStatus::Publish, "post", "hello from the simulation")
}

/// Whether a publish may end with an error of this kind against this server: it never
/// rejects a post, never garbles a body and never sees a key reused with other content.
pub fn is_expected(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Transient
            | ErrorKind::RateLimited
            | ErrorKind::Deadline
            | ErrorKind::Cancelled
            | ErrorKind::Deferred
    )
}
