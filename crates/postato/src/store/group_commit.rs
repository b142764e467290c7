//! Group commit for [`super::SqliteStore`]: one thread at a time serves the connection's
//! queue. Each round takes every queued operation, answers the reads from one snapshot of the
//! state committed so far, runs every write in one transaction (taking the write lock at
//! once), commits, and only then answers each writer; it repeats while operations keep
//! arriving. No timer: an operation waits at most for the round in progress and its own,
//! so a transaction grows with the load (up to the number of publishes in flight) and is
//! committed at once when the load stops.
//!
//! Crash safety is the same as one transaction per write: a writer hears `Ok` only after its
//! transaction committed, so every acknowledged record survives a crash of the process (with
//! WAL and `synchronous=NORMAL`, as before, a power loss may lose the last commits). A publish whose
//! record was queued but not committed when the process died is not recorded: its intent (or
//! nothing) is in the store, so the next run sends it again under the same idempotency key and
//! the server replays the first response. Never a double post, never a lost one.
//!
//! A write that fails (a full disk, say) rolls the round's transaction back; the round's
//! writes then run again one transaction each, so each hears its own outcome. (Savepoints per
//! write would do it in one pass, at the cost of copying every page they touch into a
//! sub-journal: a third of the store's time in `postato batch`.) A failed commit fails every
//! write of its transaction.

use rusqlite::{Connection, TransactionBehavior};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

use super::file_guard::FileGuard;
use super::StoreError;

/// A queued operation: runs against the connection (again, for a write whose round failed),
/// then answers its caller.
trait Operation: Send {
    /// Runs the statements, keeping the outcome; whether they succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: the kept outcome, unless the transaction failed (`why`).
    fn answer(self: Box<Self>, transaction_error: Option<&str>);
}

struct Queued<R, F> {
    statements: F,
    outcome: Option<Result<R, StoreError>>,
    reply: oneshot::Sender<Result<R, StoreError>>,
}

impl<R, F> Operation for Queued<R, F>
where
    R: Send,
    F: Fn(&Connection) -> rusqlite::Result<R> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        // A run that panics leaves no outcome: never an earlier run's `Ok`.
        self.outcome = None;
        let outcome = (self.statements)(conn).map_err(StoreError::from);
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
    }

    fn answer(self: Box<Self>, transaction_error: Option<&str>) {
        let _ = self.reply.send(match (self.outcome, transaction_error) {
            (Some(Ok(value)), None) => Ok(value),
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(_)), Some(why)) => Err(StoreError::new(format!("the commit failed: {why}"))),
            (None, Some(why)) => Err(StoreError::new(why.to_owned())),
            (None, None) => Err(StoreError::new("the store's operation failed inside postato (a bug)")),
        });
    }
}

#[derive(Default)]
struct Queue {
    reads: Vec<Box<dyn Operation>>,
    writes: Vec<Box<dyn Operation>>,
    flushing: bool,
    /// Write transactions begun (reruns included), for tests that check writes are grouped.
    transactions: u64,
    /// The store's file, checked before each write round: one deleted or replaced fails the
    /// writes rather than let them land in an unlinked file.
    file: Option<FileGuard>,
}

/// The operation queue of one connection.
#[derive(Clone, Default)]
pub(super) struct GroupCommit {
    queue: Arc<Mutex<Queue>>,
}

impl GroupCommit {
    /// The queue of a store whose file is at `path`.
    pub(super) fn guarding(path: &std::path::Path) -> Self {
        let queue = Queue { file: Some(FileGuard::of(path)), ..Queue::default() };
        GroupCommit { queue: Arc::new(Mutex::new(queue)) }
    }

    /// Runs the write `f` in the next round's transaction on `conn`; returns once that
    /// transaction committed (or failed). `f` may run twice (see the module's note).
    pub(super) async fn write<R: Send + 'static>(
        &self,
        conn: &Arc<Mutex<Connection>>,
        f: impl Fn(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.submit(conn, f, |queue| &mut queue.writes).await
    }

