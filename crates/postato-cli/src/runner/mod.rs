//! Runs a stream of campaign lines through a Publisher with bounded concurrency: progress on
//! the terminal (or periodic plain lines), a summary, waiting for deferred lines (`--wait`),
//! and a clean stop on Ctrl-C, SIGTERM or SIGHUP (no new posts; in-flight ones finish within
//! [`STOP_GRACE`], or a second signal cancels them, retry-safe).
//!
//! This module owns the run and its passes over the campaign; [`mod@line`] publishes one line,
//! [`tally`] counts, [`progress`] shows, [`summary`] reports.

mod line;
mod progress;
mod summary;
mod tally;

use futures_util::stream::FuturesUnordered;
use futures_util::{FutureExt, StreamExt};
use postato::{CancellationToken, Publisher, Timestamp};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::campaign::{CampaignLine, FirstLineWins};
use crate::events::EventLog;
use crate::signals::StopSignals;
use crate::terminal;
use line::{process, Outcome};
pub use progress::Progress;
use progress::Reporter;
pub use summary::Summary;
use tally::Tally;

/// How long the posts in flight when a stop signal arrives may take to finish (and be
/// recorded) before they are cancelled: within `docker stop`'s 10 s and systemd's 90 s.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// A campaign's lines.
pub type Lines = Box<dyn Iterator<Item = std::io::Result<CampaignLine>> + Send>;

/// Where a run's lines come from: whether a later pass may read them again, and whether the
/// reader may hand them over a chunk at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A regular file, or lines in memory: read again by a later pass, and handed over in
    /// chunks (reading one never keeps a line waiting).
    File,
    /// Another path (a FIFO, a device): opened again by a later pass, and each line handed
    /// over as it comes, since a producer may send them slowly.
    OtherPath,
    /// Stdin: read once, each line handed over as it comes.
    Stdin,
}

/// Publishes every line of `open()` with at most `concurrency` publishes at once. With
/// `wait`, then waits for the lines deferred by their rate limit and publishes each once due,
/// until none is left (or Ctrl-C: what is deferred stays in the store for a later run).
///
/// When the source can be read again (not [`Input::Stdin`]), a first pass leaves the keys that another
/// worker holds for a second pass, which re-reads the source and finishes just those lines
/// (waiting for the other worker where needed); so several processes can share one campaign
/// without waiting on each other. A source read once (stdin) gets one waiting pass.
pub async fn run(
    publisher: Publisher,
    mut open: impl FnMut() -> Result<Lines, String>,
    input: Input,
    concurrency: usize,
    progress: Progress,
    wait: bool,
    events: Option<Arc<EventLog>>,
) -> Result<Summary, String> {
    let started = Instant::now();
    let tally = Arc::new(Tally::default());
    let stop = CancellationToken::new();
    let cancel = CancellationToken::new();
    let stopped_by = Arc::new(std::sync::Mutex::new(None));
    let signals = {
        let (stop, cancel, stopped_by) = (stop.clone(), cancel.clone(), Arc::clone(&stopped_by));
        let mut signals = StopSignals::listen();
        tokio::spawn(async move {
            let signal = signals.next().await;
            *stopped_by.lock().unwrap_or_else(|e| e.into_inner()) = Some(signal);
            stop.cancel();
            terminal::info(&format!(
                "stopping ({}): no new posts; posts in flight finish within {} s (a second signal cancels them at once, retry-safe)",
                signal.name(),
                STOP_GRACE.as_secs()
            ));
            let second = tokio::select! {
                _ = signals.next() => true,
                _ = tokio::time::sleep(STOP_GRACE) => false,
            };
            cancel.cancel();
            if !second {
                signals.next().await;
            }
            // The last resort, should anything still hold the run: a third signal ends the
            // process at once (what was in flight is retry-safe; its outcome may be unrecorded).
            let last = signals.next().await;
            terminal::eprintln(&format!("stopped at once ({}): run the same command again to finish", last.name()));
            std::process::exit(i32::from(last.exit_code()));
        })
    };
    let reporter =
        (progress.enabled && !terminal::quiet()).then(|| Reporter::start(Arc::clone(&tally), progress.total, started));
    let batch = Batch {
        publisher,
        tally: Arc::clone(&tally),
        stop: stop.clone(),
        cancel: cancel.clone(),
        concurrency: concurrency.max(1),
        chunk: if input == Input::File { (concurrency / 2).max(1) } else { 1 },
        events,
    };
    let passes = async {
        let mut end = batch.pass(open()?, None, input != Input::Stdin).await?;
        if !end.held.is_empty() && !stop.is_cancelled() && !tally.has_setting_error() {
            let second = batch.pass(open()?, Some(std::mem::take(&mut end.held)), false).await?;
            end.deferred.extend(second.deferred);
        }
        if wait && !tally.has_setting_error() {
            batch.wait_for_deferred(end.deferred).await?;
        }
        Ok::<_, String>(())
    }
    .await;
    signals.abort();
    if let Some(reporter) = reporter {
        reporter.stop();
    }
    passes?;
    let stopped_by = *stopped_by.lock().unwrap_or_else(|e| e.into_inner());
    Ok(tally.summary(stopped_by, started.elapsed()))
}

