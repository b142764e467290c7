//! Stderr, shared with the progress bar: while a bar is drawn, log lines and notices are written
//! above it (the bar is cleared, the line written, the bar redrawn), never into it. The tracing
//! subscriber writes through [`Stderr`]; the runner shows and hides its bar with [`show_bar`] and
//! [`hide_bar`].

use indicatif::ProgressBar;
use std::io::Write;
use std::sync::Mutex;

/// The progress bar on stderr, while there is one.
static BAR: Mutex<Option<ProgressBar>> = Mutex::new(None);

fn bar() -> Option<ProgressBar> {
    BAR.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// From now on, stderr lines go above `bar`.
pub fn show_bar(bar: &ProgressBar) {
    *BAR.lock().unwrap_or_else(|p| p.into_inner()) = Some(bar.clone());
}

/// Clears the bar; stderr lines are written directly again.
pub fn hide_bar() {
    if let Some(bar) = BAR.lock().unwrap_or_else(|p| p.into_inner()).take() {
        bar.finish_and_clear();
    }
}

/// Writes whole lines to stderr, above the progress bar if one is drawn.
fn write_lines(bytes: &[u8]) -> std::io::Result<()> {
    match bar() {
        Some(bar) => bar.suspend(|| std::io::stderr().write_all(bytes)),
        None => std::io::stderr().write_all(bytes),
    }
}

/// Prints a line to stderr, above the progress bar if one is drawn.
pub fn eprintln(line: &str) {
    let _ = write_lines(format!("{line}\n").as_bytes());
}

/// Stderr for the tracing subscriber (which writes each event, a whole line, in one call).
#[derive(Clone, Copy, Debug, Default)]
pub struct Stderr;

impl Write for Stderr {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        write_lines(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Stderr {
    type Writer = Stderr;

    fn make_writer(&'a self) -> Stderr {
        Stderr
    }
}