    /// Runs the read `f` on `conn` in the next round, before its writes: it sees only
    /// committed records, and answers without waiting for the commit.
    pub(super) async fn read<R: Send + 'static>(
        &self,
        conn: &Arc<Mutex<Connection>>,
        f: impl Fn(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, StoreError> {
        self.submit(conn, f, |queue| &mut queue.reads).await
    }

    /// Queues `f` on the list `list` picks and waits for its answer.
    async fn submit<R: Send + 'static>(
        &self,
        conn: &Arc<Mutex<Connection>>,
        f: impl Fn(&Connection) -> rusqlite::Result<R> + Send + 'static,
        list: fn(&mut Queue) -> &mut Vec<Box<dyn Operation>>,
    ) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel();
        let op = Box::new(Queued { statements: f, outcome: None, reply });
        self.enqueue(conn, |queue| list(queue).push(op));
        // The sender is dropped unanswered only if the operation panicked.
        answer
            .await
            .map_err(|_| StoreError::new("the store's operation failed inside postato (a bug): nothing was recorded"))?
    }

    /// Queues an operation; starts serving the queue on a blocking thread unless that runs.
    fn enqueue(&self, conn: &Arc<Mutex<Connection>>, push: impl FnOnce(&mut Queue)) {
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            push(&mut queue);
            !std::mem::replace(&mut queue.flushing, true)
        };
        if !start {
            return;
        }
        let server = Server { queue: Arc::clone(&self.queue), conn: Arc::clone(conn), served: false };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn_blocking(move || server.serve())),
            // Outside a runtime: served here, blocking.
            Err(_) => server.serve(),
        }
    }
}

/// Serves a connection's queue until it is empty. Dropped without serving (a runtime that
/// shuts down drops blocking tasks not yet started), it answers what is queued with an error
/// and lets the next operation start a server, so no caller waits for ever.
struct Server {
    queue: Arc<Mutex<Queue>>,
    conn: Arc<Mutex<Connection>>,
    served: bool,
}

impl Server {
    fn serve(mut self) {
        flush(&self.queue, &self.conn);
        self.served = true;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.served {
            return;
        }
        let (reads, writes) = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.flushing = false;
            (std::mem::take(&mut queue.reads), std::mem::take(&mut queue.writes))
        };
        for op in reads.into_iter().chain(writes) {
            op.answer(Some("the store's thread did not run (the runtime is shutting down)"));
        }
    }
}

/// Runs `op`, a panic (a bug) counting as a failure.
fn run(op: &mut Box<dyn Operation>, conn: &Connection) -> bool {
    std::panic::catch_unwind(AssertUnwindSafe(|| op.run(conn))).unwrap_or(false)
}

/// Serves the queue until it is empty, then marks the flush as ended.
fn flush(queue: &Mutex<Queue>, conn: &Mutex<Connection>) {
    loop {
        let (reads, writes) = {
            let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.reads.is_empty() && queue.writes.is_empty() {
                queue.flushing = false;
                return;
            }
            (std::mem::take(&mut queue.reads), std::mem::take(&mut queue.writes))
        };
        let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        round(&mut conn, reads, writes, queue);
    }
}

/// One round: the reads in one transaction, then the writes in another.
fn round(
    conn: &mut Connection,
    reads: Vec<Box<dyn Operation>>,
    writes: Vec<Box<dyn Operation>>,
    counter: &Mutex<Queue>,
) {
    if !reads.is_empty() {
        read_round(conn, reads);
    }
    if !writes.is_empty() {
        write_round(conn, writes, counter);
    }
}

/// The reads, answered from one snapshot of the committed state.
fn read_round(conn: &mut Connection, reads: Vec<Box<dyn Operation>>) {
    match conn.transaction() {
        Ok(tx) => {
            for mut read in reads {
                run(&mut read, &tx);
                read.answer(None);
            }
        }
        Err(e) => {
            let why = format!("could not begin a transaction: {e}");
            for read in reads {
                read.answer(Some(&why));
            }
        }
    }
}

/// Whether a transaction began on `conn` is still open: SQLite ends one by itself on some
/// errors (out of memory, I/O), after which statements would commit one by one.
fn still_open(conn: &Connection) -> bool {
    !conn.is_autocommit()
}

