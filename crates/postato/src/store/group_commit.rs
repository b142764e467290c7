//! Group commit for [`super::SqliteStore`]: one thread at a time serves the connection's
//! queue. Each round takes every queued operation and runs them in one transaction (taking the
//! write lock at once when there are writes): the reads first, answered at once from the state
//! committed so far, then every write; it commits, and only then answers each writer. It
//! repeats while operations keep arriving (after a loaded round, looking once more after
//! yielding its core: see [`flush_pausing`]). `BEGIN` and `COMMIT` go through the statement
//! cache, parsed once per connection. No timer: an operation waits at most for the round in
//! progress, the yield of the thread serving it (as long as the scheduler makes it) and its own
//! round, so a transaction grows with the load (up to the number of publishes in flight) and is
//! committed at once when the load stops.
//!
//! Crash safety is the same as one transaction per write: a writer hears `Ok` only after its
//! transaction committed, so every acknowledged record survives a crash of the process (with
//! WAL and `synchronous=NORMAL`, as before, a power loss may lose the last commits). A publish
//! whose record was queued but not committed when the process died is not recorded: its intent
//! (or nothing) is in the store, so the next run sends it again under the same idempotency key
//! and the server replays the first response. Never a double post, never a lost one.
//!
//! A write that fails (a full disk, say) rolls the round's transaction back; the round's
//! writes then run again one transaction each, so each hears its own outcome. (Savepoints per
//! write would do it in one pass, at the cost of copying every page they touch into a
//! sub-journal: a third of the store's time in `postato batch`.) A failed commit fails every
//! write of its transaction.

use rusqlite::Connection;
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
    /// Transactions begun (reruns included), for tests that check operations are grouped.
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

/// A round of at least this many operations is a loaded one: many publishes are between two of
/// their store steps. It sits above the 16 lines `postato batch` keeps in flight at its default
/// concurrency of 8 (each line has one operation queued at most), where rounds never reach it.
/// Not tuned: 16 (tried: at concurrency 8 it paused after the rounds of 16, and lost about as
/// much as a pause after every round) and 32 (tried: no gain at 64 in two runs) were measured less
/// than 24 (at concurrency 16, 32 and 64: BENCHMARKS.md, row 4b).
const LOADED_ROUND: usize = 24;

/// Serves the queue until it is empty (found empty twice after a loaded round), then marks the
/// flush as ended.
fn flush(queue: &Mutex<Queue>, conn: &Mutex<Connection>) {
    flush_pausing(queue, conn, std::thread::yield_now);
}

/// [`flush`], with `pause` what this thread does before it looks at an empty queue a second
/// time: after a round of [`LOADED_ROUND`] operations or more, it yields its core, and the
/// publishes that round answered may queue their next steps meanwhile (in `postato batch`, the
/// intent after a lookup, a new line's lookup after a record). Serving them in this flush
/// spares the wake-up of a parked thread and the context switches around it (BENCHMARKS.md,
/// row 4b). After a smaller round it ends at once: a yield after every round made `postato
/// batch` 9 % slower at concurrency 8.
fn flush_pausing(queue: &Mutex<Queue>, conn: &Mutex<Connection>, mut pause: impl FnMut()) {
    let mut last_round_len = 0;
    loop {
        let (reads, writes) = {
            let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
            if queue.reads.is_empty() && queue.writes.is_empty() {
                if last_round_len >= LOADED_ROUND {
                    // Still marked as flushing: what is queued meanwhile waits for this thread.
                    drop(queue);
                    last_round_len = 0;
                    pause();
                    continue;
                }
                queue.flushing = false;
                return;
            }
            last_round_len = queue.reads.len() + queue.writes.len();
            (std::mem::take(&mut queue.reads), std::mem::take(&mut queue.writes))
        };
        let conn = conn.lock().unwrap_or_else(|p| p.into_inner());
        round(&conn, reads, writes, queue);
    }
}

/// One round. With writes: one transaction taking the write lock, in which the reads run
/// first (they see only what was committed before it) and are answered at once, then the
/// writes; without: the reads in a read transaction.
fn round(conn: &Connection, reads: Vec<Box<dyn Operation>>, writes: Vec<Box<dyn Operation>>, queue: &Mutex<Queue>) {
    if writes.is_empty() {
        return read_round(conn, reads, queue);
    }
    let moved = queue.lock().unwrap_or_else(|p| p.into_inner()).file.as_ref().map_or(Ok(()), FileGuard::check);
    if let Err(why) = moved {
        read_round(conn, reads, queue);
        return answer_all(writes, &why);
    }
    if let Err(why) = begin(conn, BEGIN_WRITE) {
        // Another process holds the write lock past the busy timeout: the reads need none.
        read_round(conn, reads, queue);
        return answer_all(writes, &why);
    }
    queue.lock().unwrap_or_else(|p| p.into_inner()).transactions += 1;
    for mut read in reads {
        run(&mut read, conn);
        read.answer(None);
    }
    if !still_open(conn) {
        // SQLite ended the transaction under a read (out of memory, I/O): the writes would
        // commit one statement at a time. None has run, so none is kept.
        return answer_all(writes, "SQLite ended the transaction (out of memory or I/O); nothing was written");
    }
    write_round(conn, writes, queue);
}

