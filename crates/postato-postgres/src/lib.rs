//! # postato-postgres
//!
//! [`PostgresStore`]: a [`ResultStore`] in PostgreSQL, so that many workers (processes,
//! machines) can publish one campaign exactly once. It follows the pattern of Stripe-style
//! idempotency keys in PostgreSQL: a worker *claims* a business key with a lease before
//! publishing; a live lease held by another worker means skip or wait; the publisher renews
//! its lease while it works; a lease whose worker crashed expires and another worker finishes
//! the post with the same idempotency key, so the server's dedupe covers the overlap. Results
//! and dead letters are recorded in the same database, in the same transaction that releases
//! the claim.
//!
//! The schema is versioned and created by the store itself (under an advisory lock, so many
//! workers may start at once).

mod cached;
pub mod outbox;
pub mod tls;

use async_trait::async_trait;
use cached::Cached;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use postato::postato_core::defaults;
use postato::store::Begin;
use postato::{DeadLetter, Deferral, Intent, PublishedRecord, ResultStore, StoreCounts, StoreError, StoreErrorKind};
use std::time::Duration;
use tokio_postgres::{NoTls, Row};

#[cfg(feature = "testing")]
pub mod testing;

/// The schema version this build writes.
pub const SCHEMA_VERSION: i32 = 4;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS postato_published (
    business_key    TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    post_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    replayed        BOOLEAN NOT NULL,
    published_at_ms BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS postato_dead_letters (
    business_key TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    status       INTEGER,
    message      TEXT NOT NULL,
    body         TEXT,
    attempts     INTEGER NOT NULL,
    failed_at_ms BIGINT NOT NULL,
    payload      TEXT,
    line         BIGINT
);
CREATE TABLE IF NOT EXISTS postato_claims (
    business_key TEXT PRIMARY KEY,
    worker       TEXT NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS postato_claim_log (
    id           BIGSERIAL PRIMARY KEY,
    business_key TEXT NOT NULL,
    worker       TEXT NOT NULL,
    claimed_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    released_at  TIMESTAMPTZ
);
";

/// Version 2: intents, the publishes sent whose outcome is not yet recorded.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS postato_intents (
    business_key     TEXT PRIMARY KEY,
    fingerprint      TEXT NOT NULL,
    first_sent_at_ms BIGINT NOT NULL
);
";

/// Version 3: deferred posts, each published once its `not_before_ms` has come.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS postato_deferred (
    business_key   TEXT PRIMARY KEY,
    not_before_ms  BIGINT NOT NULL,
    reason         TEXT NOT NULL,
    message        TEXT NOT NULL,
    attempts       INTEGER NOT NULL,
    deferred_at_ms BIGINT NOT NULL,
    payload        TEXT,
    line           BIGINT
);
";

const DEFERRAL_COLUMNS: &str = "business_key, not_before_ms, reason, message, attempts, deferred_at_ms, payload, line";

/// A PostgreSQL error as a store error: a lost or refused connection, or a server shutting
/// down or starting, is `Unavailable` (retried for a while); anything else is a failure.
pub(crate) fn db(e: tokio_postgres::Error) -> StoreError {
    use std::io::ErrorKind::*;
    let io_kind = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<std::io::Error>()).map(|s| s.kind());
    let unavailable = e.is_closed()
        || match e.code() {
            // 08: connection exception (but not 08P01, a protocol violation); 57P01-03: admin or
            // crash shutdown, cannot connect now; 53300: too many connections (every worker
            // reconnecting after a restart); 40001, 40P01: serialization failure, deadlock.
            Some(code) => {
                let code = code.code();
                (code.starts_with("08") && code != "08P01")
                    || matches!(code, "57P01" | "57P02" | "57P03" | "53300" | "40001" | "40P01")
            }
            // The connection failed or was cut (not a refused TLS or login: those stay).
            None => matches!(
                io_kind,
                Some(
                    ConnectionRefused
                        | ConnectionReset
                        | ConnectionAborted
                        | BrokenPipe
                        | UnexpectedEof
                        | TimedOut
                        | NotConnected
                )
            ),
        };
    // tokio-postgres keeps the cause (a TLS or I/O error) out of its message.
    let message = match std::error::Error::source(&e) {
        Some(cause) if !e.to_string().contains(&cause.to_string()) => format!("postgres: {e}: {cause}"),
        _ => format!("postgres: {e}"),
    };
    if unavailable {
        StoreError::unavailable(message)
    } else {
        StoreError::new(message)
    }
}

