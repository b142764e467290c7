//! The outbox under the simulation: a seed's posts are enqueued into an outbox table kept by
//! PostgreSQL's rules (`postato_postgres::outbox`: a due row is taken by one worker with a
//! lease, renewed while its publish runs; only the worker holding a row, at that delivery, marks
//! it or puts it back), and two worker processes drain it as `postato worker` does, through the
//! real Publisher and the outbox's rule (`Publisher::publish_row`), against the seeded server and
//! a store that fails, stalls and loses answers. A worker dies (as by SIGKILL) at a drawn moment:
//! between a claim and its send, a send and its record, a record and its mark; a successor
//! starts later. Once every worker has run out of rows, every row must be published or
//! dead-lettered, none published twice, and each published row on the server and in the store.

use postato::store::Begin;
use postato::{Client, MemoryStore, Post, PostStatus, Publisher, PutBack, ResultStore, RowStep};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::dice::Dice;
use crate::run::{account_name, is_expected, Plan, PLATFORM, RUN_LIMIT};
use crate::server::{Server, Spent};
use crate::store::SimStore;
use crate::transport::SimTransport;

/// A worker's lease on a row, as `postato worker`'s default.
const LEASE: Duration = Duration::from_secs(60);
/// Rows a worker takes at once.
const CONCURRENCY: usize = 4;
/// How long an idle worker waits before it looks again (no NOTIFY in the simulation).
const POLL: Duration = Duration::from_secs(2);
/// A worker with nothing due for this long stops; the next round starts one when a row is due.
const IDLE: Duration = Duration::from_secs(600);
/// Rounds of workers started for rows due later (deferred by a rate limit, or tried again).
const ROUNDS: u32 = 100;

#[derive(Clone, Debug, PartialEq, Eq)]
enum State {
    Pending,
    Published,
    DeadLettered(String),
}

#[derive(Clone, Debug)]
struct Row {
    payload: String,
    enqueued: u64,
    not_before_ms: u64,
    state: State,
    claimed_by: Option<String>,
    lease_until_ms: u64,
    deliveries: u32,
    /// Failures that counted (put back `failed`): the invariants' own tally, beside the
    /// table's `deliveries`, which the workers fence by.
    counted_failures: u32,
    /// Takes whose worker died (their lease lapsed, and another took the row): they count, as
    /// in PostgreSQL, so a post that kills its workers is dead-lettered in the end.
    lapsed_takes: u32,
}

/// The outbox table, shared by every process (as the database is). Its calls are atomic (each a
/// statement), so a crash falls between them, never inside one.
#[derive(Default)]
struct Table {
    rows: Mutex<BTreeMap<String, Row>>,
    next: AtomicU64,
}

/// A row as a worker took it.
struct Taken {
    key: String,
    payload: String,
    deliveries: u32,
}

impl Table {
    fn enqueue(&self, post: &Post) {
        let payload = serde_json::to_string(post).unwrap();
        let row = Row {
            payload,
            enqueued: self.next.fetch_add(1, Ordering::SeqCst),
            not_before_ms: 0,
            state: State::Pending,
            claimed_by: None,
            lease_until_ms: 0,
            deliveries: 0,
            counted_failures: 0,
            lapsed_takes: 0,
        };
        self.rows.lock().unwrap().entry(post.business_key.clone()).or_insert(row);
    }

    /// `FOR UPDATE SKIP LOCKED`: due rows no live lease holds, the earliest due first.
    fn claim(&self, worker: &str, now_ms: u64, limit: usize) -> Vec<Taken> {
        let mut rows = self.rows.lock().unwrap();
        let mut due: Vec<(u64, u64, String)> = rows
            .iter()
            .filter(|(_, r)| r.state == State::Pending && r.not_before_ms <= now_ms && r.lease_until_ms <= now_ms)
            .map(|(k, r)| (r.not_before_ms, r.enqueued, k.clone()))
            .collect();
        due.sort();
        due.into_iter()
            .take(limit)
            .map(|(_, _, key)| {
                let row = rows.get_mut(&key).unwrap();
                row.lapsed_takes += u32::from(row.claimed_by.is_some());
                row.claimed_by = Some(worker.to_owned());
                row.lease_until_ms = now_ms + LEASE.as_millis() as u64;
                row.deliveries += 1;
                Taken { key, payload: row.payload.clone(), deliveries: row.deliveries }
            })
            .collect()
    }