/// What every pass of a run works with: the Publisher, the tally, the Ctrl-C flag and token,
/// and how many lines may be in flight at once.
struct Batch {
    publisher: Publisher,
    tally: Arc<Tally>,
    /// Cancelled by the first stop signal: nothing new starts.
    stop: CancellationToken,
    cancel: CancellationToken,
    concurrency: usize,
    /// Lines the reader hands over at once: half the concurrency for an [`Input::File`], so
    /// the reader and the runtime wake each other once per chunk rather than per line; one
    /// for any other input, whose lines may come slowly and start as they come.
    chunk: usize,
    /// `--events`: each line's outcome is written to it.
    events: Option<Arc<EventLog>>,
}

/// What a pass left: the line numbers another worker held (with `skip_held`), and the lines
/// deferred, with when each is due.
#[derive(Default)]
struct PassEnd {
    held: Vec<u64>,
    deferred: Vec<(Timestamp, CampaignLine)>,
}

impl Batch {
    /// Waits for each deferred line's time (on the client's clock, which set it) and publishes
    /// it again, until none is deferred or Ctrl-C stops the run; what is left stays deferred in
    /// the store and in the tally. The progress line shows what it waits for, and until when.
    async fn wait_for_deferred(&self, mut deferred: Vec<(Timestamp, CampaignLine)>) -> Result<(), String> {
        self.tally.waiting.store(true, Ordering::Relaxed);
        let clock = self.publisher.client().clone();
        while let Some(next) = deferred.iter().map(|(until, _)| *until).min() {
            // Short steps, so that Ctrl-C ends the wait at once; at least one step, so that a
            // line deferred again for no time never makes the passes spin.
            loop {
                let left = next.saturating_since(clock.now());
                tokio::time::sleep(left.clamp(Duration::from_millis(10), Duration::from_millis(200))).await;
                if left <= Duration::from_millis(200) || self.stop.is_cancelled() {
                    break;
                }
            }
            if self.stop.is_cancelled() {
                return Ok(());
            }
            let now = clock.now();
            let (due, later): (Vec<_>, Vec<_>) = deferred.into_iter().partition(|(until, _)| *until <= now);
            let mut lines: Vec<u64> = due.iter().map(|(_, item)| item.line).collect();
            lines.sort_unstable();
            let items: Lines = Box::new(due.into_iter().map(|(_, item)| Ok(item)));
            let end = self.pass(items, Some(lines), false).await?;
            deferred = later;
            deferred.extend(end.deferred);
        }
        Ok(())
    }

