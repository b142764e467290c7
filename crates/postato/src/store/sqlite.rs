//! [`SqliteStore`]: the embedded default, one SQLite file (WAL) with a versioned schema.

use postato_core::ValidationError;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::claims::Recorded;
use super::group_commit::GroupCommit;
use super::process_lock::OneFile;
use super::{Begin, DeadLetter, Deferral, Intent, PublishedRecord, ResultStore, StoreCounts, StoreError};

/// Prepared statements a connection keeps: more than the store and its outbox run.
const STATEMENT_CACHE: usize = 64;

/// The schema version this build writes.
const SCHEMA_VERSION: i64 = 3;

const SCHEMA_V1: &str = "
CREATE TABLE IF NOT EXISTS published (
    business_key    TEXT PRIMARY KEY,
    idempotency_key TEXT NOT NULL,
    fingerprint     TEXT NOT NULL,
    post_id         TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL,
    replayed        INTEGER NOT NULL,
    published_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS dead_letters (
    business_key TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    status       INTEGER,
    message      TEXT NOT NULL,
    body         TEXT,
    attempts     INTEGER NOT NULL,
    failed_at_ms INTEGER NOT NULL,
    payload      TEXT,
    line         INTEGER
);
";

/// Version 2: intents, the publishes sent whose outcome is not yet recorded.
const SCHEMA_V2: &str = "
CREATE TABLE IF NOT EXISTS intents (
    business_key     TEXT PRIMARY KEY,
    fingerprint      TEXT NOT NULL,
    first_sent_at_ms INTEGER NOT NULL
);
";

/// Version 3: deferred posts, each published once its `not_before_ms` has come.
const SCHEMA_V3: &str = "
CREATE TABLE IF NOT EXISTS deferred (
    business_key   TEXT PRIMARY KEY,
    not_before_ms  INTEGER NOT NULL,
    reason         TEXT NOT NULL,
    message        TEXT NOT NULL,
    attempts       INTEGER NOT NULL,
    deferred_at_ms INTEGER NOT NULL,
    payload        TEXT,
    line           INTEGER
);
";

/// The device's outbox (see `sqlite_outbox`): created in every store that lacks it, without a
/// new schema version (a postato before it ignores a table of its own it does not know, so a
/// store it opened stays open to both).
const OUTBOX: &str = super::sqlite_outbox::SCHEMA;

/// Results in one SQLite file. Safe to reopen after a crash: a new process on the same file
/// skips what was published. Claims are held in memory, one set per file in a process, and one
/// process at a time claims keys: the first claim locks the file for this process, and a store
/// in another process that tries to claim is refused ("in use by pid N"). To share a campaign
/// across processes or machines, use a shared store (PostgreSQL).
#[derive(Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    /// The connection's queue: reads, and writes committed together (see `group_commit`).
    queue: GroupCommit,
    /// The claims and cross-process lock of the file, shared by every store open on it.
    pub(super) file: Arc<OneFile>,
    path: String,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish()
    }
}

/// Marks a SQLite file as a postato store (`PRAGMA application_id`, "post" in ASCII), so that
/// another program's database is never taken for one.
const APPLICATION_ID: i64 = 0x706f_7374;

/// The tables a postato store holds, with their columns.
const OUR_TABLES: [(&str, &[&str]); 5] = [
    (
        "published",
        &[
            "business_key",
            "idempotency_key",
            "fingerprint",
            "post_id",
            "status",
            "attempts",
            "replayed",
            "published_at_ms",
        ],
    ),
    (
        "dead_letters",
        &["business_key", "kind", "status", "message", "body", "attempts", "failed_at_ms", "payload", "line"],
    ),
    ("intents", &["business_key", "fingerprint", "first_sent_at_ms"]),
    (
        "deferred",
        &["business_key", "not_before_ms", "reason", "message", "attempts", "deferred_at_ms", "payload", "line"],
    ),
    (
        "postato_outbox",
        &[
            "business_key",
            "fingerprint",
            "payload",
            "not_before_ms",
            "enqueued_at_ms",
            "state",
            "deliveries",
            "done_at_ms",
        ],
    ),
];