    /// Runs `f` on the row if `worker` still holds it at this delivery.
    fn if_held(&self, taken: &Taken, worker: &str, f: impl FnOnce(&mut Row)) -> bool {
        let mut rows = self.rows.lock().unwrap();
        let row = rows.get_mut(&taken.key).unwrap();
        let held = row.state == State::Pending
            && row.claimed_by.as_deref() == Some(worker)
            && row.deliveries == taken.deliveries;
        if held {
            f(row);
        }
        held
    }

    /// When the next pending row may be taken (its time come, its lease lapsed).
    fn next_due_ms(&self) -> Option<u64> {
        let rows = self.rows.lock().unwrap();
        rows.values().filter(|r| r.state == State::Pending).map(|r| r.not_before_ms.max(r.lease_until_ms)).min()
    }
}

/// One worker process: takes rows, publishing each and marking it, until none is pending or
/// the next is not due for [`IDLE`] (a deferral's long wait: a later round takes it).
async fn worker(name: String, table: Arc<Table>, publisher: Publisher<SimTransport>, client: Client<SimTransport>) {
    let now_ms = move || client.limits_snapshot().taken_at.as_millis();
    loop {
        let taken = table.claim(&name, now_ms(), CONCURRENCY);
        if taken.is_empty() {
            match table.next_due_ms() {
                Some(due) if due.saturating_sub(now_ms()) <= IDLE.as_millis() as u64 => {
                    tokio::time::sleep(POLL).await;
                    continue;
                }
                _ => return,
            }
        }
        let mut running = tokio::task::JoinSet::new();
        for row in taken {
            let (table, publisher, name, now_ms) =
                (Arc::clone(&table), publisher.clone(), name.clone(), now_ms.clone());
            running.spawn(async move {
                let never = CancellationToken::new();
                let renew = async {
                    loop {
                        tokio::time::sleep(LEASE / 3).await;
                        let until = now_ms() + LEASE.as_millis() as u64;
                        if !table.if_held(&row, &name, |r| r.lease_until_ms = until) {
                            std::future::pending::<()>().await;
                        }
                    }
                };
                let trace = std::env::var_os("POSTATO_SIM_TRACE").is_some();
                if trace {
                    eprintln!("{} takes {} (delivery {}) at {}", name, row.key, row.deliveries, now_ms());
                }
                let step = tokio::select! {
                    step = publisher.publish_row(&row.payload, row.deliveries - 1, &never) => step,
                    () = renew => unreachable!(),
                };
                if trace {
                    eprintln!("{} {}: {:?} at {}", name, row.key, step, now_ms());
                }
                match step {
                    RowStep::Published(_) => {
                        table.if_held(&row, &name, |r| r.state = State::Published);
                    }
                    RowStep::DeadLetter(error) => {
                        publisher.dead_letter_row(&row.key, &error, Some(row.payload.clone())).await;
                        let kind = error.kind().as_str().to_owned();
                        // As `outbox_done`: never "dead-lettered" of a post the store has published.
                        let published = matches!(publisher.store().published(&row.key).await, Ok(Some(_)));
                        table.if_held(&row, &name, |r| {
                            r.state = if published { State::Published } else { State::DeadLettered(kind) }
                        });
                    }
                    RowStep::PutBack { wait, failed, why } => {
                        if let PutBack::Blocked(error) = &why {
                            panic!("{}: blocked by {error}: this server refuses no key", row.key);
                        }
                        // As `outbox_release`: a wait by the table's clock, and a take that
                        // did not fail is not a delivery.
                        let not_before_ms = now_ms() + wait.as_millis() as u64;
                        table.if_held(&row, &name, |r| {
                            r.claimed_by = None;
                            r.lease_until_ms = 0;
                            r.not_before_ms = r.not_before_ms.max(not_before_ms);
                            r.deliveries -= u32::from(!failed);
                            r.counted_failures += u32::from(failed);
                        });
                    }
                }
            });
        }
        while running.join_next().await.is_some() {}
    }
}

