//! The transactional outbox in PostgreSQL: `postato_outbox`, where an application enqueues a
//! post in its own transaction (a rolled-back transaction leaves nothing; a committed one is
//! published once), and what a worker does with it: claim due rows with `FOR UPDATE SKIP
//! LOCKED` (any number of workers), wake on `LISTEN postato_outbox` (the enqueue notifies at
//! commit), and mark each row published, dead-lettered or deferred. The publish itself is the
//! [`postato::Publisher`]'s over the same database's [`PostgresStore`], whose claims make it
//! exactly once even when a worker dies mid-publish and another takes its row.
//!
//! The enqueue is one statement, `SELECT postato_enqueue($1, $2, $3, $4)`, with the values of an
//! [`OutboxEntry`] made in Rust ([`enqueue_statement`]): every language runs it on its own
//! connection, in its own transaction. The same post enqueued again is a no-op; another post
//! under its business key raises an error that aborts the caller's transaction.

use postato::postato_core::OutboxEntry;
use postato::{Post, PublishError, StoreError, Timestamp};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres::types::Type;
use tokio_postgres::GenericClient;

use crate::cached::Cached;
use crate::{db, PostgresStore};

/// The channel an enqueue notifies at commit, and workers listen on.
pub const CHANNEL: &str = "postato_outbox";

pub use postato::postato_core::{Enqueued, OUTBOX_MISSING, OUTBOX_REUSED};
pub use postato::store::OutboxCounts;

/// Version 4: the outbox and its enqueue function.
pub(crate) const SCHEMA_V4: &str = r#"
CREATE TABLE IF NOT EXISTS postato_outbox (
    business_key   TEXT PRIMARY KEY,
    fingerprint    TEXT NOT NULL,
    payload        TEXT NOT NULL,
    not_before_ms  BIGINT NOT NULL DEFAULT 0,
    enqueued_at_ms BIGINT NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',
    claimed_by     TEXT,
    lease_until_ms BIGINT NOT NULL DEFAULT 0,
    deliveries     INTEGER NOT NULL DEFAULT 0,
    done_at_ms     BIGINT
);
CREATE INDEX IF NOT EXISTS postato_outbox_pending ON postato_outbox (not_before_ms, enqueued_at_ms)
    WHERE state = 'pending';
CREATE OR REPLACE FUNCTION postato_enqueue(p_key TEXT, p_fingerprint TEXT, p_payload TEXT, p_not_before_ms BIGINT)
RETURNS TEXT LANGUAGE plpgsql SET search_path FROM CURRENT AS $fn$
DECLARE
    existing TEXT;
BEGIN
    INSERT INTO postato_outbox (business_key, fingerprint, payload, not_before_ms, enqueued_at_ms)
    VALUES (p_key, p_fingerprint, p_payload, COALESCE(p_not_before_ms, 0),
            (extract(epoch FROM clock_timestamp()) * 1000)::BIGINT)
    ON CONFLICT (business_key) DO NOTHING;
    IF FOUND THEN
        PERFORM pg_notify('postato_outbox', '');
        RETURN 'enqueued';
    END IF;
    SELECT fingerprint INTO existing FROM postato_outbox WHERE business_key = p_key;
    IF existing = p_fingerprint THEN
        RETURN 'already_enqueued';
    END IF;
    RAISE EXCEPTION 'postato: business_key_reused: business key % is already enqueued with another post: give edited content a new business key', p_key
        USING ERRCODE = 'PT409', DETAIL = 'stored fingerprint ' || existing || ', this post ' || p_fingerprint;
END
$fn$;
"#;

/// The current time in ms since the Unix epoch, as the database sees it (one clock for every
/// worker).
const NOW_MS: &str = "(extract(epoch FROM clock_timestamp()) * 1000)::BIGINT";

/// How a driver writes a statement's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placeholders {
    /// `$1, $2, …`: tokio-postgres, node-postgres, asyncpg.
    Numbered,
    /// `%s`: psycopg.
    Format,
    /// `?`: JDBC.
    Question,
    /// `:business_key, …`: SQLAlchemy's `text()`.
    Named,
}

/// The names of the enqueue's parameters, in order (for [`Placeholders::Named`]).
pub const PARAMETERS: [&str; 4] = ["business_key", "fingerprint", "payload", "not_before_ms"];

