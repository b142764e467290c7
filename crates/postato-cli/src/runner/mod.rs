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

use postato::{CancellationToken, Publisher, Timestamp};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::{JoinError, JoinSet};

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

/// Lines a pass keeps in flight for each request `--concurrency` lets out at once: a line
/// whose store steps run (its claim and intent before its requests, its record after) holds
/// no request slot, so those steps overlap the other lines' requests instead of idling one.
const LINES_PER_REQUEST: usize = 2;

/// A campaign's lines.
pub type Lines = Box<dyn Iterator<Item = std::io::Result<CampaignLine>> + Send>;

/// Where a run's lines come from, which decides whether a later pass may read them again and
/// whether the reader may hand them over a chunk at a time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// A regular file, or lines in memory: read again by a later pass, and handed over in
    /// chunks (reading one never keeps a line waiting).
    File,
    /// Stdin, a FIFO or a device: read once (the lines another worker held get one waiting
    /// pass), each line handed over as it comes, since a producer may send them slowly.
    Stream,
}

/// Publishes every line of `open()` with at most `concurrency` lines' requests in flight at
/// once. With `wait`, then waits for the lines deferred by their rate limit and publishes each
/// once due, until none is left (or Ctrl-C: what is deferred stays in the store for a later run).
///
/// When the source can be read again ([`Input::File`]), a first pass leaves the keys that another
/// worker holds for a second pass, which re-reads the source and finishes just those lines
/// (waiting for the other worker where needed); so several processes can share one campaign
/// without waiting on each other. A source read once ([`Input::Stream`]) gets one waiting pass.
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
    // `--concurrency`'s permits: closed by a stop, so that no line waiting for one sends.
    let requests = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let signals = {
        let (stop, cancel, stopped_by) = (stop.clone(), cancel.clone(), Arc::clone(&stopped_by));
        let requests = Arc::clone(&requests);
        let mut signals = StopSignals::listen();
        tokio::spawn(async move {
            let signal = signals.next().await;
            *stopped_by.lock().unwrap_or_else(|e| e.into_inner()) = Some(signal);
            stop.cancel();
            requests.close();
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
        lines_in_flight: concurrency.max(1) * LINES_PER_REQUEST,
        requests,
        chunk: if input == Input::File { (concurrency / 2).max(1) } else { 1 },
        events,
    };
    let passes = async {
        let mut end = batch.pass(open()?, None, input == Input::File).await?;
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
    /// Lines started and not finished, at most ([`LINES_PER_REQUEST`] for each request).
    lines_in_flight: usize,
    /// `--concurrency`: the lines whose requests are in flight hold its permits; closed by a
    /// stop or a setting error, which ends the lines waiting for one with nothing sent.
    requests: Arc<tokio::sync::Semaphore>,
    /// Lines the reader hands over at once: half the concurrency for an [`Input::File`], so
    /// the reader and the runtime wake each other once per chunk rather than per line; one
    /// for an [`Input::Stream`], whose lines may come slowly and start as they come.
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
                if left <= Duration::from_millis(200) || self.stop.is_cancelled() || self.tally.has_setting_error() {
                    break;
                }
            }
            if self.stop.is_cancelled() || self.tally.has_setting_error() {
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
    /// A reader thread reads ahead ([`read_ahead`]), at most three chunks of [`Batch::chunk`]
    /// lines (the one it fills, the one waiting, the one being started: one and a half times
    /// the concurrency for a file, three lines for a stream); lines start in campaign order,
    /// each as its own task, with at most [`Batch::lines_in_flight`] started and unfinished, and
    /// at most `--concurrency` of them with requests in flight.
    async fn pass(&self, lines: Lines, only: Option<Vec<u64>>, skip_held: bool) -> Result<PassEnd, String> {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<Vec<CampaignLine>>(1);
        let reader = {
            let (stop, chunk) = (self.stop.clone(), self.chunk);
            tokio::task::spawn_blocking(move || {
                read_ahead(lines, only, chunk, &stop, |items| tx.blocking_send(items).is_ok())
            })
        };
        let mut in_flight = JoinSet::new();
        let mut end = PassEnd::default();
        let mut chunk = Vec::new().into_iter();
        // Whether every line was read: the reader has ended, or ends without waiting for its
        // source. Otherwise (a stop, a setting error) it may be blocked on a stream that sends
        // nothing, and is left behind.
        let mut read_all = false;
        loop {
            while in_flight.len() >= self.lines_in_flight {
                if let Some(finished) = in_flight.join_next().await {
                    end.note(&self.tally, finished);
                }
            }
            let item = match chunk.next() {
                Some(item) => item,
                // A stop ends the wait for the next chunk too: a source that sends nothing (a
                // pipe from a stalled producer) never holds the run.
                None => match tokio::select! {
                    _ = self.stop.cancelled() => None,
                    items = rx.recv() => {
                        read_all = items.is_none();
                        items
                    }
                } {
                    Some(items) => {
                        chunk = items.into_iter();
                        continue;
                    }
                    None => break,
                },
            };
            if self.stop.is_cancelled() || self.tally.has_setting_error() {
                break;
            }
            let (publisher, tally, cancel) = (self.publisher.clone(), Arc::clone(&self.tally), self.cancel.clone());
            let (events, requests) = (self.events.clone(), Arc::clone(&self.requests));
            in_flight.spawn(async move {
                let line = item.line;
                let within = line::Within { cancel: &cancel, requests: &requests, skip_held };
                (line, process(&publisher, item, &tally, within, events.as_deref()).await)
            });
        }
        drop(rx);
        while let Some(finished) = in_flight.join_next().await {
            end.note(&self.tally, finished);
        }
        // A reader left behind is never waited for (the process ends without it), unless it
        // has ended, with an error to say.
        if read_all || reader.is_finished() {
            reader.await.map_err(|e| format!("the campaign reader failed: {e}"))??;
        }
        end.held.sort_unstable();
        Ok(end)
    }
}

/// Reads `lines` (only the line numbers in `only`, when given; the first line of each business
/// key winning on a first pass) and hands them to `send` in chunks of at most `chunk`, until
/// they end, `stop` fires or `send` says no one listens. A read error ends it, after the lines
/// read before it are handed over: each is published (or dead-lettered) as when it went alone.
fn read_ahead(
    lines: Lines,
    only: Option<Vec<u64>>,
    chunk: usize,
    stop: &CancellationToken,
    mut send: impl FnMut(Vec<CampaignLine>) -> bool,
) -> Result<(), String> {
    // A later pass reads only lines the first let through.
    let mut first_line_wins = only.is_none().then(FirstLineWins::default);
    let mut lines = lines.peekable();
    while lines.peek().is_some() && !stop.is_cancelled() {
        let mut items = Vec::with_capacity(chunk);
        let mut failed = None;
        for item in lines.by_ref() {
            let item = match item {
                Ok(item) => item,
                Err(e) => {
                    failed = Some(format!("could not read the campaign: {e}"));
                    break;
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
        let listened = items.is_empty() || send(items);
        if let Some(why) = failed {
            return Err(why);
        }
        if !listened {
            break;
        }
    }
    Ok(())
}

impl PassEnd {
    /// Keeps a finished line that another worker held or that was deferred; counts a line
    /// whose task panicked as failed (the run then exits 1), so that no line is lost silently.
    fn note(&mut self, tally: &Tally, finished: Result<(u64, Outcome), JoinError>) {
        match finished {
            Ok((line, Outcome::HeldByAnotherWorker)) => self.held.push(line),
            Ok((_, Outcome::Deferred { until, item })) => self.deferred.push((until, item)),
            Ok((_, Outcome::Done | Outcome::Cancelled)) => {}
            Err(e) => {
                tally.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, "publishing a line failed inside postato; running the campaign again is safe");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::UnreadableLine;

    /// Line `n` of a campaign (one that is not a post: the reader hands it on all the same).
    fn line(n: u64) -> std::io::Result<CampaignLine> {
        let post = Err(UnreadableLine { business_key: format!("k{n}"), reason: String::new(), text: String::new() });
        Ok(CampaignLine { line: n, campaign: Arc::from("c"), post, force: false })
    }

    /// What `read_ahead` hands over, chunk by chunk (line numbers), and how it ends.
    fn chunks_of(lines: Vec<std::io::Result<CampaignLine>>, chunk: usize) -> (Vec<Vec<u64>>, Result<(), String>) {
        let mut sent = Vec::new();
        let send = |items: Vec<CampaignLine>| {
            sent.push(items.iter().map(|item| item.line).collect());
            true
        };
        let ended = read_ahead(Box::new(lines.into_iter()), None, chunk, &CancellationToken::new(), send);
        (sent, ended)
    }

    #[test]
    fn lines_are_handed_over_in_chunks_in_campaign_order() {
        let (sent, ended) = chunks_of((1..=5).map(line).collect(), 2);
        assert_eq!(sent, vec![vec![1, 2], vec![3, 4], vec![5]]);
        assert_eq!(ended, Ok(()));
    }

    #[test]
    fn the_lines_read_before_a_read_error_are_handed_over_before_it_ends_the_pass() {
        let broken = std::io::Error::other("the disk went away");
        let (sent, ended) = chunks_of(vec![line(1), line(2), Err(broken), line(4)], 8);
        assert_eq!(sent, vec![vec![1, 2]], "lines 1 and 2 are published; nothing after the error is read");
        assert_eq!(ended, Err("could not read the campaign: the disk went away".to_owned()));
    }
}