    /// One pass over `lines` (only the line numbers in `only`, when given). With `skip_held`,
    /// the line numbers left because another worker held them come back in its end.
    ///
    /// A reader thread reads ahead, in chunks of [`Batch::chunk`] lines, at most three chunks
    /// (the one it fills, the one waiting, the one being started: one and a half times the
    /// concurrency for a file, three lines otherwise); lines start in campaign
    /// order, each as a future of this pass's task, with at most `concurrency` in flight.
    async fn pass(&self, lines: Lines, only: Option<Vec<u64>>, skip_held: bool) -> Result<PassEnd, String> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<CampaignLine>>(1);
        let reader = {
            let (stop, chunk) = (self.stop.clone(), self.chunk);
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                // A later pass reads only lines the first let through.
                let mut first_line_wins = only.is_none().then(FirstLineWins::default);
                let mut lines = lines.peekable();
                while lines.peek().is_some() && !stop.is_cancelled() {
                    let mut items = Vec::with_capacity(chunk);
                    for item in lines.by_ref() {
                        let item = match item {
                            Ok(item) => item,
                            Err(e) => {
                                // The lines read before the error are published (or
                                // dead-lettered) first, as they were when each went alone.
                                if !items.is_empty() {
                                    let _ = tx.blocking_send(items);
                                }
                                return Err(format!("could not read the campaign: {e}"));
                            }
                        };
                        if only.as_ref().is_some_and(|only| only.binary_search(&item.line).is_err()) {
                            continue;
                        }
                        items.push(match &mut first_line_wins {
                            Some(first_line_wins) => first_line_wins.check(item),
                            None => item,
                        });
                        if items.len() == chunk || stop.is_cancelled() {
                            break;
                        }
                    }
                    if !items.is_empty() && tx.blocking_send(items).is_err() {
                        break;
                    }
                }
                Ok(())
            })
        };
        // The lines in flight are futures of this task rather than tasks of their own: none is
        // spawned, scheduled across threads or joined, and each borrows the run's Publisher,
        // tally and token instead of cloning them.
        let mut in_flight = FuturesUnordered::new();
        let mut end = PassEnd::default();
        let mut chunk = Vec::new().into_iter();
        loop {
            while in_flight.len() >= self.concurrency {
                if let Some(finished) = in_flight.next().await {
                    end.note(&self.tally, finished);
                }
            }
            let item = match chunk.next() {
                Some(item) => item,
                // The lines in flight go on while the next chunk is awaited, and a stop ends the
                // wait: a source that sends nothing (a pipe from a stalled producer) never holds
                // the run.
                None => {
                    let items = loop {
                        tokio::select! {
                            _ = self.stop.cancelled() => break None,
                            items = rx.recv() => break items,
                            Some(finished) = in_flight.next(), if !in_flight.is_empty() => {
                                end.note(&self.tally, finished);
                            }
                        }
                    };
                    match items {
                        Some(items) => {
                            chunk = items.into_iter();
                            continue;
                        }
                        None => break,
                    }
                }
            };
            if self.stop.is_cancelled() || self.tally.has_setting_error() {
                break;
            }
            let line = item.line;
            let publish = process(&self.publisher, item, &self.tally, &self.cancel, skip_held, self.events.as_deref());
            in_flight.push(async move { (line, AssertUnwindSafe(publish).catch_unwind().await) });
        }
        drop(rx);
        while let Some(finished) = in_flight.next().await {
            end.note(&self.tally, finished);
        }
        // After a stop the reader may be blocked on such a source: it is left behind, never
        // waited for (the process ends without it), unless it has ended, with an error to say.
        if !self.stop.is_cancelled() || reader.is_finished() {
            reader.await.map_err(|e| format!("the campaign reader failed: {e}"))??;
        }
        end.held.sort_unstable();
        Ok(end)
    }
}

impl PassEnd {
    /// Keeps a finished line that another worker held or that was deferred; counts a line
    /// whose publish panicked as failed (the run then exits 1), so that no line is lost silently.
    fn note(&mut self, tally: &Tally, (line, finished): (u64, std::thread::Result<Outcome>)) {
        match finished {
            Ok(Outcome::HeldByAnotherWorker) => self.held.push(line),
            Ok(Outcome::Deferred { until, item }) => self.deferred.push((until, item)),
            Ok(Outcome::Done | Outcome::Cancelled) => {}
            Err(panic) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                let why = panic
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_owned())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(
                    line,
                    error = why.as_str(),
                    "publishing a line failed inside postato; running the campaign again is safe"
                );
            }
        }
    }
}