/// The enqueue statement for a driver: run it with the values of [`OutboxEntry`] in the order
/// of [`PARAMETERS`], in the application's transaction. It answers one row, one column:
/// `enqueued` or `already_enqueued`.
pub fn enqueue_statement(placeholders: Placeholders) -> String {
    let marks: Vec<String> = match placeholders {
        Placeholders::Numbered => (1..=4).map(|i| format!("${i}")).collect(),
        Placeholders::Format => vec!["%s".to_owned(); 4],
        Placeholders::Question => vec!["?".to_owned(); 4],
        Placeholders::Named => PARAMETERS.iter().map(|name| format!(":{name}")).collect(),
    };
    format!("SELECT postato_enqueue({}, {}, {}, {})", marks[0], marks[1], marks[2], marks[3])
}

/// Enqueues `post` (sent no earlier than `not_before`) through `client`: inside a
/// transaction of the application's (`client.transaction()`), it is published once that
/// transaction commits, and never if it rolls back. Another post under an enqueued business
/// key is `BusinessKeyReused`, and the transaction is aborted; an invalid post is refused
/// before anything is written. The outbox must exist: [`PostgresStore::connect`] (or
/// `postato worker`) creates it.
pub async fn enqueue(
    client: &impl GenericClient,
    post: &Post,
    not_before: Option<Timestamp>,
) -> Result<Enqueued, PublishError> {
    let entry = OutboxEntry::of(post, not_before)?;
    let not_before_ms = i64::try_from(entry.not_before_ms).unwrap_or(i64::MAX);
    // Typed parameters: one round trip, and no statement left on the caller's connection.
    let row = client
        .query_typed_one(
            &enqueue_statement(Placeholders::Numbered),
            &[
                (&entry.business_key, Type::TEXT),
                (&entry.fingerprint, Type::TEXT),
                (&entry.payload, Type::TEXT),
                (&not_before_ms, Type::INT8),
            ],
        )
        .await
        .map_err(|e| enqueue_error(e, &entry))?;
    Ok(match row.get::<_, &str>(0) {
        "enqueued" => Enqueued::Enqueued,
        _ => Enqueued::AlreadyEnqueued,
    })
}

/// An enqueue's database error as postato's: another post under the key, an outbox that does
/// not exist yet, or the store's error.
fn enqueue_error(e: tokio_postgres::Error, entry: &OutboxEntry) -> PublishError {
    let sqlstate = e.code().map(|code| code.code().to_owned());
    let detail = e.as_db_error().and_then(|d| d.detail()).map(str::to_owned);
    postato::postato_core::outbox_error(sqlstate.as_deref(), detail.as_deref(), &entry.business_key, &entry.fingerprint)
        .unwrap_or_else(|| PublishError::Transient {
            attempts: 0,
            last: postato::Failure::StoreUnavailable(db(e).to_string()),
        })
}

/// One outbox row a worker claimed.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub business_key: String,
    /// The stored post (as enqueued).
    pub payload: String,
    /// How many times a worker has taken this row (1 the first time).
    pub deliveries: i32,
}

impl PostgresStore {
    /// Claims at most `limit` due outbox rows for `worker` for `lease` (rows held by another
    /// worker's live lease, or locked by one claiming now, are skipped).
    pub async fn outbox_claim(&self, worker: &str, lease: Duration, limit: usize) -> Result<Vec<Claimed>, StoreError> {
        let client = self.client().await?;
        let rows = client
            .query_cached(
                &format!(
                    "UPDATE postato_outbox SET claimed_by = $1, lease_until_ms = {NOW_MS} + $2, deliveries = deliveries + 1
                     WHERE business_key IN (
                         SELECT business_key FROM postato_outbox
                         WHERE state = 'pending' AND not_before_ms <= {NOW_MS} AND lease_until_ms <= {NOW_MS}
                         ORDER BY not_before_ms, enqueued_at_ms LIMIT $3 FOR UPDATE SKIP LOCKED)
                     RETURNING business_key, payload, deliveries"
                ),
                &[&worker, &(lease.as_millis() as i64), &(limit as i64)],
            )
            .await
            .map_err(db)?;
        Ok(rows
            .into_iter()
            .map(|row| Claimed { business_key: row.get(0), payload: row.get(1), deliveries: row.get(2) })
            .collect())
    }