/// Serialises the writes of one business key's outcome (a publish recorded, a dead letter
/// written) for the rest of the transaction, so the two never interleave: a key is never left
/// both published and dead-lettered.
async fn lock_key(tx: &impl deadpool_postgres::GenericClient, business_key: &str) -> Result<(), StoreError> {
    tx.execute_cached("SELECT pg_advisory_xact_lock(70746174, hashtext($1))", &[&business_key]).await.map_err(db)?;
    Ok(())
}

/// Retries `operation` while the store is `Unavailable`, with backoff, for at most
/// [`defaults::STORE_OUTAGE`]: a database restart or a cut connection is ridden out (the pool
/// opens new connections) instead of turning into unrecorded results or skipped claims.
async fn retrying<T, F, Fut>(operation: F) -> Result<T, StoreError>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(50);
    loop {
        // A connection black-holed by the network never answers: each try is bounded.
        let attempt = match tokio::time::timeout(defaults::POSTGRES_POOL_WAIT, operation()).await {
            Ok(result) => result,
            Err(_) => {
                Err(StoreError::unavailable(format!("postgres: no answer within {:?}", defaults::POSTGRES_POOL_WAIT)))
            }
        };
        match attempt {
            Err(e)
                if e.kind() == StoreErrorKind::Unavailable && started.elapsed() + backoff < defaults::STORE_OUTAGE =>
            {
                tracing::warn!(error = %e, "postato: the PostgreSQL store is unavailable; trying again");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
            result => return result,
        }
    }
}

/// Results, dead letters and claims in PostgreSQL. Cheap to clone (a pool).
#[derive(Clone)]
pub struct PostgresStore {
    pool: Pool,
    /// How to open a connection of its own, for `LISTEN` (the pool's are shared).
    listen: Listen,
    audit: bool,
    migrated: std::sync::Arc<tokio::sync::OnceCell<()>>,
    /// `host:port/database`, for messages (never the user or password).
    target: String,
}

/// A connection's configuration and TLS, for [`PostgresStore::outbox_listen`].
#[derive(Clone)]
struct Listen {
    config: tokio_postgres::Config,
    tls: Option<tokio_postgres_rustls::MakeRustlsConnect>,
}