/// The writes in one transaction; if one fails, each again in a transaction of its own.
fn write_round(conn: &mut Connection, mut writes: Vec<Box<dyn Operation>>, counter: &Mutex<Queue>) {
    let moved = counter.lock().unwrap_or_else(|p| p.into_inner()).file.as_ref().map_or(Ok(()), FileGuard::check);
    if let Err(why) = moved {
        for write in writes {
            write.answer(Some(&why));
        }
        return;
    }
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => {
            let why = format!("could not begin a transaction: {e}");
            for write in writes {
                write.answer(Some(&why));
            }
            return;
        }
    };
    counter.lock().unwrap_or_else(|p| p.into_inner()).transactions += 1;
    if writes.iter_mut().all(|write| run(write, &tx) && still_open(&tx)) {
        let commit_error = tx.commit().err().map(|e| e.to_string());
        for write in writes {
            write.answer(commit_error.as_deref());
        }
        return;
    }
    // A write failed: undo the round, then give each write a transaction of its own.
    drop(tx);
    for mut write in writes {
        counter.lock().unwrap_or_else(|p| p.into_inner()).transactions += 1;
        let error = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) if run(&mut write, &tx) && still_open(&tx) => tx.commit().err().map(|e| e.to_string()),
            // Dropped: rolled back. The write's own error is its answer, or, if SQLite ended
            // the transaction under it, that its statements may not have been kept.
            Ok(tx) if !still_open(&tx) => Some("SQLite ended the transaction (out of memory or I/O)".to_owned()),
            Ok(_) => None,
            Err(e) => Some(format!("could not begin a transaction: {e}")),
        };
        write.answer(error.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection(path: &std::path::Path) -> Arc<Mutex<Connection>> {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch("PRAGMA journal_mode=WAL; CREATE TABLE t (k INTEGER PRIMARY KEY)").unwrap();
        Arc::new(Mutex::new(conn))
    }

    fn rows(path: &std::path::Path) -> i64 {
        // Another connection: it sees only what was committed.
        Connection::open(path).unwrap().query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap()
    }

    /// Queues `writes` while the connection is held, as a slow commit would hold it, then
    /// lets them run; returns each writer's outcome.
    async fn queued_behind_a_held_connection(
        conn: &Arc<Mutex<Connection>>,
        group: &GroupCommit,
        writes: impl Iterator<Item = (i64, &'static str)>,
    ) -> Vec<(i64, Result<usize, StoreError>)> {
        let held = conn.lock().unwrap();
        let mut writers = tokio::task::JoinSet::new();
        for (k, sql) in writes {
            let (conn, group) = (Arc::clone(conn), group.clone());
            writers.spawn(async move { (k, group.write(&conn, move |c| c.execute(sql, [k])).await) });
        }
        // Until every writer is queued (the first flush took what was queued when it started
        // and waits for the connection).
        let (mut last, mut stable) = (usize::MAX, 0);
        while stable < 50 {
            let queued = group.queue.lock().unwrap().writes.len();
            (stable, last) = if queued == last { (stable + 1, queued) } else { (0, queued) };
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(held);
        let mut outcomes = Vec::new();
        while let Some(joined) = writers.join_next().await {
            outcomes.push(joined.unwrap());
        }
        outcomes
    }

    const INSERT: &str = "INSERT INTO t VALUES (?1)";

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_transactions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("grouped.db");
        let (conn, group) = (connection(&path), GroupCommit::default());
        let outcomes = queued_behind_a_held_connection(&conn, &group, (0..200).map(|k| (k, INSERT))).await;
        assert!(outcomes.iter().all(|(_, o)| o.is_ok()), "{outcomes:?}");
        assert_eq!(rows(&path), 200);
        let transactions = group.queue.lock().unwrap().transactions;
        assert!(transactions <= 3, "200 queued writes took {transactions} transactions: not grouped");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_write_is_answered_alone_and_the_others_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("failing.db");
        let (conn, group) = (connection(&path), GroupCommit::default());
        let writes = (0..20).map(|k| (k, if k == 7 { "INSERT INTO missing_table VALUES (?1)" } else { INSERT }));
        for (k, outcome) in queued_behind_a_held_connection(&conn, &group, writes).await {
            assert_eq!(outcome.is_err(), k == 7, "write {k}: {outcome:?}");
        }
        assert_eq!(rows(&path), 19, "the failed write rolled back only itself");
    }

    #[tokio::test]
    async fn a_writer_hears_ok_only_once_its_write_is_committed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("alone.db");
        let (conn, group) = (connection(&path), GroupCommit::default());
        group.write(&conn, |c| c.execute(INSERT, [1])).await.unwrap();
        assert_eq!(rows(&path), 1);
    }
}