    /// Marks the row `worker` claimed (its `deliveries`th delivery) done: `published`, or
    /// `dead_lettered` (published after all when the store records this post published: a row
    /// never says "not published" of a post that is). A row another worker (or delivery) has taken since is
    /// left to it.
    pub async fn outbox_done(&self, row: &Claimed, worker: &str, published: bool) -> Result<(), StoreError> {
        self.client()
            .await?
            .execute_cached(
                &format!(
                    "UPDATE postato_outbox
                     SET state = CASE WHEN $4 OR EXISTS (SELECT 1 FROM postato_published p
                                                         WHERE p.business_key = $1 AND p.fingerprint = postato_outbox.fingerprint)
                                      THEN 'published' ELSE 'dead_lettered' END,
                         claimed_by = NULL, lease_until_ms = 0, done_at_ms = {NOW_MS}
                     WHERE business_key = $1 AND claimed_by = $2 AND deliveries = $3 AND state = 'pending'"
                ),
                &[&row.business_key, &worker, &row.deliveries, &published],
            )
            .await
            .map_err(db)
            .map(drop)
    }

    /// Puts the row `worker` claimed back for `wait`, added to the database's clock (the one
    /// claims are made by, so a worker's clock never makes a row due early), never earlier than
    /// it was. Unless its publish `failed` (a failure that counts,
    /// [`RowNext::counts`](postato::postato_core::RowNext::counts)), this take is not counted
    /// among the row's deliveries: a row put back because another worker held its key, or its
    /// publish was deferred, cancelled or not recorded, or the network or the store was down,
    /// keeps every delivery its failures may use before it is dead-lettered.
    pub async fn outbox_release(
        &self,
        row: &Claimed,
        worker: &str,
        wait: Duration,
        failed: bool,
    ) -> Result<(), StoreError> {
        let wait_ms = i64::try_from(wait.as_millis()).unwrap_or(i64::MAX);
        self.client()
            .await?
            .execute_cached(
                &format!(
                    "UPDATE postato_outbox
                     SET claimed_by = NULL, lease_until_ms = 0,
                         not_before_ms = GREATEST(not_before_ms, {NOW_MS} + $4),
                         deliveries = deliveries - CASE WHEN $5 THEN 0 ELSE 1 END
                     WHERE business_key = $1 AND claimed_by = $2 AND deliveries = $3 AND state = 'pending'"
                ),
                &[&row.business_key, &worker, &row.deliveries, &wait_ms, &failed],
            )
            .await
            .map_err(db)
            .map(drop)
    }

    /// Extends the lease of the row `worker` claimed by `lease` from now; false when the row is
    /// no longer its own (its lease lapsed and another worker took it).
    pub async fn outbox_renew(&self, row: &Claimed, worker: &str, lease: Duration) -> Result<bool, StoreError> {
        let renewed = self
            .client()
            .await?
            .execute_cached(
                &format!(
                    "UPDATE postato_outbox SET lease_until_ms = {NOW_MS} + $4
                     WHERE business_key = $1 AND claimed_by = $2 AND deliveries = $3 AND state = 'pending'"
                ),
                &[&row.business_key, &worker, &row.deliveries, &(lease.as_millis() as i64)],
            )
            .await
            .map_err(db)?;
        Ok(renewed == 1)
    }

    /// Puts every row `worker` holds back, at once due (a worker that stops).
    pub async fn outbox_release_all(&self, worker: &str) -> Result<u64, StoreError> {
        self.client()
            .await?
            .execute_cached(
                "UPDATE postato_outbox SET claimed_by = NULL, lease_until_ms = 0, deliveries = GREATEST(deliveries - 1, 0)
                 WHERE claimed_by = $1 AND state = 'pending'",
                &[&worker],
            )
            .await
            .map_err(db)
    }

