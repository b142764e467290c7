//! Runs a stream of campaign lines through a Publisher with bounded concurrency: progress on
//! the terminal (or periodic plain lines), a summary, and a clean stop on Ctrl-C (first: no
//! new posts, in-flight ones finish; second: in-flight ones are cancelled, retry-safe).

use postato::{CancellationToken, DeadLetter, ErrorKind, Publisher};
use serde_json::json;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use crate::args::Output;
use crate::campaign::CampaignLine;
use crate::exit;

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Posts read (valid or not).
    pub total: u64,
    /// Published by this run.
    pub published: u64,
    /// Already published before this run (answered by the store).
    pub already_published: u64,
    /// Dead-lettered by this run, by error kind.
    pub dead_lettered: BTreeMap<String, u64>,
    /// Publishes whose result could not be recorded.
    pub store_errors: u64,
    /// Whether Ctrl-C stopped the run before the end.
    pub interrupted: bool,
    /// How long it took.
    pub elapsed: Duration,
}

impl Summary {
    fn dead_total(&self) -> u64 {
        self.dead_lettered.values().sum()
    }

    /// 0: all published; 3: dead letters that need a fix; 4: only dead letters worth
    /// retrying later; 130: interrupted.
    pub fn exit_code(&self) -> u8 {
        if self.interrupted {
            return exit::INTERRUPTED;
        }
        let kinds: Vec<ErrorKind> = self.dead_lettered.keys().filter_map(|k| ErrorKind::parse(k)).collect();
        if kinds.iter().any(|k| !k.is_retryable_later()) {
            exit::PERMANENT
        } else if kinds.is_empty() {
            exit::SUCCESS
        } else {
            exit::TRANSIENT
        }
    }

    /// Prints the summary.
    pub fn print(&self, output: Output) {
        let rate = self.total as f64 / self.elapsed.as_secs_f64().max(1e-3);
        match output {
            Output::Json => println!(
                "{}",
                json!({
                    "ok": self.exit_code() == exit::SUCCESS,
                    "total": self.total,
                    "published": self.published,
                    "alreadyPublished": self.already_published,
                    "deadLettered": self.dead_total(),
                    "deadLetteredByKind": self.dead_lettered,
                    "storeErrors": self.store_errors,
                    "interrupted": self.interrupted,
                    "elapsedMs": self.elapsed.as_millis() as u64,
                })
            ),
            Output::Text => {
                println!(
                    "{} posts in {:.1} s ({rate:.0}/s): {} published, {} already published, {} dead-lettered",
                    self.total,
                    self.elapsed.as_secs_f64(),
                    self.published,
                    self.already_published,
                    self.dead_total()
                );
                for (kind, n) in &self.dead_lettered {
                    println!("  dead-lettered ({kind}): {n}");
                }
                if self.dead_total() > 0 {
                    println!("  inspect them with `postato dlq list`, requeue with `postato dlq retry`");
                }
                if self.store_errors > 0 {
                    println!("  {} published posts could not be recorded; running again is safe", self.store_errors);
                }
                if self.interrupted {
                    println!("  interrupted: run the same command again to finish (nothing is published twice)");
                }
            }
        }
    }
}

#[derive(Default)]
struct Counters {
    done: AtomicU64,
    published: AtomicU64,
    already: AtomicU64,
    dead: AtomicU64,
    store_errors: AtomicU64,
    dead_by_kind: Mutex<BTreeMap<String, u64>>,
}

impl Counters {
    fn dead(&self, kind: &str) {
        self.dead.fetch_add(1, Ordering::Relaxed);
        *self.dead_by_kind.lock().unwrap_or_else(|p| p.into_inner()).entry(kind.to_owned()).or_default() += 1;
    }