impl SqliteStore {
    /// Opens the store at `path`, creating it if needed. An empty path (which SQLite would
    /// take for a temporary database, lost at the end) and a file that is another program's
    /// database are refused.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = checked_path(path.as_ref())?;
        // No SQLITE_OPEN_URI: `file::memory:` is a file name here, never a temporary database.
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags).map_err(|e| cannot_open(path, &e))?;
        Self::init(conn, path, true).map(|store| store.on_file(path))
    }

    /// Opens an existing store at `path`, never creating one: for commands that only read or
    /// tidy a store (`status`, `dlq`), where a mistyped path must be an error, not a new empty
    /// store.
    pub fn open_existing(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = checked_path(path.as_ref())?;
        if !path.is_file() {
            return Err(StoreError::new(format!(
                "there is no store at {}: check the path (this command reads an existing store and never creates one)",
                path.display()
            )));
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| cannot_open(path, &e))?;
        Self::init(conn, path, false).map(|store| store.on_file(path))
    }

    /// A store in memory (for tests).
    pub fn in_memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory()?, Path::new(":memory:"), true)
    }

    fn init(conn: Connection, path: &Path, create: bool) -> Result<Self, StoreError> {
        let shown = path.display().to_string();
        let not_a_database = |e: rusqlite::Error| cannot_open(path, &e);
        conn.busy_timeout(postato_core::defaults::SQLITE_BUSY_TIMEOUT).map_err(not_a_database)?;
        // Room for every statement the store runs, so that none is parsed again per round.
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let version: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0)).map_err(not_a_database)?;
        let application_id: i64 =
            conn.pragma_query_value(None, "application_id", |row| row.get(0)).map_err(not_a_database)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::new(format!(
                "{shown} has schema version {version}, newer than this postato understands ({SCHEMA_VERSION}): upgrade postato"
            )));
        }
        // A postato store (marked, or versioned by an earlier postato) may hold tables of its
        // own beside ours (a replication tool's, a user's); an unmarked file with tables that
        // are not ours is another program's database.
        let ours = application_id == APPLICATION_ID || (application_id == 0 && version > 0);
        let foreign = foreign_tables(&conn, ours).map_err(not_a_database)?;
        if (application_id != 0 && application_id != APPLICATION_ID) || !foreign.is_empty() {
            return Err(StoreError::new(format!(
                "{shown} is another program's SQLite database (tables: {}): give postato a file of its own, such as postato.db",
                if foreign.is_empty() { "none of postato's".to_owned() } else { foreign.join(", ") }
            )));
        }
        if version == 0 && !create {
            return Err(StoreError::new(format!(
                "{shown} is not a postato store (it holds no postato tables): check the path"
            )));
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // Checkpoint every 10,000 WAL pages (about 40 MiB) rather than SQLite's 1,000: each
        // checkpoint syncs the file while the store's queue waits, and at 1,000 pages they took
        // a quarter of `postato batch`'s time on ext4. The WAL is no less durable for it.
        conn.pragma_update(None, "wal_autocheckpoint", 10_000)?;
        if version < SCHEMA_VERSION {
            conn.execute_batch(SCHEMA_V1)?;
            conn.execute_batch(SCHEMA_V2)?;
            conn.execute_batch(SCHEMA_V3)?;
            conn.pragma_update(None, "user_version", SCHEMA_VERSION)?;
            conn.pragma_update(None, "application_id", APPLICATION_ID)?;
        }
        match create {
            true => conn.execute_batch(OUTBOX)?,
            // A command that only reads (`status`) may read a file it cannot write: without the
            // table, the store simply holds no outbox.
            false => drop(conn.execute_batch(OUTBOX)),
        }
        Ok(SqliteStore {
            conn: Arc::new(Mutex::new(conn)),
            queue: GroupCommit::default(),
            file: OneFile::in_memory(),
            path: shown,
        })
    }

    /// This store on the file at `path`: its writes failing once the file there is no longer
    /// the one opened, its claims shared with the other stores open on the file.
    fn on_file(self, path: &Path) -> Self {
        SqliteStore { queue: GroupCommit::guarding(path), file: OneFile::of(path), ..self }
    }

    /// This store with every commit synced to the disk (`synchronous = FULL`, and `fullfsync`
    /// on Apple's systems): what a commit wrote survives a power loss, not only a killed process. A device's outbox opens its
    /// store so (an enqueued post is the only copy of it); a campaign's store need not (a lost
    /// record means a replay under the same idempotency key, never a lost post).
    pub fn synced(self) -> Result<Self, StoreError> {
        let conn = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        conn.pragma_update(None, "synchronous", "FULL")?;
        // On Apple's systems a plain fsync leaves the data in the drive's cache: F_FULLFSYNC
        // (a no-op elsewhere).
        conn.pragma_update(None, "fullfsync", true)?;
        drop(conn);
        Ok(self)
    }

    /// Locks the store for publishing from this process, as its first claim would: an error
    /// naming the process that publishes through it if another does. A command that publishes
    /// calls it first, to stop before reading its input rather than at its first post.
    pub fn lock_for_publishing(&self) -> Result<(), StoreError> {
        self.file.lock_for_publishing(&self.path)
    }

    /// The file's path.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Runs the statements of `f` in the next group transaction, beside those of concurrent
    /// calls; returns once that transaction committed. One thread serves the whole queue, so
    /// concurrent publishes cost one hand-off and one commit per batch rather than a
    /// blocking-pool task and a commit each.
    pub(super) async fn write<R: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.queue.write(&self.conn, f).await
    }

    /// Runs the read `f` in the next round of the same queue, against committed records.
    pub(super) async fn read<R: Send + 'static>(
        &self,
        f: impl Fn(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.queue.read(&self.conn, f).await
    }
}