    /// How long until the next pending row is due (or its lease lapses), by the database's
    /// clock (the one claims are made by), if any row is pending.
    pub async fn outbox_next_due_in(&self) -> Result<Option<Duration>, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "SELECT GREATEST(0, min(GREATEST(not_before_ms, lease_until_ms)) - {NOW_MS})
                     FROM postato_outbox WHERE state = 'pending'"
                ),
                &[],
            )
            .await
            .map_err(db)?;
        Ok(row.get::<_, Option<i64>>(0).map(|ms| Duration::from_millis(ms.max(0) as u64)))
    }

    /// The outbox's rows by state.
    pub async fn outbox_counts(&self) -> Result<OutboxCounts, StoreError> {
        let row = self
            .client()
            .await?
            .query_one(
                &format!(
                    "SELECT count(*) FILTER (WHERE state = 'pending'),
                            count(*) FILTER (WHERE state = 'pending' AND not_before_ms <= {NOW_MS}),
                            count(*) FILTER (WHERE state = 'pending' AND lease_until_ms > {NOW_MS}),
                            count(*) FILTER (WHERE state = 'published'),
                            count(*) FILTER (WHERE state = 'dead_lettered'),
                            min(not_before_ms) FILTER (WHERE state = 'pending' AND not_before_ms > {NOW_MS})
                     FROM postato_outbox"
                ),
                &[],
            )
            .await
            .map_err(db)?;
        let count = |i: usize| row.get::<_, i64>(i).max(0) as u64;
        Ok(OutboxCounts {
            pending: count(0),
            due: count(1),
            claimed: count(2),
            published: count(3),
            dead_lettered: count(4),
            next_due_ms: row.get::<_, Option<i64>>(5).map(|ms| ms.max(0) as u64),
        })
    }

    /// Whether the database answers now (for a health check), within `within`.
    pub async fn reachable(&self, within: Duration) -> bool {
        let probe = async { self.client().await.ok()?.query_one("SELECT 1", &[]).await.ok() };
        matches!(tokio::time::timeout(within, probe).await, Ok(Some(_)))
    }

    /// Listens on [`CHANNEL`] on a connection of its own: the listener is woken at each
    /// enqueue's commit. When the connection is lost, [`OutboxListener::is_listening`] turns
    /// false (listen again; meanwhile, poll).
    pub async fn outbox_listen(&self) -> Result<OutboxListener, StoreError> {
        use futures_util::StreamExt;
        self.ready().await?;
        let wake = Arc::new(tokio::sync::Notify::new());
        let listening = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let mut config = self.listen.config.clone();
        // A server that stops answering is noticed within about a minute (30 s idle, then 3
        // probes 10 s apart): the connection then ends, and the worker listens again.
        config
            .connect_timeout(Duration::from_secs(10))
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
        let (client, task) = match self.listen.tls.clone() {
            Some(tls) => {
                let (client, mut connection) = config.connect(tls).await.map_err(db)?;
                let stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                (client, forward(stream.boxed(), Arc::clone(&wake), Arc::clone(&listening)))
            }
            None => {
                let (client, mut connection) = config.connect(tokio_postgres::NoTls).await.map_err(db)?;
                let stream = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
                (client, forward(stream.boxed(), Arc::clone(&wake), Arc::clone(&listening)))
            }
        };
        let task = tokio::spawn(task);
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await.map_err(db)?;
        Ok(OutboxListener { _client: client, wake, listening, task })
    }
}

type Messages = futures_util::stream::BoxStream<'static, Result<tokio_postgres::AsyncMessage, tokio_postgres::Error>>;

/// Drives the listening connection: each notification wakes the listener; the end of the
/// connection marks it as no longer listening and wakes it once more. That last wake-up is a
/// `notify_one`, kept for the next wait when nobody waits yet: a worker that read
/// [`OutboxListener::is_listening`] just before the end still hears of it at once (with
/// `notify_waiters` it would sleep a whole poll).
async fn forward(
    mut messages: Messages,
    wake: Arc<tokio::sync::Notify>,
    listening: Arc<std::sync::atomic::AtomicBool>,
) {
    use futures_util::StreamExt;
    while let Some(message) = messages.next().await {
        match message {
            Ok(tokio_postgres::AsyncMessage::Notification(_)) => wake.notify_one(),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    listening.store(false, std::sync::atomic::Ordering::Release);
    wake.notify_one();
}

/// A connection listening on [`CHANNEL`].
pub struct OutboxListener {
    _client: tokio_postgres::Client,
    wake: Arc<tokio::sync::Notify>,
    listening: Arc<std::sync::atomic::AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl OutboxListener {
    /// Waits for the next enqueue's commit (one notification wakes one wait; notifications
    /// while nobody waits wake the next wait at once). The connection's end wakes one wait
    /// too, at once if nobody waits: check [`OutboxListener::is_listening`] after it.
    pub async fn notified(&self) {
        self.wake.notified().await;
    }

    /// Whether the connection still listens.
    pub fn is_listening(&self) -> bool {
        self.listening.load(std::sync::atomic::Ordering::Acquire)
    }
}

impl Drop for OutboxListener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PostgresStore {
    /// Enqueues `post` in a transaction of its own (see [`enqueue`], which runs in the
    /// application's).
    pub async fn enqueue(&self, post: &Post, not_before: Option<Timestamp>) -> Result<Enqueued, PublishError> {
        let unavailable = |e: StoreError| PublishError::Transient {
            attempts: 0,
            last: postato::Failure::StoreUnavailable(e.to_string()),
        };
        let client = self.client().await.map_err(unavailable)?;
        let client: &tokio_postgres::Client = &client;
        enqueue(client, post, not_before).await
    }
}
