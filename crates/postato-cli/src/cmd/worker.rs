//! `postato worker`: a long-running process that drains a PostgreSQL outbox. It claims due
//! rows (`FOR UPDATE SKIP LOCKED`: any number of workers, on any number of machines), wakes on
//! `LISTEN postato_outbox` (each enqueue notifies at its commit) with a poll as the fallback,
//! publishes each row through the Publisher over the same database (claims, retry budget,
//! deferral, dead letters), and marks it. SIGTERM, SIGINT or SIGHUP drain it: nothing new
//! starts, the publishes in flight finish within [`STOP_GRACE`] (then are cancelled,
//! retry-safe), its rows are released, and it exits 0.

use clap::Args;
use postato::postato_core::settings;
use postato::{CancellationToken, Publisher, PutBack, ResultStore, RowStep};
use postato_postgres::outbox::{Claimed, OutboxListener};
use postato_postgres::PostgresStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

use crate::args::{self, millis, ConnectionArgs, Hours};
use crate::metrics::PrometheusMetrics;
use crate::signals::StopSignals;
use crate::{exit, report, terminal};

/// How long the publishes in flight at a stop signal may take before they are cancelled:
/// within `docker stop`'s 10 s and systemd's 90 s.
const STOP_GRACE: Duration = Duration::from_secs(5);
/// How often an idle worker looks at the outbox when no notification comes (a lost `LISTEN`
/// connection, rows that became due, leases that lapsed).
const POLL: Duration = Duration::from_secs(2);
/// How long an outbox operation may take before the worker gives up on it (and goes on: a
/// claim is tried again, a mark is left to the row's lease).
const STORE_WAIT: Duration = Duration::from_secs(10);
/// How long the cancelled publishes of a stop may take to end (their claims are released by
/// their guards, or lapse) before the worker exits regardless.
const CANCEL_WAIT: Duration = Duration::from_secs(10);
/// How long a health check waits for the database.
const HEALTH_WAIT: Duration = Duration::from_secs(2);
/// Claims in a row that may fail before `--exit-when-idle` gives up.
const IDLE_EXIT_FAILED_CLAIMS: u32 = 6;
/// How often a worker that lost its LISTEN connection tries to listen again.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// Drain a PostgreSQL outbox: publish each post enqueued (by an application's transaction or
/// `postato enqueue`), exactly once, until stopped (SIGTERM drains it and exits 0)
#[derive(Args, Debug)]
pub struct WorkerArgs {
    /// The outbox: a PostgreSQL URL (postgres://…); results, claims and dead letters are kept
    /// in the same database. POSTATO_STORE does the same, and keeps a password off the command
    /// line
    #[arg(long, env = "POSTATO_STORE", hide_env_values = true, value_parser = args::store_location)]
    pub store: String,
    #[arg(long, help = args::help(settings::CONCURRENCY.row()), default_value_t = settings::CONCURRENCY.default_value(),
        value_parser = args::concurrency, allow_negative_numbers = true)]
    pub concurrency: u32,
    #[arg(long, help = args::help(settings::LEASE.row()), default_value_t = millis(settings::LEASE.default_value()),
        value_parser = |t: &str| args::millis_of(&settings::LEASE, t), allow_negative_numbers = true)]
    pub lease_ms: u64,
    #[arg(long, help = args::help(settings::KEY_RETENTION.row()), default_value_t = Hours(settings::KEY_RETENTION.default_value()),
        value_parser = args::key_retention_hours, allow_negative_numbers = true)]
    pub key_retention_hours: Hours,
    /// Serve the worker's metrics at http://ADDR/metrics and its health at http://ADDR/healthz
    /// (200 while the database answers, else 503); port 0 picks a free one, printed on stderr
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Exit (0) once nothing is due and nothing is in flight: drain the outbox once, from cron
    /// or a job, instead of running as a service
    #[arg(long)]
    pub exit_when_idle: bool,
    /// How often an idle worker looks at the outbox when no notification comes, in ms (tests
    /// make it long, to show that a commit wakes the worker)
    #[arg(long, hide = true, default_value_t = POLL.as_millis() as u64)]
    pub poll_ms: u64,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_owned())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "worker".to_owned())
}

