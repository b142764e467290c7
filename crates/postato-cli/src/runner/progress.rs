//! Progress while a run goes: a bar on a terminal (with log lines written above it, see
//! [`crate::terminal`]), or a plain `progress: …` line every 2 s otherwise.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::tally::Tally;
use crate::terminal;

/// How the run shows progress.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// The number of posts, when known (for a bar).
    pub total: Option<u64>,
    /// Whether to show anything (never under `--quiet`).
    pub enabled: bool,
}

/// The task that shows progress until [`Reporter::stop`].
pub(super) struct Reporter {
    task: tokio::task::JoinHandle<()>,
}

impl Reporter {
    pub fn start(tally: Arc<Tally>, total: Option<u64>, started: Instant) -> Reporter {
        let task = if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(total) => indicatif::ProgressBar::new(total),
                None => indicatif::ProgressBar::no_length(),
            };
            bar.set_style(
                indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {msg}")
                    .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            terminal::show_bar(&bar);
            tokio::spawn(async move {
                loop {
                    bar.set_position(tally.position());
                    bar.set_message(tally.progress_line(started));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            })
        } else {
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    errln!("progress: {}", tally.progress_line(started));
                }
            })
        };
        Reporter { task }
    }

    /// Stops updating and clears the bar.
    pub fn stop(self) {
        self.task.abort();
        terminal::hide_bar();
    }
}