/// Runs the outbox of `seed`'s plan; answers what it broke (nothing, when all is well) and
/// whether a worker died.
pub fn run(seed: u64) -> (Vec<String>, bool) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    runtime.block_on(run_plan(seed, Plan::draw(seed)))
}

async fn run_plan(seed: u64, plan: Plan) -> (Vec<String>, bool) {
    let started = Instant::now();
    let mut dice = Dice::new(seed ^ 0x0b0c_0b0c);
    let seq = Arc::new(AtomicU64::new(0));
    let spent =
        plan.spent.map(|s| Spent { account: account_name(s.account), until: s.until, names_scope: s.names_scope });
    let server = Arc::new(Mutex::new(Server::new(seed, plan.faults.clone(), plan.limiter, spent, Arc::clone(&seq))));
    let client = Client::builder()
        .api_key("sk_test_simulation")
        .workspace_id("ws_1")
        .base_url("http://127.0.0.1:9")
        .policy(plan.policy.clone())
        .retry_budget(plan.budget)
        .seed(seed)
        .build_with_transport(SimTransport { server: Arc::clone(&server) })
        .expect("a drawn policy is valid");
    let store = Arc::new(MemoryStore::new());
    let troubled = Arc::new(Mutex::new(Default::default()));
    let slow = Arc::new(Mutex::new(Default::default()));
    let process = |n: u64| {
        let store = Arc::new(SimStore::new(
            Arc::clone(&store),
            plan.store_faults,
            seed.wrapping_mul(37).wrapping_add(n),
            Arc::clone(&troubled),
            Arc::clone(&slow),
        ));
        let publisher = Publisher::with_shared_store(client.clone(), Arc::clone(&store) as Arc<dyn ResultStore>)
            .key_retention(plan.key_retention);
        (store, publisher)
    };

    // The application enqueues each post at its time (a repeated business key is one row).
    let table = Arc::new(Table::default());
    let mut posts: BTreeMap<String, Post> = BTreeMap::new();
    for planned in &plan.publishes {
        let account = account_name(planned.account);
        let post = Post::new(&planned.business_key, PLATFORM, &account, PostStatus::Publish, "post", "from the outbox");
        posts.entry(planned.business_key.clone()).or_insert(post);
    }
    let mut schedule: Vec<(Duration, Post)> =
        posts.values().map(|post| (Duration::from_millis(dice.below(2_000)), post.clone())).collect();
    schedule.sort_by_key(|(at, _)| *at);
    for (at, post) in schedule {
        tokio::time::sleep_until(started + at).await;
        table.enqueue(&post);
    }

    let (store_0, publisher_0) = process(0);
    let (_, publisher_1) = process(1);
    let first = tokio::spawn(worker("worker-0".into(), Arc::clone(&table), publisher_0, client.clone()));
    let second = tokio::spawn(worker("worker-1".into(), Arc::clone(&table), publisher_1, client.clone()));
    let crash = dice.chance(0.6).then(|| {
        let at = Duration::from_millis(dice.below(30_000));
        let restart_after = if dice.chance(0.5) { Duration::from_secs(70) } else { Duration::from_secs(4 * 3600) };
        (at, restart_after)
    });
    let limit = started + RUN_LIMIT;
    if let Some((at, restart_after)) = crash {
        tokio::time::sleep(at).await;
        // SIGKILL: its store calls never return, its tasks stop where they are.
        store_0.crashed.store(true, Ordering::SeqCst);
        first.abort();
        tokio::time::sleep(restart_after).await;
        let (_, successor) = process(2);
        let _ =
            tokio::time::timeout_at(limit, worker("worker-2".into(), Arc::clone(&table), successor, client.clone()))
                .await;
    } else {
        let _ = tokio::time::timeout_at(limit, first).await;
    }
    let _ = tokio::time::timeout_at(limit, second).await;
    // Rows due later (a deferral's wait, a failure tried again) get a worker when they are due,
    // as a service's worker would take them.
    let mut round = 0;
    while let Some(due) = table.next_due_ms() {
        if round == ROUNDS {
            break;
        }
        round += 1;
        let now = client.limits_snapshot().taken_at.as_millis();
        tokio::time::sleep(Duration::from_millis(due.saturating_sub(now))).await;
        let (_, later) = process(10 + u64::from(round));
        let name = format!("worker-round-{round}");
        let _ = tokio::time::timeout(RUN_LIMIT, worker(name, Arc::clone(&table), later, client.clone())).await;
    }
    tokio::time::sleep(Duration::from_millis(plan.faults.max_stall_ms + plan.store_faults.max_stall_ms + 10)).await;

    let mut violations = Vec::new();
    let rows = table.rows.lock().unwrap().clone();
    let letters = store.dead_letters(None, 10_000).await.unwrap_or_default();
    if std::env::var_os("POSTATO_SIM_TRACE").is_some() {
        eprintln!(
            "end: client now {} ms, {:?} after the start",
            client.limits_snapshot().taken_at.as_millis(),
            started.elapsed()
        );
    }
    let on_server: BTreeMap<String, u32> = server.lock().unwrap().publishes.clone();
    for (key, row) in &rows {
        let on_server = on_server.get(&postato::idempotency_key(key)).copied().unwrap_or(0);
        let recorded = matches!(store.begin(key, "probe", Duration::from_millis(1)).await, Ok(Begin::Published(_)));
        let _ = store.release(key, "probe").await;
        if on_server > 1 {
            violations.push(format!("{key}: published {on_server} times"));
        }
        match &row.state {
            State::Pending => violations.push(format!("{key}: still pending once every worker ran out: {row:?}")),
            State::Published if on_server != 1 || !recorded => violations.push(format!(
                "{key}: marked published, but the server has it {on_server} time(s) and the store {}",
                if recorded { "has it" } else { "does not" }
            )),
            State::Published => {}
            State::DeadLettered(kind) => {
                if recorded {
                    violations.push(format!("{key}: dead-lettered ({kind}), but the store has it published"));
                }
                let expected = postato::ErrorKind::parse(kind)
                    .is_some_and(|k| is_expected(k) || k == postato::ErrorKind::OutcomeUnknown);
                if !expected {
                    violations.push(format!("{key}: dead-lettered as {kind}, which this server never causes"));
                }
                // A failure that may pass dead-letters a row only at its last counted delivery.
                let may_pass = ["transient", "rate_limited", "deadline"].contains(&kind.as_str());
                let counted = row.counted_failures + row.lapsed_takes + 1;
                if may_pass && counted < postato::postato_core::OUTBOX_MAX_DELIVERIES {
                    violations.push(format!(
                        "{key}: dead-lettered ({kind}) after {} failures ({} of them takes whose worker died)",
                        counted, row.lapsed_takes
                    ));
                }
                // Never silently: the store's dead letters hold it (unless the store failed to
                // write it, when the row's own state is its record).
                let lettered = letters.iter().any(|l| &l.business_key == key);
                if !lettered && !troubled.lock().unwrap().contains(key) {
                    violations.push(format!("{key}: dead-lettered ({kind}) with no dead letter in the store"));
                }
            }
        }
    }
    (violations, crash.is_some())
}
