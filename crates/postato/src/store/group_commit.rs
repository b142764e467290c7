//! Group commit for [`super::SqliteStore`]: one thread at a time serves the connection's
//! queue. Each round takes every queued operation, opens one transaction (taking the write
//! lock at once when there are writes), answers the reads from the state committed so far,
//! runs every write, commits, and only then answers each writer; it repeats while operations
//! keep arriving. No timer: an operation waits at most for the round in progress and its own,
//! so a transaction grows with the load (up to the number of publishes in flight) and is
//! committed at once when the load stops.
//!
//! Crash safety is the same as one transaction per write: a writer hears `Ok` only after its
//! transaction committed, so every acknowledged record survives a crash. A publish whose
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
            (None, Some(why)) => Err(StoreError::new(format!("could not begin a transaction: {why}"))),
            (None, None) => Err(StoreError::new("the store's operation failed inside postato (a bug)")),
        });
    }
}

#[derive(Default)]
struct Queue {
    reads: Vec<Box<dyn Operation>>,
    writes: Vec<Box<dyn Operation>>,
    flushing: bool,
    /// Write transactions begun, for tests that check writes are grouped.
    transactions: u64,
}

/// The operation queue of one connection.
#[derive(Clone, Default)]
pub(super) struct GroupCommit {
    queue: Arc<Mutex<Queue>>,
}

impl GroupCommit {
    /// Runs the write `f` in the next round's transaction on `conn`; returns once that
    /// transaction committed (or failed). `f` may run twice (see the module's note).
    pub(super) async fn write<R: Send + 'static>(
        &self,
        conn: &Arc<Mutex<Connection>>,
        f: impl Fn(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel();
        let write = Box::new(Queued { statements: f, outcome: None, reply });
        self.enqueue(conn, |queue| queue.writes.push(write));
        // The sender is dropped unanswered only if the write panicked.
        answer
            .await
            .map_err(|_| StoreError::new("the store's write failed inside postato (a bug): it was not recorded"))?
    }

    /// Runs the read `f` on `conn` in the next round, before its writes: it sees only
    /// committed records, and answers without waiting for the commit.
    pub(super) async fn read<R: Send + 'static>(
        &self,
        conn: &Arc<Mutex<Connection>>,
        f: impl Fn(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel();
        let read = Box::new(Queued { statements: f, outcome: None, reply });
        self.enqueue(conn, |queue| queue.reads.push(read));
        answer.await.map_err(|_| StoreError::new("the store's read failed inside postato (a bug)"))?
    }

    /// Queues an operation; starts serving the queue on a blocking thread unless that runs.
    fn enqueue(&self, conn: &Arc<Mutex<Connection>>, push: impl FnOnce(&mut Queue)) {
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            push(&mut queue);
            !std::mem::replace(&mut queue.flushing, true)
        };
        if start {
            let (queue, conn) = (Arc::clone(&self.queue), Arc::clone(conn));
            tokio::task::spawn_blocking(move || flush(&queue, &conn));
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
            if !queue.writes.is_empty() {
                queue.transactions += 1;
            }
            (std::mem::take(&mut queue.reads), std::mem::take(&mut queue.writes))
        };
        let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        round(&mut conn, reads, writes);
    }
}

/// One round: the reads, then the writes in one transaction.
fn round(conn: &mut Connection, reads: Vec<Box<dyn Operation>>, mut writes: Vec<Box<dyn Operation>>) {
    // With writes, the write lock is taken up front, so the reads' snapshot is the latest.
    let behavior = if writes.is_empty() { TransactionBehavior::Deferred } else { TransactionBehavior::Immediate };
    let tx = match conn.transaction_with_behavior(behavior) {
        Ok(tx) => tx,
        Err(e) => {
            let why = e.to_string();
            for op in reads.into_iter().chain(writes) {
                op.answer(Some(&why));
            }
            return;
        }
    };
    for mut read in reads {
        run(&mut read, &tx);
        read.answer(None);
    }
    if writes.iter_mut().all(|write| run(write, &tx)) {
        let commit_error = tx.commit().err().map(|e| e.to_string());
        for write in writes {
            write.answer(commit_error.as_deref());
        }
        return;
    }
    // A write failed: undo the round, then give each write a transaction of its own.
    drop(tx);
    for mut write in writes {
        let error = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) if run(&mut write, &tx) => tx.commit().err().map(|e| e.to_string()),
            Ok(_) => None, // dropped: rolled back; the write's own error is its answer
            Err(e) => Some(e.to_string()),
        };
        write.answer(error.as_deref());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn connection() -> Arc<Mutex<Connection>> {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (k INTEGER PRIMARY KEY)").unwrap();
        Arc::new(Mutex::new(conn))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writes_share_transactions_and_each_hears_its_own_outcome() {
        let (conn, group) = (connection(), GroupCommit::default());
        // Hold the connection while the writers queue up, as a slow commit would.
        let held = conn.lock().unwrap();
        let mut writers = tokio::task::JoinSet::new();
        for k in 0..200i64 {
            let (conn, group) = (Arc::clone(&conn), group.clone());
            writers.spawn(async move {
                let sql = if k == 50 { "INSERT INTO missing_table VALUES (?1)" } else { "INSERT INTO t VALUES (?1)" };
                (k, group.write(&conn, move |c| c.execute(sql, [k])).await)
            });
        }
        // Until every writer is queued: the first flush took the writes queued when it started
        // and waits for the connection; the others wait in the queue.
        let (mut last, mut stable) = (0, 0);
        while stable < 50 {
            let queued = group.queue.lock().unwrap().writes.len();
            (stable, last) = if queued == last { (stable + 1, queued) } else { (0, queued) };
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        drop(held);
        while let Some(joined) = writers.join_next().await {
            let (k, outcome) = joined.unwrap();
            assert_eq!(outcome.is_err(), k == 50, "write {k}: {outcome:?}");
        }
        let rows: i64 = conn.lock().unwrap().query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 199, "the failed write rolled back only itself");
        let transactions = group.queue.lock().unwrap().transactions;
        // The first flush took one write before blocking on the connection; the rest wait
        // together for the next transaction.
        assert!(transactions <= 3, "200 queued writes took {transactions} transactions: not grouped");
    }

    #[tokio::test]
    async fn a_write_alone_is_committed_at_once() {
        let (conn, group) = (connection(), GroupCommit::default());
        group.write(&conn, |c| c.execute("INSERT INTO t VALUES (1)", [])).await.unwrap();
        // Answered only after the commit: another connection-level read sees it.
        let rows: i64 = conn.lock().unwrap().query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 1);
    }
}
