//! A device's outbox in the [`SqliteStore`]'s file: the `postato_outbox` table, where an app
//! writes a post the moment it has one (offline or not), and the rows a drain takes, publishes
//! and marks ([`LocalOutbox`](crate::LocalOutbox) does the drain). One drain at a time in one
//! process drains a file (the store's claims are that process's, and [`SqliteStore::draining`]
//! serialises the drains), so a row needs no lease: a row is pending until it is marked
//! published or dead-lettered, and a drain killed mid-publish leaves it pending, to be published
//! by the next drain under the same idempotency key.

use postato_core::{Enqueued, OutboxEntry, Post, PublishError, Timestamp};
use rusqlite::{params, OptionalExtension};

use super::{now_ms, OutboxCounts, SqliteStore, StoreError};

/// The outbox's table, in every store (created when missing).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS postato_outbox (
    business_key   TEXT PRIMARY KEY,
    fingerprint    TEXT NOT NULL,
    payload        TEXT NOT NULL,
    not_before_ms  INTEGER NOT NULL DEFAULT 0,
    enqueued_at_ms INTEGER NOT NULL,
    state          TEXT NOT NULL DEFAULT 'pending',
    deliveries     INTEGER NOT NULL DEFAULT 0,
    done_at_ms     INTEGER
);
CREATE INDEX IF NOT EXISTS postato_outbox_pending ON postato_outbox (not_before_ms, enqueued_at_ms)
    WHERE state = 'pending';
";

/// A pending outbox row, as a drain takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxRow {
    /// The post's business key.
    pub business_key: String,
    /// The stored post (as enqueued).
    pub payload: String,
    /// How many of its publishes failed so far.
    pub deliveries: u32,
}

impl SqliteStore {
    /// The lock a drain of this file's outbox holds: one drain at a time in the process.
    pub(crate) fn draining(&self) -> std::sync::Arc<tokio::sync::Mutex<()>> {
        std::sync::Arc::clone(&self.file.draining)
    }

    /// Writes `post` into the file's outbox, sent no earlier than `not_before`: once this returns
    /// a process killed afterwards loses nothing (nor a power loss, on a store opened
    /// [`synced`](SqliteStore::synced)). The same post again is a no-op (`AlreadyEnqueued`),
    /// unless it was dead-lettered: then it is pending again, its failures forgotten
    /// (`Enqueued`). Another post under an enqueued business key is `BusinessKeyReused`; an
    /// invalid post is refused before anything is written.
    pub async fn enqueue(&self, post: &Post, not_before: Option<Timestamp>) -> Result<Enqueued, PublishError> {
        let entry = OutboxEntry::of(post, not_before)?;
        let e = entry.clone();
        let written = self
            .write(move |c| {
                // New, or the same post dead-lettered before: pending (again).
                let written = c
                    .prepare_cached(
                        "INSERT INTO postato_outbox (business_key, fingerprint, payload, not_before_ms, enqueued_at_ms)
                         VALUES (?1, ?2, ?3, ?4, ?5)
                         ON CONFLICT (business_key) DO UPDATE
                           SET state = 'pending', deliveries = 0, done_at_ms = NULL,
                               not_before_ms = excluded.not_before_ms, enqueued_at_ms = excluded.enqueued_at_ms
                           WHERE postato_outbox.state = 'dead_lettered'
                             AND postato_outbox.fingerprint = excluded.fingerprint",
                    )?
                    .execute(params![
                        e.business_key,
                        e.fingerprint,
                        e.payload,
                        to_sql(e.not_before_ms),
                        to_sql(now_ms())
                    ])?;
                if written == 1 {
                    return Ok(None);
                }
                c.prepare_cached("SELECT fingerprint FROM postato_outbox WHERE business_key = ?1")?
                    .query_row([&e.business_key], |row| row.get::<_, String>(0))
                    .optional()
            })
            .await
            .map_err(|e| crate::publisher::store_unavailable(&e))?;
        match written {
            None => Ok(Enqueued::Enqueued),
            Some(stored) if stored == entry.fingerprint => Ok(Enqueued::AlreadyEnqueued),
            Some(stored) => Err(PublishError::BusinessKeyReused {
                business_key: entry.business_key,
                stored_fingerprint: stored,
                new_fingerprint: entry.fingerprint,
            }),
        }
    }

