//! Stderr, shared with the progress bar: while a bar is drawn, log lines and notices are written
//! above it (the bar is cleared, the line written, the bar redrawn), never into it. The tracing
//! subscriber writes through [`Stderr`]; the runner shows and hides its bar with [`show_bar`] and
//! [`hide_bar`].
//!
//! Stdout is written through `outln!` alone (clippy's `print_stdout` keeps it so): a reader
//! that went away (`postato dlq list | head -1`) ends the program quietly, never with a panic.
//!
//! Also what stderr carries: under `--quiet` no progress and no [`info`] lines (warnings and
//! errors still); and whether anything is coloured, decided once for clap's help and errors and
//! for our log lines alike ([`no_color_asked`], [`colours_on_stderr`]).

use indicatif::ProgressBar;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Prints a line to stdout, as `println!` does.
macro_rules! outln {
    () => {
        $crate::terminal::print_out(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::terminal::print_out(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a line to stderr (above the progress bar, if one is drawn), as `eprintln!` does.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::terminal::eprintln(&format!($($arg)*))
    };
}

/// Writes `text` to stdout and flushes it. A reader that went away ends the program quietly
/// with [`crate::exit::READER_GONE`], as `yes | head -1` ends `yes`: nothing more it prints can be read,
/// and stopping is safe (a batch's results are in its store, and a rerun finishes it). Any
/// other failure to write (a full disk) ends it with exit 1, saying so on stderr.
pub fn print_out(text: fmt::Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    let Err(error) = out.write_fmt(text).and_then(|()| out.flush()) else { return };
    if error.kind() == std::io::ErrorKind::BrokenPipe {
        std::process::exit(i32::from(crate::exit::READER_GONE));
    }
    eprintln(&format!("error: cannot write to stdout: {error}"));
    std::process::exit(i32::from(crate::exit::FAILURE));
}

/// Whether `--quiet` was given.
static QUIET: AtomicBool = AtomicBool::new(false);

/// Applies `--quiet` and `--no-color` (the environment's `NO_COLOR` is read where colour is
/// decided).
pub fn init(quiet: bool, no_color: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
    if no_color {
        anstream::ColorChoice::Never.write_global();
    }
}

/// Whether informational output (progress, notices) is left out: `--quiet`.
pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

/// Whether the command line asks for no colour (`--no-color` before any `--`), read before clap
/// parses it so that clap's own help and errors are plain too.
pub fn no_color_asked() -> bool {
    std::env::args_os().skip(1).take_while(|arg| arg != "--").any(|arg| arg == "--no-color")
}

/// Whether our lines on stderr carry ANSI colours: as clap decides for its own (never with
/// `--no-color` or a non-empty `NO_COLOR`; always with a non-empty `CLICOLOR_FORCE`; else on a
/// terminal that supports them).
pub fn colours_on_stderr() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never
}

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

/// Prints an informational line to stderr (a notice, not a warning or an error), unless
/// `--quiet`.
pub fn info(line: &str) {
    if !quiet() {
        eprintln(line);
    }
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

/// `text` as it may reach a terminal: control characters (escape sequences, a carriage return
/// or newline that would forge a line) and the invisible bidirectional overrides shown as
/// escapes (`\u{1b}`, `\n`). For text from servers and stores in text output; JSON output
/// escapes them already.
pub fn printable(text: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if !text.chars().any(unsafe_char) {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| if unsafe_char(c) { c.escape_default().to_string() } else { c.to_string() })
        .collect::<String>()
        .into()
}
