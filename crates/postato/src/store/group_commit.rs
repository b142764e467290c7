//! Group commit for [`super::SqliteStore`]: writes from concurrent publishes share one
//! transaction. A write is queued; the first writer with no flush running starts one on a
//! blocking thread, which takes every queued write, runs each in a savepoint of one
//! transaction, commits, and only then answers each writer — and repeats while writes keep
//! arriving. No timer: a write waits at most for the commit in progress and its own, so the
//! batch grows with the load (up to the number of publishes in flight) and is flushed at once
//! when the load stops.
//!
//! Crash safety is the same as one transaction per write: a writer hears `Ok` only after its
//! transaction committed, so every acknowledged record survives a crash. A publish whose
//! record was queued but not committed when the process died is not recorded: its intent (or
//! nothing) is in the store, so the next run sends it again under the same idempotency key and
//! the server replays the first response. Never a double post, never a lost one.
//!
//! One write failing (a constraint, say) rolls back its savepoint only; the others commit. A
//! failed commit fails every write of the batch.

use rusqlite::{Connection, Transaction};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use tokio::sync::oneshot;

use super::StoreError;

/// Answers a writer once its batch's commit is known (`None`: committed).
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;
/// A queued write: runs its statements in the batch's transaction (or hears why there is
/// none), returns its answer.
type Write = Box<dyn FnOnce(Result<&mut Transaction<'_>, &str>) -> Answer + Send>;

#[derive(Default)]
struct Queue {
    writes: Vec<Write>,
    flushing: bool,
    /// Transactions committed (or tried), for tests that check writes are grouped.
    transactions: u64,
}

/// The write queue of one connection.
#[derive(Clone, Default)]
pub(super) struct GroupCommit {
    queue: Arc<Mutex<Queue>>,
}

impl GroupCommit {
    /// Runs `f` in the next group transaction on `conn`; returns once that transaction
    /// committed (or failed).
    pub(super) async fn write<R: Send + 'static>(
        &self,
        conn: &Arc<Mutex<Connection>>,
        f: impl FnOnce(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (reply, answer) = oneshot::channel::<Result<R, StoreError>>();
        let write: Write = Box::new(move |tx| {
            let outcome = match tx {
                Ok(tx) => in_savepoint(tx, f),
                Err(why) => Err(StoreError::new(format!("could not begin a transaction: {why}"))),
            };
            Box::new(move |commit_error| {
                let _ = reply.send(match (outcome, commit_error) {
                    (Ok(value), None) => Ok(value),
                    (Ok(_), Some(why)) => Err(StoreError::new(format!("the commit failed: {why}"))),
                    (Err(e), _) => Err(e),
                });
            })
        });
        let start_flush = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.writes.push(write);
            !std::mem::replace(&mut queue.flushing, true)
        };
        if start_flush {
            let (queue, conn) = (Arc::clone(&self.queue), Arc::clone(conn));
            tokio::task::spawn_blocking(move || flush(&queue, &conn));
        }
        // The sender is dropped unanswered only if the write panicked.
        answer
            .await
            .map_err(|_| StoreError::new("the store's write failed inside postato (a bug): it was not recorded"))?
    }
}

fn in_savepoint<R>(
    tx: &mut Transaction<'_>,
    f: impl FnOnce(&Connection) -> rusqlite::Result<R>,
) -> Result<R, StoreError> {
    let savepoint = tx.savepoint()?;
    let value = f(&savepoint)?; // an error drops the savepoint: rolled back
    savepoint.commit()?;
    Ok(value)
}

/// Commits batches until the queue is empty, then marks the flush as ended.
fn flush(queue: &Mutex<Queue>, conn: &Mutex<Connection>) {
    loop {
        let writes = {
            let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.writes.is_empty() {
                queue.flushing = false;
                return;
            }
            queue.transactions += 1;
            std::mem::take(&mut queue.writes)
        };
        let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        let mut tx = match conn.transaction() {
            Ok(tx) => tx,
            Err(e) => {
                // Every write of the batch hears why; none ran.
                let why = e.to_string();
                for write in writes {
                    write(Err(&why))(None);
                }
                continue;
            }
        };
        // A write that panics (a bug) answers nothing: its writer hears "not recorded".
        let answers: Vec<Answer> = writes
            .into_iter()
            .filter_map(|write| std::panic::catch_unwind(AssertUnwindSafe(|| write(Ok(&mut tx)))).ok())
            .collect();
        let commit_error = tx.commit().err().map(|e| e.to_string());
        drop(conn);
        for answer in answers {
            answer(commit_error.as_deref());
        }
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