    /// At most `limit` pending rows due at `now_ms` (the wall clock's), the earliest due first.
    pub async fn outbox_due(&self, now_ms: u64, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT business_key, payload, deliveries FROM postato_outbox
                 WHERE state = 'pending' AND not_before_ms <= ?1
                 ORDER BY not_before_ms, enqueued_at_ms LIMIT ?2",
            )?;
            let rows = statement.query_map(params![to_sql(now_ms), to_sql(limit as u64)], |row| {
                Ok(OutboxRow { business_key: row.get(0)?, payload: row.get(1)?, deliveries: row.get(2)? })
            })?;
            rows.collect()
        })
        .await
    }

    /// Marks a pending row published, or dead-lettered (published after all when the store
    /// records this post published: a row never says "not published" of a post that is); a row
    /// already marked stays as it is.
    pub async fn outbox_done(&self, business_key: &str, published: bool) -> Result<(), StoreError> {
        let key = business_key.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE postato_outbox
                 SET state = CASE WHEN ?2 OR EXISTS (SELECT 1 FROM published p
                                                     WHERE p.business_key = ?1 AND p.fingerprint = postato_outbox.fingerprint)
                                  THEN 'published' ELSE 'dead_lettered' END,
                     done_at_ms = ?3
                 WHERE business_key = ?1 AND state = 'pending'",
            )?
            .execute(params![key, published, to_sql(now_ms())])
            .map(drop)
        })
        .await
    }

    /// Puts a pending row back, due at `not_before_ms` (never earlier than it was); `failed`
    /// counts one more failed delivery.
    pub async fn outbox_put_back(
        &self,
        business_key: &str,
        not_before_ms: u64,
        failed: bool,
    ) -> Result<(), StoreError> {
        let key = business_key.to_owned();
        self.write(move |c| {
            c.prepare_cached(
                "UPDATE postato_outbox SET not_before_ms = MAX(not_before_ms, ?2), deliveries = deliveries + ?3
                 WHERE business_key = ?1 AND state = 'pending'",
            )?
            .execute(params![key, to_sql(not_before_ms), i64::from(failed)])
            .map(drop)
        })
        .await
    }

    /// How many rows the outbox holds, by state (due: by `now_ms`, the wall clock's).
    pub async fn outbox_counts(&self, now_ms: u64) -> Result<OutboxCounts, StoreError> {
        let now = to_sql(now_ms);
        self.read(move |c| {
            c.prepare_cached(
                "SELECT
                    COUNT(*) FILTER (WHERE state = 'pending'),
                    COUNT(*) FILTER (WHERE state = 'pending' AND not_before_ms <= ?1),
                    COUNT(*) FILTER (WHERE state = 'published'),
                    COUNT(*) FILTER (WHERE state = 'dead_lettered'),
                    MIN(not_before_ms) FILTER (WHERE state = 'pending' AND not_before_ms > ?1)
                 FROM postato_outbox",
            )?
            .query_row([now], |row| {
                Ok(OutboxCounts {
                    pending: row.get::<_, i64>(0)? as u64,
                    due: row.get::<_, i64>(1)? as u64,
                    claimed: 0,
                    published: row.get::<_, i64>(2)? as u64,
                    dead_lettered: row.get::<_, i64>(3)? as u64,
                    next_due_ms: row.get::<_, Option<i64>>(4)?.map(|ms| ms as u64),
                })
            })
        })
        .await
    }
}

/// A time or count as SQLite's integer (saturating: ms since the epoch fit until the year
/// 292,278,994).
fn to_sql(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}