    fn line(&self, started: Instant) -> String {
        let done = self.done.load(Ordering::Relaxed);
        format!(
            "{done} done ({} published, {} already, {} dead-lettered), {:.0}/s",
            self.published.load(Ordering::Relaxed),
            self.already.load(Ordering::Relaxed),
            self.dead.load(Ordering::Relaxed),
            done as f64 / started.elapsed().as_secs_f64().max(1e-3)
        )
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// Publishes one line. With `skip_held`, a key another worker holds is left for later and
/// `true` is returned (nothing is counted).
async fn process(
    publisher: &Publisher,
    item: CampaignLine,
    counters: &Counters,
    cancel: &CancellationToken,
    skip_held: bool,
) -> bool {
    let invalid = |business_key: String, message: String, body: Option<String>| DeadLetter {
        business_key,
        kind: ErrorKind::InvalidInput.as_str().to_owned(),
        status: None,
        message,
        body,
        attempts: 0,
        failed_at_ms: now_ms(),
        payload: None,
        line: Some(item.line),
    };
    let letter = match &item.post {
        Err(unreadable) => {
            Some(invalid(unreadable.business_key.clone(), unreadable.reason.clone(), Some(unreadable.text.clone())))
        }
        Ok(post) => {
            let outcome = if skip_held {
                publisher.try_publish_line(post, Some(item.line), cancel).await
            } else {
                publisher.publish_line(post, Some(item.line), cancel).await.map(Some)
            };
            match outcome {
                Ok(None) => return true,
                Ok(Some(report)) => {
                    let counter = if report.from_store { &counters.already } else { &counters.published };
                    counter.fetch_add(1, Ordering::Relaxed);
                    if report.store_error.is_some() {
                        counters.store_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    None
                }
                Err(e) if e.kind() == ErrorKind::Cancelled => return false,
                Err(e) if e.kind() == ErrorKind::InvalidInput => {
                    let key = if post.business_key.is_empty() {
                        format!("line:{}", item.line)
                    } else {
                        post.business_key.clone()
                    };
                    let mut letter = invalid(key, e.to_string(), None);
                    letter.payload = serde_json::to_string(post).ok();
                    Some(letter)
                }
                Err(e) => {
                    counters.dead(e.kind().as_str());
                    None
                }
            }
        }
    };
    if let Some(letter) = letter {
        if let Err(e) = publisher.store().record_dead_letter(&letter, publisher.worker()).await {
            tracing::error!(business_key = letter.business_key.as_str(), error = %e, "could not record a dead letter");
        }
        counters.dead(&letter.kind);
    }
    counters.done.fetch_add(1, Ordering::Relaxed);
    false
}

/// How the run shows progress.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// The number of posts, when known (for a bar).
    pub total: Option<u64>,
    /// Whether to show anything.
    pub enabled: bool,
}

/// A campaign's lines.
pub type Lines = Box<dyn Iterator<Item = std::io::Result<CampaignLine>> + Send>;

/// Publishes every line of `open()` with at most `concurrency` publishes at once.
///
/// When the source can be read again (`reopenable`), a first pass leaves the keys that another
/// worker holds for a second pass, which re-reads the source and finishes just those lines
/// (waiting for the other worker where needed); so several processes can share one campaign
/// without waiting on each other. A source read once (stdin) gets one waiting pass.
pub async fn run(
    publisher: Publisher,
    mut open: impl FnMut() -> Result<Lines, String>,
    reopenable: bool,
    concurrency: usize,
    progress: Progress,
) -> Result<Summary, String> {
    let started = Instant::now();
    let counters = Arc::new(Counters::default());
    let stop = Arc::new(AtomicBool::new(false));
    let cancel = CancellationToken::new();
    let signals = {
        let (stop, cancel) = (Arc::clone(&stop), cancel.clone());
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
                eprintln!("stopping: no new posts; posts in flight finish (Ctrl-C again to cancel them, retry-safe)");
                if tokio::signal::ctrl_c().await.is_ok() {
                    cancel.cancel();
                }
            }
        })
    };
    let reporter = progress.enabled.then(|| spawn_progress(Arc::clone(&counters), progress.total, started));
    let shared = Shared {
        publisher,
        counters: Arc::clone(&counters),
        stop: Arc::clone(&stop),
        cancel: cancel.clone(),
        concurrency,
    };
    let held = shared.pass(open()?, None, reopenable).await?;
    if !held.is_empty() && !stop.load(Ordering::Relaxed) {
        shared.pass(open()?, Some(held), false).await?;
    }
    signals.abort();
    if let Some((task, bar)) = reporter {
        task.abort();
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
    }
    let dead_lettered = counters.dead_by_kind.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(Summary {
        total: counters.done.load(Ordering::Relaxed),
        published: counters.published.load(Ordering::Relaxed),
        already_published: counters.already.load(Ordering::Relaxed),
        dead_lettered,
        store_errors: counters.store_errors.load(Ordering::Relaxed),
        interrupted: stop.load(Ordering::Relaxed) || cancel.is_cancelled(),
        elapsed: started.elapsed(),
    })
}

struct Shared {
    publisher: Publisher,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    cancel: CancellationToken,
    concurrency: usize,
}

impl Shared {
    /// One pass over `lines` (only the line numbers in `only`, when given). With `skip_held`,
    /// returns the line numbers left because another worker held them.
    async fn pass(&self, lines: Lines, only: Option<Vec<u64>>, skip_held: bool) -> Result<Vec<u64>, String> {
        let (tx, rx) = tokio::sync::mpsc::channel::<CampaignLine>(self.concurrency * 2);
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let held = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let stop = Arc::clone(&self.stop);
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                for item in lines {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let item = item.map_err(|e| format!("could not read the campaign: {e}"))?;
                    if only.as_ref().is_some_and(|only| only.binary_search(&item.line).is_err()) {
                        continue;
                    }
                    if tx.blocking_send(item).is_err() {
                        break;
                    }
                }
                Ok(())
            })
        };
        let workers: Vec<_> = (0..self.concurrency.max(1))
            .map(|_| {
                let (publisher, counters, stop, cancel, rx, held) = (
                    self.publisher.clone(),
                    Arc::clone(&self.counters),
                    Arc::clone(&self.stop),
                    self.cancel.clone(),
                    Arc::clone(&rx),
                    Arc::clone(&held),
                );
                tokio::spawn(async move {
                    loop {
                        let next = rx.lock().await.recv().await;
                        let Some(item) = next else { break };
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let line = item.line;
                        if process(&publisher, item, &counters, &cancel, skip_held).await {
                            held.lock().unwrap_or_else(|p| p.into_inner()).push(line);
                        }
                    }
                })
            })
            .collect();
        for worker in workers {
            let _ = worker.await;
        }
        reader.await.map_err(|e| format!("the campaign reader failed: {e}"))??;
        let mut held = std::mem::take(&mut *held.lock().unwrap_or_else(|p| p.into_inner()));
        held.sort_unstable();
        Ok(held)
    }
}

fn spawn_progress(
    counters: Arc<Counters>,
    total: Option<u64>,
    started: Instant,
) -> (tokio::task::JoinHandle<()>, Option<indicatif::ProgressBar>) {
    if std::io::stderr().is_terminal() {
        let bar = match total {
            Some(total) => indicatif::ProgressBar::new(total),
            None => indicatif::ProgressBar::no_length(),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        let handle = bar.clone();
        let task = tokio::spawn(async move {
            loop {
                handle.set_position(counters.done.load(Ordering::Relaxed));
                handle.set_message(counters.line(started));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        (task, Some(bar))
    } else {
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_secs(2)).await;
                eprintln!("progress: {}", counters.line(started));
            }
        });
        (task, None)
    }
}