/// The rule for a SQLite store's path, which every language's store checks through this
/// function: refused when empty or blank (SQLite reads an empty name as "a temporary
/// database", whose dead letters and resume state would vanish when the run ends) or
/// `:memory:`. The error names the setting `path`.
pub fn check_sqlite_path(path: &str) -> Result<(), ValidationError> {
    if path.trim().is_empty() {
        return Err(ValidationError::setting(
            "path",
            "is empty: give a file, such as postato.db (an empty name would be a temporary database, lost when the process ends; a memory store keeps records in memory)",
        ));
    }
    if path == ":memory:" {
        return Err(ValidationError::setting(
            "path",
            "is \":memory:\", a database lost when the process ends: give a file, such as postato.db, or use a memory store",
        ));
    }
    Ok(())
}

fn checked_path(path: &Path) -> Result<&Path, StoreError> {
    check_sqlite_path(&path.as_os_str().to_string_lossy())
        .map_err(|e| StoreError::new(format!("the store's path {}", e.message)))?;
    Ok(path)
}

/// Why `path` cannot be a store, and what to do: the advice depends on SQLite's reason.
fn cannot_open(path: &Path, e: &rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    let shown = path.display();
    let advice = match e.sqlite_error_code() {
        Some(ErrorCode::CannotOpen | ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            "check that the directory exists and that this user may write there (SQLite creates the store's -wal \
             and -shm files beside it)"
                .to_owned()
        }
        _ => "give a SQLite file of postato's, or a new path".to_owned(),
    };
    StoreError::new(format!("cannot use {shown} as a store: {e}: {advice}"))
}