/// Where a configuration points: `host:port/database` (hosts and ports joined by commas).
fn target(config: &tokio_postgres::Config) -> String {
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    let port = if ports.is_empty() { "5432".to_owned() } else { ports.join(",") };
    format!("{}:{port}/{}", hosts.join(","), config.get_dbname().unwrap_or("(default database)"))
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never print it.
        f.debug_struct("PostgresStore").field("audit", &self.audit).finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user[:password]@host[:port]/db`, with `?sslmode=…` and
    /// `sslrootcert=…` as libpq reads them: see [`tls`]) with a pool of `pool_size`
    /// connections, and creates or checks the schema.
    pub async fn connect(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        let store = Self::lazy(url, pool_size)?;
        store.ready().await?;
        Ok(store)
    }

    /// Like [`PostgresStore::connect`], but connects (and checks the schema) on first use.
    pub fn lazy(url: &str, pool_size: usize) -> Result<Self, StoreError> {
        postato::postato_core::settings::POOL_SIZE
            .check(pool_size as u64)
            .map_err(|e| StoreError::new(e.to_string()))?;
        let connection = tls::connection(url)?;
        let target = target(&connection.config);
        let listen = Listen { config: connection.config.clone(), tls: connection.tls.clone() };
        let manager_config = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match connection.tls {
            Some(tls) => Manager::from_config(connection.config, tls, manager_config),
            None => Manager::from_config(connection.config, NoTls, manager_config),
        };
        // Waiting for a pooled connection, or for a new one, is bounded: a clear error instead
        // of a hang when the server is unreachable or every connection is busy.
        let pool = Pool::builder(manager)
            .max_size(pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(defaults::POSTGRES_POOL_WAIT))
            .create_timeout(Some(defaults::POSTGRES_POOL_WAIT))
            .build()
            .map_err(|e| StoreError::new(format!("postgres: {e}")))?;
        Ok(PostgresStore { pool, listen, audit: false, migrated: Default::default(), target })
    }

    /// Connects and checks the schema once. Failing that first contact is an error at once,
    /// naming the server and the cause, never an outage ridden out for
    /// [`defaults::STORE_OUTAGE`]: a store that was never reached is almost always a wrong
    /// URL, a server that is not running, or a refused login.
    pub(crate) async fn ready(&self) -> Result<(), StoreError> {
        self.migrated
            .get_or_try_init(|| async {
                self.migrate().await.map_err(|e| {
                    let cause = e.to_string().trim_start_matches("result store: ").to_owned();
                    match e.kind() {
                        StoreErrorKind::Unavailable => StoreError::new(format!(
                            "cannot reach the PostgreSQL store at {}: {cause}: check the URL, and that the server \
                             runs and accepts this user",
                            self.target
                        )),
                        _ => StoreError::new(format!("the PostgreSQL store at {}: {cause}", self.target)),
                    }
                })
            })
            .await
            .map(|_| ())
    }

    /// Records every claim in `postato_claim_log` (for audits and tests: it proves that no two
    /// live leases ever held one key).
    pub fn with_audit(mut self, audit: bool) -> Self {
        self.audit = audit;
        self
    }

    pub(crate) async fn client(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.ready().await?;
        self.connection().await
    }

    async fn connection(&self) -> Result<deadpool_postgres::Object, StoreError> {
        self.pool.get().await.map_err(|e| match e {
            deadpool_postgres::PoolError::Backend(e) => db(e),
            e @ deadpool_postgres::PoolError::Timeout(_) => {
                StoreError::unavailable(format!("postgres: cannot get a connection: {e}"))
            }
            e => StoreError::new(format!("postgres: cannot get a connection: {e}")),
        })
    }

    async fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.connection().await?;
        let tx = client.transaction().await.map_err(db)?;
        tx.execute("SELECT pg_advisory_xact_lock(7074617401)", &[]).await.map_err(db)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS postato_schema (version INTEGER NOT NULL)").await.map_err(db)?;
        let version: Option<i32> =
            tx.query_opt("SELECT max(version) FROM postato_schema", &[]).await.map_err(db)?.and_then(|r| r.get(0));
        match version {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::new(format!(
                    "the database has postato schema version {v}, newer than this postato understands ({SCHEMA_VERSION}): upgrade postato"
                )))
            }
            Some(v) if v == SCHEMA_VERSION => {}
            _ => {
                tx.batch_execute(SCHEMA_V1).await.map_err(db)?;
                tx.batch_execute(SCHEMA_V2).await.map_err(db)?;
                tx.batch_execute(SCHEMA_V3).await.map_err(db)?;
                tx.batch_execute(outbox::SCHEMA_V4).await.map_err(db)?;
                tx.execute("INSERT INTO postato_schema (version) VALUES ($1)", &[&SCHEMA_VERSION]).await.map_err(db)?;
            }
        }
        tx.commit().await.map_err(db)
    }

    /// Checks `postato_claim_log` for two live leases on one key at the same time; returns the
    /// keys where that happened (empty when the store kept its promise).
    pub async fn overlapping_claims(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT DISTINCT a.business_key FROM postato_claim_log a JOIN postato_claim_log b
                   ON a.business_key = b.business_key AND a.id < b.id
                  WHERE b.claimed_at < LEAST(a.expires_at, COALESCE(a.released_at, a.expires_at))
                    AND a.claimed_at < LEAST(b.expires_at, COALESCE(b.released_at, b.expires_at))
                    AND a.worker <> b.worker",
                &[],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// Whether the store's connections are encrypted (TLS), as the server reports it.
    pub async fn connection_is_encrypted(&self) -> Result<bool, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[])
            .await
            .map_err(db)?;
        Ok(row.is_some_and(|r| r.get(0)))
    }

    /// Deletes every row (for tests and for reusing a database for a new campaign).
    pub async fn clear(&self) -> Result<(), StoreError> {
        self.client()
            .await?
            .batch_execute(
                "TRUNCATE postato_published, postato_dead_letters, postato_claims, postato_claim_log, postato_intents,
                 postato_deferred, postato_outbox",
            )
            .await
            .map_err(db)
    }

    async fn published_row(
        client: &impl deadpool_postgres::GenericClient,
        key: &str,
    ) -> Result<Option<PublishedRecord>, StoreError> {
        let row = client
            .query_opt_cached(
                "SELECT business_key, idempotency_key, fingerprint, post_id, status, attempts, replayed, published_at_ms
                 FROM postato_published WHERE business_key = $1",
                &[&key],
            )
            .await
            .map_err(db)?;
        Ok(row.map(|r| PublishedRecord {
            business_key: r.get(0),
            idempotency_key: r.get(1),
            fingerprint: r.get(2),
            post_id: r.get(3),
            status: r.get(4),
            attempts: r.get::<_, i32>(5) as u32,
            replayed: r.get(6),
            published_at_ms: r.get::<_, i64>(7) as u64,
        }))
    }

    async fn release_claim(
        &self,
        tx: &impl deadpool_postgres::GenericClient,
        key: &str,
        worker: &str,
    ) -> Result<(), StoreError> {
        tx.execute_cached("DELETE FROM postato_claims WHERE business_key = $1 AND worker = $2", &[&key, &worker])
            .await
            .map_err(db)?;
        if self.audit {
            tx.execute_cached(
                "UPDATE postato_claim_log SET released_at = clock_timestamp()
                  WHERE business_key = $1 AND worker = $2 AND released_at IS NULL",
                &[&key, &worker],
            )
            .await
            .map_err(db)?;
        }
        Ok(())
    }
}

fn dead_letter(r: &Row) -> DeadLetter {
    DeadLetter {
        business_key: r.get(0),
        kind: r.get(1),
        status: r.get::<_, Option<i32>>(2).map(|s| s as u16),
        message: r.get(3),
        body: r.get(4),
        attempts: r.get::<_, i32>(5) as u32,
        failed_at_ms: r.get::<_, i64>(6) as u64,
        payload: r.get(7),
        line: r.get::<_, Option<i64>>(8).map(|l| l as u64),
    }
}

fn deferral(r: &Row) -> Deferral {
    Deferral {
        business_key: r.get(0),
        not_before_ms: r.get::<_, i64>(1) as u64,
        reason: r.get(2),
        message: r.get(3),
        attempts: r.get::<_, i32>(4) as u32,
        deferred_at_ms: r.get::<_, i64>(5) as u64,
        payload: r.get(6),
        line: r.get::<_, Option<i64>>(7).map(|l| l as u64),
    }
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Each operation once; the [`ResultStore`] impl below retries them through outages.
impl PostgresStore {
    async fn begin_once(&self, business_key: &str, worker: &str, lease: Duration) -> Result<Begin, StoreError> {
        let mut client = self.client().await?;
        if let Some(record) = Self::published_row(&client, business_key).await? {
            return Ok(Begin::Published(record));
        }
        let tx = client.transaction().await.map_err(db)?;
        // Take the claim if it is free, expired, or already ours; the primary key makes two
        // live claims on one key impossible.
        let claimed = tx
            .query_opt_cached(
                "INSERT INTO postato_claims (business_key, worker, expires_at)
                 VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
                 ON CONFLICT (business_key) DO UPDATE SET worker = EXCLUDED.worker, expires_at = EXCLUDED.expires_at
                   WHERE postato_claims.expires_at < clock_timestamp() OR postato_claims.worker = EXCLUDED.worker
                 RETURNING expires_at",
                &[&business_key, &worker, &millis(lease)],
            )
            .await
            .map_err(db)?;
        let outcome = match claimed {
            Some(claimed) => {
                // Published by another worker between the lookup and the claim: let go.
                if let Some(record) = Self::published_row(&tx, business_key).await? {
                    tx.execute_cached(
                        "DELETE FROM postato_claims WHERE business_key = $1 AND worker = $2",
                        &[&business_key, &worker],
                    )
                    .await
                    .map_err(db)?;
                    Begin::Published(record)
                } else {
                    let deferred = tx
                        .query_opt_cached(
                            &format!("SELECT {DEFERRAL_COLUMNS} FROM postato_deferred WHERE business_key = $1"),
                            &[&business_key],
                        )
                        .await
                        .map_err(db)?;
                    if self.audit {
                        // The claim's own expiry, so that the log never outlives the claim.
                        let expires_at: std::time::SystemTime = claimed.get(0);
                        tx.execute_cached(
                            "INSERT INTO postato_claim_log (business_key, worker, claimed_at, expires_at)
                             VALUES ($1, $2, LEAST(clock_timestamp(), $3), $3)",
                            &[&business_key, &worker, &expires_at],
                        )
                        .await
                        .map_err(db)?;
                    }
                    match deferred {
                        Some(row) => Begin::ClaimedDeferred(deferral(&row)),
                        None => Begin::Claimed,
                    }
                }
            }
            None => {
                let left: f64 = tx
                    .query_one_cached(
                        "SELECT GREATEST(0, EXTRACT(EPOCH FROM (expires_at - clock_timestamp())) * 1000)::float8
                         FROM postato_claims WHERE business_key = $1",
                        &[&business_key],
                    )
                    .await
                    .map_err(db)?
                    .get(0);
                Begin::HeldByOther { expires_in: Duration::from_secs_f64(left / 1000.0) }
            }
        };
        tx.commit().await.map_err(db)?;
        Ok(outcome)
    }

    async fn renew_once(&self, business_key: &str, worker: &str, lease: Duration) -> Result<(), StoreError> {
        let client = self.client().await?;
        let renewed = client
            .query_opt(
                "UPDATE postato_claims SET expires_at = clock_timestamp() + $3 * interval '1 millisecond'
                  WHERE business_key = $1 AND worker = $2 AND expires_at > clock_timestamp()
                  RETURNING expires_at",
                &[&business_key, &worker, &millis(lease)],
            )
            .await
            .map_err(db)?;
        let Some(renewed) = renewed else {
            return Err(StoreError::lost_claim(business_key));
        };
        if self.audit {
            // The claim's own new expiry, so that the log never outlives the claim.
            let expires_at: std::time::SystemTime = renewed.get(0);
            client
                .execute(
                    "UPDATE postato_claim_log SET expires_at = $3
                      WHERE business_key = $1 AND worker = $2 AND released_at IS NULL",
                    &[&business_key, &worker, &expires_at],
                )
                .await
                .map_err(db)?;
        }
        Ok(())
    }

    async fn record_published_once(&self, r: &PublishedRecord, worker: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        lock_key(&tx, &r.business_key).await?;
        tx.execute_cached(
            "INSERT INTO postato_published
               (business_key, idempotency_key, fingerprint, post_id, status, attempts, replayed, published_at_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (business_key) DO NOTHING",
            &[
                &r.business_key,
                &r.idempotency_key,
                &r.fingerprint,
                &r.post_id,
                &r.status,
                &(r.attempts as i32),
                &r.replayed,
                &(r.published_at_ms as i64),
            ],
        )
        .await
        .map_err(db)?;
        tx.execute_cached("DELETE FROM postato_dead_letters WHERE business_key = $1", &[&r.business_key])
            .await
            .map_err(db)?;
        tx.execute_cached("DELETE FROM postato_deferred WHERE business_key = $1", &[&r.business_key])
            .await
            .map_err(db)?;
        tx.execute_cached("DELETE FROM postato_intents WHERE business_key = $1", &[&r.business_key])
            .await
            .map_err(db)?;
        self.release_claim(&tx, &r.business_key, worker).await?;
        tx.commit().await.map_err(db)
    }

    async fn record_dead_letter_once(&self, l: &DeadLetter, worker: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        lock_key(&tx, &l.business_key).await?;
        // Only the claim's owner (or anyone, when nobody holds it) writes a dead letter, and
        // never for a published key; the claim row is locked for the transaction.
        let holder: Option<String> = tx
            .query_opt_cached(
                "SELECT worker FROM postato_claims WHERE business_key = $1 FOR UPDATE",
                &[&l.business_key],
            )
            .await
            .map_err(db)?
            .map(|r| r.get(0));
        if holder.is_some_and(|holder| holder != worker) {
            return Err(StoreError::lost_claim(&l.business_key));
        }
        if Self::published_row(&tx, &l.business_key).await?.is_some() {
            self.release_claim(&tx, &l.business_key, worker).await?;
            tx.commit().await.map_err(db)?;
            return Err(StoreError::already_published(&l.business_key));
        }
        tx.execute_cached(
            "INSERT INTO postato_dead_letters (business_key, kind, status, message, body, attempts, failed_at_ms, payload, line)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (business_key) DO UPDATE SET kind = EXCLUDED.kind, status = EXCLUDED.status, message = EXCLUDED.message,
               body = EXCLUDED.body, attempts = EXCLUDED.attempts, failed_at_ms = EXCLUDED.failed_at_ms,
               payload = EXCLUDED.payload, line = EXCLUDED.line",
            &[
                &l.business_key,
                &l.kind,
                &l.status.map(i32::from),
                &l.message,
                &l.body,
                &(l.attempts as i32),
                &(l.failed_at_ms as i64),
                &l.payload,
                &l.line.map(|n| n as i64),
            ],
        )
        .await
        .map_err(db)?;
        tx.execute_cached("DELETE FROM postato_deferred WHERE business_key = $1", &[&l.business_key])
            .await
            .map_err(db)?;
        self.release_claim(&tx, &l.business_key, worker).await?;
        tx.commit().await.map_err(db)
    }

    async fn record_deferral_once(&self, d: &Deferral, worker: &str) -> Result<(), StoreError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        lock_key(&tx, &d.business_key).await?;
        // As for a dead letter: only the claim's owner (or anyone, when nobody holds it), and
        // never for a published key.
        let holder: Option<String> = tx
            .query_opt_cached(
                "SELECT worker FROM postato_claims WHERE business_key = $1 FOR UPDATE",
                &[&d.business_key],
            )
            .await
            .map_err(db)?
            .map(|r| r.get(0));
        if holder.is_some_and(|holder| holder != worker) {
            return Err(StoreError::lost_claim(&d.business_key));
        }
        if Self::published_row(&tx, &d.business_key).await?.is_some() {
            self.release_claim(&tx, &d.business_key, worker).await?;
            tx.commit().await.map_err(db)?;
            return Err(StoreError::already_published(&d.business_key));
        }
        tx.execute_cached(
            &format!(
                "INSERT INTO postato_deferred ({DEFERRAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (business_key) DO UPDATE SET not_before_ms = EXCLUDED.not_before_ms,
                   reason = EXCLUDED.reason, message = EXCLUDED.message, attempts = EXCLUDED.attempts,
                   deferred_at_ms = EXCLUDED.deferred_at_ms, payload = EXCLUDED.payload, line = EXCLUDED.line"
            ),
            &[
                &d.business_key,
                &(d.not_before_ms as i64),
                &d.reason,
                &d.message,
                &(d.attempts as i32),
                &(d.deferred_at_ms as i64),
                &d.payload,
                &d.line.map(|n| n as i64),
            ],
        )
        .await
        .map_err(db)?;
        tx.execute_cached("DELETE FROM postato_dead_letters WHERE business_key = $1", &[&d.business_key])
            .await
            .map_err(db)?;
        self.release_claim(&tx, &d.business_key, worker).await?;
        tx.commit().await.map_err(db)
    }

    async fn deferrals_once(&self, after: Option<&str>, limit: usize) -> Result<Vec<Deferral>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                &format!(
                    "SELECT {DEFERRAL_COLUMNS} FROM postato_deferred WHERE $1::text IS NULL OR business_key > $1
                     ORDER BY business_key LIMIT $2"
                ),
                &[&after, &(limit.min(i64::MAX as usize) as i64)],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(deferral).collect())
    }

    async fn intent_once(&self, business_key: &str) -> Result<Option<Intent>, StoreError> {
        let row = self
            .client()
            .await?
            .query_opt_cached(
                "SELECT business_key, fingerprint, first_sent_at_ms FROM postato_intents WHERE business_key = $1",
                &[&business_key],
            )
            .await
            .map_err(db)?;
        Ok(row.map(|r| Intent {
            business_key: r.get(0),
            fingerprint: r.get(1),
            first_sent_at_ms: r.get::<_, i64>(2) as u64,
        }))
    }

    async fn record_intent_once(&self, i: &Intent) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute_cached(
                "INSERT INTO postato_intents (business_key, fingerprint, first_sent_at_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (business_key) DO NOTHING",
                &[&i.business_key, &i.fingerprint, &(i.first_sent_at_ms as i64)],
            )
            .await
            .map_err(db)?;
        Ok(())
    }

    async fn forget_intent_once(&self, business_key: &str) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute_cached("DELETE FROM postato_intents WHERE business_key = $1", &[&business_key])
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn release_once(&self, business_key: &str, worker: &str) -> Result<(), StoreError> {
        let client = self.client().await?;
        self.release_claim(&client, business_key, worker).await
    }

    async fn published_once(&self, business_key: &str) -> Result<Option<PublishedRecord>, StoreError> {
        let client = self.client().await?;
        Self::published_row(&client, business_key).await
    }

    async fn dead_letters_once(&self, after: Option<&str>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let rows = self
            .client()
            .await?
            .query(
                "SELECT business_key, kind, status, message, body, attempts, failed_at_ms, payload, line
                 FROM postato_dead_letters WHERE $1::text IS NULL OR business_key > $1
                 ORDER BY business_key LIMIT $2",
                &[&after, &(limit.min(i64::MAX as usize) as i64)],
            )
            .await
            .map_err(db)?;
        Ok(rows.iter().map(dead_letter).collect())
    }

    async fn remove_dead_letter_once(&self, business_key: &str) -> Result<bool, StoreError> {
        let n = self
            .client()
            .await?
            .execute("DELETE FROM postato_dead_letters WHERE business_key = $1", &[&business_key])
            .await
            .map_err(db)?;
        Ok(n > 0)
    }

    async fn counts_once(&self) -> Result<StoreCounts, StoreError> {
        let client = self.client().await?;
        let published: i64 = client.query_one("SELECT count(*) FROM postato_published", &[]).await.map_err(db)?.get(0);
        let mut counts = StoreCounts { published: published as u64, ..Default::default() };
        for row in
            client.query("SELECT kind, count(*) FROM postato_dead_letters GROUP BY kind", &[]).await.map_err(db)?
        {
            let n = row.get::<_, i64>(1) as u64;
            counts.dead_letters += n;
            counts.dead_letters_by_kind.insert(row.get(0), n);
        }
        let row = client
            .query_one("SELECT count(*), min(not_before_ms), max(not_before_ms) FROM postato_deferred", &[])
            .await
            .map_err(db)?;
        counts.deferred = row.get::<_, i64>(0) as u64;
        counts.next_due_ms = row.get::<_, Option<i64>>(1).map(|n| n as u64);
        counts.deferred_until_ms = row.get::<_, Option<i64>>(2).map(|n| n as u64);
        Ok(counts)
    }
}

#[async_trait]
impl ResultStore for PostgresStore {
    async fn begin(&self, business_key: &str, worker: &str, lease: Duration) -> Result<Begin, StoreError> {
        retrying(|| self.begin_once(business_key, worker, lease)).await
    }

    async fn renew(&self, business_key: &str, worker: &str, lease: Duration) -> Result<(), StoreError> {
        // Not retried here: the Publisher renews again on its next tick.
        self.renew_once(business_key, worker, lease).await
    }

    async fn record_published(&self, record: &PublishedRecord, worker: &str) -> Result<(), StoreError> {
        retrying(|| self.record_published_once(record, worker)).await
    }

    async fn record_dead_letter(&self, letter: &DeadLetter, worker: &str) -> Result<(), StoreError> {
        retrying(|| self.record_dead_letter_once(letter, worker)).await
    }

    async fn record_deferral(&self, deferral: &Deferral, worker: &str) -> Result<(), StoreError> {
        retrying(|| self.record_deferral_once(deferral, worker)).await
    }

    async fn deferrals(&self, after: Option<&str>, limit: usize) -> Result<Vec<Deferral>, StoreError> {
        retrying(|| self.deferrals_once(after, limit)).await
    }

    async fn intent(&self, business_key: &str) -> Result<Option<Intent>, StoreError> {
        retrying(|| self.intent_once(business_key)).await
    }

    async fn record_intent(&self, intent: &Intent) -> Result<(), StoreError> {
        retrying(|| self.record_intent_once(intent)).await
    }

    async fn forget_intent(&self, business_key: &str) -> Result<bool, StoreError> {
        retrying(|| self.forget_intent_once(business_key)).await
    }

    async fn release(&self, business_key: &str, worker: &str) -> Result<(), StoreError> {
        retrying(|| self.release_once(business_key, worker)).await
    }

    async fn published(&self, business_key: &str) -> Result<Option<PublishedRecord>, StoreError> {
        retrying(|| self.published_once(business_key)).await
    }

    async fn dead_letters(&self, after: Option<&str>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        retrying(|| self.dead_letters_once(after, limit)).await
    }

    async fn remove_dead_letter(&self, business_key: &str) -> Result<bool, StoreError> {
        retrying(|| self.remove_dead_letter_once(business_key)).await
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        retrying(|| self.counts_once()).await
    }
}