/// Begins a transaction with `sql` through the statement cache, so that it is parsed once per
/// connection rather than once per round; the error says why it could not.
fn begin(conn: &Connection, sql: &str) -> Result<(), String> {
    let begun = conn.prepare_cached(sql).and_then(|mut statement| statement.execute([]));
    begun.map(drop).map_err(|e| format!("could not begin a transaction: {e}"))
}

/// Commits the open transaction (a cached statement, like [`begin`]), or rolls it back if the
/// commit fails; the commit's error, if any.
fn commit(conn: &Connection) -> Option<String> {
    let committed = conn.prepare_cached("COMMIT").and_then(|mut statement| statement.execute([]));
    let error = committed.err().map(|e| e.to_string());
    if error.is_some() {
        roll_back(conn);
    }
    error
}

/// Rolls back the open transaction, if SQLite has not ended it already.
fn roll_back(conn: &Connection) {
    if still_open(conn) {
        let _ = conn.execute_batch("ROLLBACK");
    }
}

/// Takes the write lock at once, so that a round never fails half-way for want of it.
const BEGIN_WRITE: &str = "BEGIN IMMEDIATE";

fn answer_all(operations: Vec<Box<dyn Operation>>, why: &str) {
    for operation in operations {
        operation.answer(Some(why));
    }
}

/// The reads, answered from one snapshot of the committed state.
fn read_round(conn: &Connection, reads: Vec<Box<dyn Operation>>, queue: &Mutex<Queue>) {
    if reads.is_empty() {
        return;
    }
    if let Err(why) = begin(conn, "BEGIN") {
        return answer_all(reads, &why);
    }
    queue.lock().unwrap_or_else(|p| p.into_inner()).transactions += 1;
    for mut read in reads {
        run(&mut read, conn);
        read.answer(None);
    }
    // A read transaction has nothing to keep: ending it cannot lose an answer.
    commit(conn);
}

/// Whether a transaction began on `conn` is still open: SQLite ends one by itself on some
/// errors (out of memory, I/O), after which statements would commit one by one.
fn still_open(conn: &Connection) -> bool {
    !conn.is_autocommit()
}