/// Tables in the file that a postato store does not hold (ignored in a postato store, `ours`),
/// or holds without the columns it needs.
fn foreign_tables(conn: &Connection, ours: bool) -> rusqlite::Result<Vec<String>> {
    let mut statement =
        conn.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")?;
    let names = statement.query_map([], |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
    let mut foreign = Vec::new();
    for name in names {
        let fits = match OUR_TABLES.iter().find(|(table, _)| *table == name) {
            Some((_, columns)) => {
                let mut info = conn.prepare("SELECT name FROM pragma_table_info(?1)")?;
                let found =
                    info.query_map([&name], |row| row.get::<_, String>(0))?.collect::<rusqlite::Result<Vec<_>>>()?;
                columns.iter().all(|column| found.iter().any(|f| f == column))
            }
            None => ours,
        };
        if !fits {
            foreign.push(name);
        }
    }
    Ok(foreign)
}

fn select_intent(conn: &Connection, key: &str) -> rusqlite::Result<Option<Intent>> {
    conn.prepare_cached("SELECT business_key, fingerprint, first_sent_at_ms FROM intents WHERE business_key = ?1")?
        .query_row([key], |row| {
            Ok(Intent {
                business_key: row.get(0)?,
                fingerprint: row.get(1)?,
                first_sent_at_ms: row.get::<_, i64>(2)? as u64,
            })
        })
        .optional()
}

fn published_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PublishedRecord> {
    Ok(PublishedRecord {
        business_key: row.get(0)?,
        idempotency_key: row.get(1)?,
        fingerprint: row.get(2)?,
        post_id: row.get(3)?,
        status: row.get(4)?,
        attempts: row.get(5)?,
        replayed: row.get(6)?,
        published_at_ms: row.get::<_, i64>(7)? as u64,
    })
}

fn select_published(conn: &Connection, key: &str) -> rusqlite::Result<Option<PublishedRecord>> {
    conn.prepare_cached(
        "SELECT business_key, idempotency_key, fingerprint, post_id, status, attempts, replayed, published_at_ms
         FROM published WHERE business_key = ?1",
    )?
    .query_row([key], published_row)
    .optional()
}

const DEFERRAL_COLUMNS: &str = "business_key, not_before_ms, reason, message, attempts, deferred_at_ms, payload, line";

fn deferral_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Deferral> {
    Ok(Deferral {
        business_key: row.get(0)?,
        not_before_ms: row.get::<_, i64>(1)? as u64,
        reason: row.get(2)?,
        message: row.get(3)?,
        attempts: row.get(4)?,
        deferred_at_ms: row.get::<_, i64>(5)? as u64,
        payload: row.get(6)?,
        line: row.get::<_, Option<i64>>(7)?.map(|n| n as u64),
    })
}

/// What the records say about `key`: published, deferred, or nothing.
fn select_recorded(conn: &Connection, key: &str) -> rusqlite::Result<Recorded> {
    if let Some(record) = select_published(conn, key)? {
        return Ok(Recorded::Published(record));
    }
    let deferral = conn
        .prepare_cached(&format!("SELECT {DEFERRAL_COLUMNS} FROM deferred WHERE business_key = ?1"))?
        .query_row([key], deferral_row)
        .optional()?;
    Ok(deferral.map_or(Recorded::Nothing, Recorded::Deferred))
}

#[async_trait::async_trait]
impl ResultStore for SqliteStore {
    async fn begin(&self, business_key: &str, worker: &str, lease: Duration) -> Result<Begin, StoreError> {
        let lookup = || {
            let key = business_key.to_owned();
            self.read(move |c| select_recorded(c, &key))
        };
        self.lock_for_publishing()?;
        self.file.claims.begin(business_key, worker, lease, lookup).await
    }

    async fn renew(&self, business_key: &str, worker: &str, lease: Duration) -> Result<(), StoreError> {
        self.file.claims.renew(business_key, worker, lease)
    }

    async fn record_published(&self, record: &PublishedRecord, worker: &str) -> Result<(), StoreError> {
        let r = record.clone();
        self.write(move |tx| {
            tx.prepare_cached(
                "INSERT OR IGNORE INTO published
                 (business_key, idempotency_key, fingerprint, post_id, status, attempts, replayed, published_at_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                r.business_key,
                r.idempotency_key,
                r.fingerprint,
                r.post_id,
                r.status,
                r.attempts,
                r.replayed,
                r.published_at_ms as i64
            ])?;
            tx.prepare_cached("DELETE FROM dead_letters WHERE business_key = ?1")?.execute([&r.business_key])?;
            tx.prepare_cached("DELETE FROM deferred WHERE business_key = ?1")?.execute([&r.business_key])?;
            tx.prepare_cached("DELETE FROM intents WHERE business_key = ?1")?.execute([&r.business_key])?;
            Ok(())
        })
        .await?;
        self.file.claims.release(&record.business_key, worker);
        Ok(())
    }

    async fn record_dead_letter(&self, letter: &DeadLetter, worker: &str) -> Result<(), StoreError> {
        if !self.file.claims.may_record(&letter.business_key, worker) {
            return Err(StoreError::lost_claim(&letter.business_key));
        }
        let l = letter.clone();
        // Written only while the key is not published.
        let written = self
            .write(move |c| {
                let written = c
                    .prepare_cached(
                        "INSERT OR REPLACE INTO dead_letters
                 (business_key, kind, status, message, body, attempts, failed_at_ms, payload, line)
                 SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
                 WHERE NOT EXISTS (SELECT 1 FROM published WHERE business_key = ?1)",
                    )?
                    .execute(params![
                        l.business_key,
                        l.kind,
                        l.status,
                        l.message,
                        l.body,
                        l.attempts,
                        l.failed_at_ms as i64,
                        l.payload,
                        l.line.map(|n| n as i64)
                    ])?;
                if written > 0 {
                    c.prepare_cached("DELETE FROM deferred WHERE business_key = ?1")?.execute([&l.business_key])?;
                }
                Ok(written)
            })
            .await?;
        self.file.claims.release(&letter.business_key, worker);
        if written == 0 {
            return Err(StoreError::already_published(&letter.business_key));
        }
        Ok(())
    }

    async fn record_deferral(&self, deferral: &Deferral, worker: &str) -> Result<(), StoreError> {
        if !self.file.claims.may_record(&deferral.business_key, worker) {
            return Err(StoreError::lost_claim(&deferral.business_key));
        }
        let d = deferral.clone();
        // Written only while the key is not published; it replaces the key's dead letter.
        let written = self
            .write(move |c| {
                let written = c
                    .prepare_cached(&format!(
                        "INSERT OR REPLACE INTO deferred ({DEFERRAL_COLUMNS})
                         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
                         WHERE NOT EXISTS (SELECT 1 FROM published WHERE business_key = ?1)"
                    ))?
                    .execute(params![
                        d.business_key,
                        d.not_before_ms as i64,
                        d.reason,
                        d.message,
                        d.attempts,
                        d.deferred_at_ms as i64,
                        d.payload,
                        d.line.map(|n| n as i64)
                    ])?;
                if written > 0 {
                    c.prepare_cached("DELETE FROM dead_letters WHERE business_key = ?1")?.execute([&d.business_key])?;
                }
                Ok(written)
            })
            .await?;
        self.file.claims.release(&deferral.business_key, worker);
        if written == 0 {
            return Err(StoreError::already_published(&deferral.business_key));
        }
        Ok(())
    }

    async fn deferrals(&self, after: Option<&str>, limit: usize) -> Result<Vec<Deferral>, StoreError> {
        let after = after.map(str::to_owned);
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {DEFERRAL_COLUMNS} FROM deferred WHERE ?1 IS NULL OR business_key > ?1
                 ORDER BY business_key LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![after, limit.min(i64::MAX as usize) as i64], deferral_row)?;
            rows.collect()
        })
        .await
    }

    async fn intent(&self, business_key: &str) -> Result<Option<Intent>, StoreError> {
        let key = business_key.to_owned();
        self.read(move |c| select_intent(c, &key)).await
    }

    async fn note_intent(&self, fresh: &Intent) -> Result<Option<Intent>, StoreError> {
        let i = fresh.clone();
        // One round trip: the lookup and the insert in the same transaction.
        self.write(move |c| {
            if let Some(existing) = select_intent(c, &i.business_key)? {
                return Ok(Some(existing));
            }
            c.prepare_cached(
                "INSERT OR IGNORE INTO intents (business_key, fingerprint, first_sent_at_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![i.business_key, i.fingerprint, i.first_sent_at_ms as i64])?;
            Ok(None)
        })
        .await
    }

    async fn record_intent(&self, intent: &Intent) -> Result<(), StoreError> {
        let i = intent.clone();
        self.write(move |c| {
            c.prepare_cached(
                "INSERT OR IGNORE INTO intents (business_key, fingerprint, first_sent_at_ms) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![i.business_key, i.fingerprint, i.first_sent_at_ms as i64])
            .map(drop)
        })
        .await
    }

    async fn forget_intent(&self, business_key: &str) -> Result<bool, StoreError> {
        let key = business_key.to_owned();
        self.write(move |c| c.execute("DELETE FROM intents WHERE business_key = ?1", [&key]).map(|n| n > 0)).await
    }

    async fn release(&self, business_key: &str, worker: &str) -> Result<(), StoreError> {
        self.file.claims.release(business_key, worker);
        Ok(())
    }

    async fn published(&self, business_key: &str) -> Result<Option<PublishedRecord>, StoreError> {
        let key = business_key.to_owned();
        self.read(move |c| select_published(c, &key)).await
    }

    async fn dead_letters(&self, after: Option<&str>, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        let after = after.unwrap_or("").to_owned();
        let include_empty = after.is_empty();
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT business_key, kind, status, message, body, attempts, failed_at_ms, payload, line
                 FROM dead_letters WHERE business_key > ?1 OR (?2 AND business_key = '')
                 ORDER BY business_key LIMIT ?3",
            )?;
            let rows = statement.query_map(params![after, include_empty, limit as i64], |row| {
                Ok(DeadLetter {
                    business_key: row.get(0)?,
                    kind: row.get(1)?,
                    status: row.get(2)?,
                    message: row.get(3)?,
                    body: row.get(4)?,
                    attempts: row.get(5)?,
                    failed_at_ms: row.get::<_, i64>(6)? as u64,
                    payload: row.get(7)?,
                    line: row.get::<_, Option<i64>>(8)?.map(|n| n as u64),
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn remove_dead_letter(&self, business_key: &str) -> Result<bool, StoreError> {
        let key = business_key.to_owned();
        self.write(move |c| c.execute("DELETE FROM dead_letters WHERE business_key = ?1", [&key]).map(|n| n > 0)).await
    }

    async fn counts(&self) -> Result<StoreCounts, StoreError> {
        self.read(|c| {
            let published: i64 = c.query_row("SELECT COUNT(*) FROM published", [], |r| r.get(0))?;
            let mut counts = StoreCounts { published: published as u64, ..Default::default() };
            let mut statement = c.prepare("SELECT kind, COUNT(*) FROM dead_letters GROUP BY kind")?;
            for row in statement.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))? {
                let (kind, n) = row?;
                counts.dead_letters += n as u64;
                counts.dead_letters_by_kind.insert(kind, n as u64);
            }
            let (deferred, next_due, until): (i64, Option<i64>, Option<i64>) =
                c.query_row("SELECT COUNT(*), MIN(not_before_ms), MAX(not_before_ms) FROM deferred", [], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
            counts.deferred = deferred as u64;
            counts.next_due_ms = next_due.map(|n| n as u64);
            counts.deferred_until_ms = until.map(|n| n as u64);
            Ok(counts)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_synced_store_syncs_every_commit() {
        let store = SqliteStore::in_memory().unwrap().synced().unwrap();
        let conn = store.conn.lock().unwrap();
        let synchronous: i64 = conn.pragma_query_value(None, "synchronous", |row| row.get(0)).unwrap();
        let fullfsync: i64 = conn.pragma_query_value(None, "fullfsync", |row| row.get(0)).unwrap();
        assert_eq!((synchronous, fullfsync), (2, 1), "FULL, and F_FULLFSYNC where there is one");
    }
}