pub async fn run(args: &WorkerArgs) -> u8 {
    let output = args::Output::Text;
    if !args::is_postgres(&args.store) {
        report::fatal_invalid(output, "--store: the outbox is in PostgreSQL: give a postgres:// URL");
        return exit::INVALID_INPUT;
    }
    let metrics = Arc::new(PrometheusMetrics::new());
    let client = match args.connection.builder().and_then(|b| b.metrics(Arc::clone(&metrics) as _).build()) {
        Ok(client) => client,
        Err(error) => {
            report::failed(output, &error);
            return exit::for_kind(error.kind());
        }
    };
    let pool = (args.concurrency + 3).min(settings::POOL_SIZE.max) as usize;
    let audit = std::env::var("POSTATO_AUDIT_CLAIMS").as_deref() == Ok("1");
    let store = match PostgresStore::connect(&args.store, pool).await {
        Ok(store) => store.with_audit(audit),
        Err(e) => {
            report::fatal(output, &e.to_string());
            return exit::FAILURE;
        }
    };
    if let Some(addr) = args.metrics {
        metrics.watch(client.clone());
        let probe = store.clone();
        let health: crate::metrics::Health = Arc::new(move || {
            Box::pin({
                let probe = probe.clone();
                async move { probe.reachable(HEALTH_WAIT).await }
            })
        });
        match crate::metrics::serve(addr, Arc::clone(&metrics), Some(health)).await {
            Ok(bound) => {
                terminal::eprintln(&format!("metrics: http://{bound}/metrics, health: http://{bound}/healthz"))
            }
            Err(e) => {
                report::fatal(output, &format!("--metrics: cannot listen on {addr}: {e}"));
                return exit::FAILURE;
            }
        }
    }
    let publisher = Publisher::with_shared_store(client, Arc::new(store.clone()) as Arc<dyn ResultStore>)
        .lease(Duration::from_millis(args.lease_ms))
        .key_retention(args.key_retention_hours.0);
    // Unique to this process (the Publisher's own claimant name), on the host it runs on.
    let name = format!("{}/{}", host_name(), publisher.worker());
    let worker = Worker {
        store,
        publisher,
        name,
        lease: Duration::from_millis(args.lease_ms),
        concurrency: args.concurrency.max(1) as usize,
        cancel: CancellationToken::new(),
        exit_when_idle: args.exit_when_idle,
        poll: Duration::from_millis(args.poll_ms.max(1)),
    };
    worker.run().await
}

/// A running worker.
struct Worker {
    store: PostgresStore,
    publisher: Publisher,
    name: String,
    lease: Duration,
    concurrency: usize,
    /// Cancels the publishes in flight (a second signal, or the end of the grace).
    cancel: CancellationToken,
    /// `--exit-when-idle`.
    exit_when_idle: bool,
    /// How often an idle worker looks without a notification.
    poll: Duration,
}

/// `operation`, given up after [`STORE_WAIT`] (a database that stops answering never holds
/// the worker).
async fn bounded<T>(operation: impl std::future::Future<Output = Result<T, postato::StoreError>>) -> Result<T, String> {
    match tokio::time::timeout(STORE_WAIT, operation).await {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err(format!("the database did not answer within {} s", STORE_WAIT.as_secs())),
    }
}

/// Logs a publish task that ended in a panic (its row's lease lapses; it is taken again).
fn note(joined: Option<Result<(), tokio::task::JoinError>>) {
    if let Some(Err(e)) = joined {
        tracing::error!(error = %e, "postato worker: a publish failed inside postato; its row is taken again once its lease lapses");
    }
}