/// The writes in the transaction begun by [`round`]; if one fails, each again in a
/// transaction of its own.
fn write_round(conn: &Connection, mut writes: Vec<Box<dyn Operation>>, counter: &Mutex<Queue>) {
    if writes.iter_mut().all(|write| run(write, conn) && still_open(conn)) {
        let commit_error = commit(conn);
        for write in writes {
            write.answer(commit_error.as_deref());
        }
        return;
    }
    // A write failed: undo the round, then give each write a transaction of its own.
    roll_back(conn);
    for mut write in writes {
        counter.lock().unwrap_or_else(|p| p.into_inner()).transactions += 1;
        let error = match begin(conn, BEGIN_WRITE) {
            Ok(()) if run(&mut write, conn) && still_open(conn) => commit(conn),
            // The write's own error is its answer, or, if SQLite ended the transaction under
            // it, that its statements may not have been kept.
            Ok(()) if !still_open(conn) => Some("SQLite ended the transaction (out of memory or I/O)".to_owned()),
            Ok(()) => {
                roll_back(conn);
                None
            }
            Err(why) => Some(why),
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

    /// A queued operation running `f`, and the receiver of its answer.
    fn queued<R: Send + 'static>(
        f: impl Fn(&Connection) -> rusqlite::Result<R> + Send + 'static,
    ) -> (Box<dyn Operation>, oneshot::Receiver<Result<R, StoreError>>) {
        let (reply, answer) = oneshot::channel();
        (Box::new(Queued { statements: f, outcome: None, reply }), answer)
    }

    /// A store's file in a new directory (kept while the directory lives), its connection and
    /// a queue of its own, for running rounds directly.
    fn for_rounds() -> (tempfile::TempDir, std::path::PathBuf, Arc<Mutex<Connection>>, Mutex<Queue>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rounds.db");
        let conn = connection(&path);
        (dir, path, conn, Mutex::new(Queue::default()))
    }

    #[test]
    fn a_round_reads_what_was_committed_before_it_then_writes_in_the_same_transaction() {
        let (_dir, path, conn, queue) = for_rounds();
        let count = |c: &Connection| c.query_row("SELECT COUNT(*) FROM t", [], |r| r.get::<_, i64>(0));
        let (first, first_answer) = queued(|c| c.execute(INSERT, [1]));
        round(&conn.lock().unwrap(), Vec::new(), vec![first], &queue);
        first_answer.blocking_recv().unwrap().unwrap();
        let (read, read_answer) = queued(count);
        let (write, write_answer) = queued(|c| c.execute(INSERT, [2]));
        round(&conn.lock().unwrap(), vec![read], vec![write], &queue);
        assert_eq!(read_answer.blocking_recv().unwrap().unwrap(), 1, "the read saw only what was committed before");
        write_answer.blocking_recv().unwrap().unwrap();
        assert_eq!(rows(&path), 2);
        assert_eq!(queue.lock().unwrap().transactions, 2, "one transaction per round, its reads included");
        assert!(conn.lock().unwrap().is_autocommit(), "no transaction is left open");
    }

    #[test]
    fn writes_after_a_read_that_ended_the_transaction_are_refused_not_kept_one_by_one() {
        let (_dir, path, conn, queue) = for_rounds();
        // As SQLite does on an I/O error or out of memory: the transaction ends under the read.
        let (read, read_answer) = queued(|c| c.execute_batch("ROLLBACK"));
        let (write, write_answer) = queued(|c| c.execute(INSERT, [1]));
        round(&conn.lock().unwrap(), vec![read], vec![write], &queue);
        read_answer.blocking_recv().unwrap().unwrap();
        assert!(write_answer.blocking_recv().unwrap().is_err(), "the write is refused");
        assert_eq!(rows(&path), 0, "and not kept outside a transaction");
    }

    /// Queues `n` inserts (keys from `first`) on `queue`, marked as flushing as
    /// [`GroupCommit::enqueue`] leaves it; the receivers of their answers.
    fn queue_inserts(queue: &Mutex<Queue>, first: i64, n: usize) -> Vec<oneshot::Receiver<Result<usize, StoreError>>> {
        let mut queue = queue.lock().unwrap();
        queue.flushing = true;
        (first..first + n as i64)
            .map(|k| {
                let (write, answer) = queued(move |c| c.execute(INSERT, [k]));
                queue.writes.push(write);
                answer
            })
            .collect()
    }

    /// Whether every one of `answers` has come, each a successful write.
    fn all_written(answers: &mut [oneshot::Receiver<Result<usize, StoreError>>]) -> bool {
        answers.iter_mut().all(|answer| answer.try_recv().is_ok_and(|written| written.is_ok()))
    }

    /// The queue, which the flush must not hold while it pauses.
    fn not_held(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
        queue.try_lock().expect("the queue is not held while the flush pauses")
    }

    #[test]
    fn after_a_loaded_round_the_flush_pauses_once_and_serves_what_was_queued_meanwhile() {
        let (_dir, path, conn, queue) = for_rounds();
        let mut answers = queue_inserts(&queue, 0, LOADED_ROUND);
        let mut later = Vec::new();
        let mut pauses = 0;
        flush_pausing(&queue, &conn, || {
            pauses += 1;
            assert_eq!(pauses, 1, "one pause after the loaded round, none after the small one that follows");
            assert!(not_held(&queue).flushing, "still flushing while paused: no second server starts");
            assert!(all_written(&mut answers), "the loaded round was committed and answered before the pause");
            assert_eq!(rows(&path), LOADED_ROUND as i64);
            // A publish answered by the round queues its next step while this thread is paused.
            later = queue_inserts(&queue, 1000, 1);
        });
        assert_eq!(pauses, 1);
        assert!(!queue.lock().unwrap().flushing, "the flush ended: the next operation starts a server");
        assert!(all_written(&mut later), "the step queued during the pause was served by this flush");
        assert_eq!(rows(&path), LOADED_ROUND as i64 + 1);
    }

    #[test]
    fn a_pause_that_finds_nothing_new_ends_the_flush() {
        let (_dir, path, conn, queue) = for_rounds();
        let mut answers = queue_inserts(&queue, 0, LOADED_ROUND);
        let mut pauses = 0;
        flush_pausing(&queue, &conn, || {
            pauses += 1;
            assert_eq!(pauses, 1, "paused again with nothing queued: the flush would spin");
        });
        assert!(!queue.lock().unwrap().flushing, "the flush ended: the next operation starts a server");
        assert!(all_written(&mut answers));
        assert_eq!(rows(&path), LOADED_ROUND as i64);
    }

    #[test]
    fn after_a_smaller_round_the_flush_ends_without_pausing() {
        let (_dir, path, conn, queue) = for_rounds();
        let mut answers = queue_inserts(&queue, 0, LOADED_ROUND - 1);
        flush_pausing(&queue, &conn, || panic!("paused after a round of {} operations", LOADED_ROUND - 1));
        assert!(!queue.lock().unwrap().flushing);
        assert!(all_written(&mut answers));
        assert_eq!(rows(&path), LOADED_ROUND as i64 - 1);
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