impl Worker {
    async fn run(self) -> u8 {
        let mut signals = StopSignals::listen();
        let mut listener = self.listen().await;
        let mut failed_claims = 0;
        let mut in_flight: JoinSet<()> = JoinSet::new();
        tracing::info!(
            worker = self.name.as_str(),
            concurrency = self.concurrency,
            "postato worker: draining the outbox"
        );
        let stopped_by = loop {
            // Take as many due rows as there are free slots.
            let free = self.concurrency - in_flight.len();
            let mut claimed = Vec::new();
            let mut claim_failed = false;
            if free > 0 {
                match bounded(self.store.outbox_claim(&self.name, self.lease, free)).await {
                    Ok(rows) => claimed = rows,
                    Err(e) => {
                        claim_failed = true;
                        tracing::warn!(error = %e, "postato worker: cannot claim from the outbox; trying again");
                    }
                }
            }
            let took = claimed.len();
            for row in claimed {
                in_flight.spawn(self.publish(row));
            }
            if took > 0 && took == free {
                // Full: wait for a slot (or a stop).
                tokio::select! {
                    signal = signals.next() => break signal,
                    joined = in_flight.join_next() => note(joined),
                }
                continue;
            }
            if took > 0 {
                // Rows may remain that became due meanwhile: look again at once.
                continue;
            }
            failed_claims = if claim_failed { failed_claims + 1 } else { 0 };
            // A claim that failed says nothing of what is due: not idle. A drain from cron gives
            // up on a database that stays out of reach (exit 4, the store's failure), rather
            // than piling up behind it.
            if self.exit_when_idle && failed_claims >= IDLE_EXIT_FAILED_CLAIMS && in_flight.is_empty() {
                tracing::error!(
                    worker = self.name.as_str(),
                    "postato worker: the outbox cannot be read; exiting (--exit-when-idle)"
                );
                return exit::TRANSIENT;
            }
            if self.exit_when_idle && in_flight.is_empty() && !claim_failed {
                tracing::info!(
                    worker = self.name.as_str(),
                    "postato worker: nothing is due; exiting (--exit-when-idle)"
                );
                return exit::SUCCESS;
            }
            // Nothing due: wait for an enqueue's commit, a due row, a finished publish or a stop
            // (not listening: at most LISTEN_RETRY, to listen again soon once the database is back).
            // (A claim that failed: the database is out of reach, and asking it when the next
            // row is due would wait as long again.)
            let listening = listener.as_ref().is_some_and(OutboxListener::is_listening);
            let wait = match (claim_failed, listening) {
                (true, _) => LISTEN_RETRY,
                (false, true) => self.until_next_due().await,
                (false, false) => self.until_next_due().await.min(LISTEN_RETRY),
            };
            // Waited on even if the connection ended since `listening` was read (during the
            // query for the next due row, say): its end left a wake-up that ends this wait at
            // once, so the loop listens again instead of sleeping a whole poll.
            let notified = async {
                match &listener {
                    Some(listener) => listener.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                signal = signals.next() => break signal,
                _ = notified => {}
                joined = in_flight.join_next(), if !in_flight.is_empty() => note(joined),
                _ = tokio::time::sleep(wait) => {}
            }
            // A lost LISTEN connection (or one never opened) is opened again; meanwhile, polls.
            if !listener.as_ref().is_some_and(OutboxListener::is_listening) {
                if listener.is_some() {
                    tracing::warn!(
                        "postato worker: the LISTEN connection was lost; listening again (polling meanwhile)"
                    );
                }
                listener = self.listen().await;
            }
        };
        tracing::info!(
            signal = stopped_by.name(),
            "postato worker: stopping: no new posts; posts in flight finish within {} s (a second signal cancels them at once, retry-safe)",
            STOP_GRACE.as_secs()
        );
        let drained = async {
            while let Some(joined) = in_flight.join_next().await {
                note(Some(joined));
            }
        };
        let cancel = self.cancel.clone();
        tokio::select! {
            _ = drained => {}
            _ = signals.next() => cancel.cancel(),
            _ = tokio::time::sleep(STOP_GRACE) => cancel.cancel(),
        }
        // Cancelled publishes end at once, but recording their end may wait for the store: the
        // worker exits after CANCEL_WAIT regardless (what is unrecorded is retry-safe).
        let ended = async {
            while let Some(joined) = in_flight.join_next().await {
                note(Some(joined));
            }
        };
        if tokio::time::timeout(CANCEL_WAIT, ended).await.is_err() {
            tracing::warn!("postato worker: publishes still ending after the stop; exiting (their rows' leases lapse)");
            in_flight.abort_all();
        }
        match bounded(self.store.outbox_release_all(&self.name)).await {
            Ok(released) if released > 0 => {
                tracing::info!(released, "postato worker: rows released for another worker")
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "postato worker: could not release its rows; their leases lapse"),
        }
        tracing::info!(worker = self.name.as_str(), "postato worker: stopped");
        exit::SUCCESS
    }

    /// A `LISTEN` connection, or none (the worker polls, and tries again) when it cannot be
    /// opened.
    async fn listen(&self) -> Option<OutboxListener> {
        match tokio::time::timeout(STORE_WAIT, self.store.outbox_listen()).await {
            Ok(Ok(listener)) => Some(listener),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "postato worker: cannot LISTEN for enqueues; polling meanwhile");
                None
            }
            Err(_) => {
                tracing::warn!("postato worker: cannot LISTEN for enqueues (no answer); polling meanwhile");
                None
            }
        }
    }

    /// How long to wait when nothing is due: until the next row is due (by the database's
    /// clock), at most the poll. A database that cannot say (out of reach) is asked again within
    /// [`LISTEN_RETRY`]: waiting the whole poll would leave rows that became due meanwhile.
    async fn until_next_due(&self) -> Duration {
        match bounded(self.store.outbox_next_due_in()).await {
            Ok(Some(due)) => due.clamp(Duration::from_millis(5), self.poll),
            Ok(None) => self.poll,
            Err(_) => LISTEN_RETRY.min(self.poll),
        }
    }

    /// Publishes one claimed row, renewing its lease meanwhile, and marks it as the outbox's
    /// rule says ([`RowStep`]: published, dead-lettered, or put back until it is due again).
    fn publish(&self, row: Claimed) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (store, publisher, name, cancel, lease) =
            (self.store.clone(), self.publisher.clone(), self.name.clone(), self.cancel.clone(), self.lease);
        async move {
            let key = row.business_key.as_str();
            // The row's lease is renewed beside the publish (a publish may wait longer than a
            // lease for a rate limit), so no other worker takes it meanwhile.
            let renew = async {
                loop {
                    tokio::time::sleep(lease / 3).await;
                    // A renewal that failed is tried again at the next third; a row no longer
                    // ours is left (the Publisher's claim still keeps the publish single).
                    if let Ok(false) = bounded(store.outbox_renew(&row, &name, lease)).await {
                        std::future::pending::<()>().await;
                    }
                }
            };
            // `deliveries` counts this take: the failures before it are one fewer.
            let failures = u32::try_from(row.deliveries).unwrap_or(1).saturating_sub(1);
            let step = tokio::select! {
                step = publisher.publish_row(&row.payload, failures, &cancel) => step,
                () = renew => unreachable!("the renewal never ends"),
            };
            match step {
                RowStep::Published(report) => {
                    let how = if report.from_store { "already_published" } else { "published" };
                    tracing::info!(
                        business_key = key,
                        outcome = how,
                        attempts = report.published.attempts,
                        "postato worker: published"
                    );
                    finish(&store, &row, &name, true).await;
                }
                RowStep::DeadLetter(error) => {
                    tracing::warn!(business_key = key, outcome = "dead_lettered", kind = error.kind().as_str(), error = %error, "postato worker: dead-lettered");
                    publisher.dead_letter_row(key, &error, Some(row.payload.clone())).await;
                    finish(&store, &row, &name, false).await;
                }
                RowStep::PutBack { wait, failed, why } => {
                    let retry_in_s = wait.as_secs();
                    match why {
                        PutBack::Unrecorded => tracing::warn!(
                            business_key = key,
                            "postato worker: published, not recorded; recording it again"
                        ),
                        PutBack::Held => tracing::info!(
                            business_key = key,
                            "postato worker: another worker holds the post; looking again later"
                        ),
                        PutBack::Deferred => tracing::info!(
                            business_key = key,
                            outcome = "deferred",
                            retry_in_s,
                            "postato worker: deferred"
                        ),
                        PutBack::Cancelled => {}
                        PutBack::Blocked(error) => {
                            tracing::error!(business_key = key, error = %error, "postato worker: no post can be published until this is fixed (a setting, or the API key); the post waits")
                        }
                        PutBack::Failed(error) => {
                            tracing::warn!(business_key = key, error = %error, counted = failed, retry_in_s, "postato worker: failed for now; trying again later")
                        }
                    }
                    release(&store, &row, &name, wait, failed).await;
                }
            }
        }
    }
}

async fn finish(store: &PostgresStore, row: &Claimed, name: &str, published: bool) {
    if let Err(e) = bounded(store.outbox_done(row, name, published)).await {
        let key = row.business_key.as_str();
        tracing::warn!(business_key = key, error = %e, "postato worker: could not mark the row; its lease lapses and the store answers it");
    }
}

async fn release(store: &PostgresStore, row: &Claimed, name: &str, wait: Duration, failed: bool) {
    if let Err(e) = bounded(store.outbox_release(row, name, wait, failed)).await {
        let key = row.business_key.as_str();
        tracing::warn!(business_key = key, error = %e, "postato worker: could not put the row back; its lease lapses");
    }
}
