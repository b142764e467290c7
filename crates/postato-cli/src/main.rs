//! `postato`: publish posts retry-safely from the command line. See `postato --help`.

// Stdout and stderr are written through `terminal` alone (`outln!`, `errln!`).
#![warn(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
mod terminal;

mod args;
mod campaign;
mod cmd;
mod events;
mod exit;
mod metrics;
#[cfg(feature = "otlp")]
mod otlp;
mod report;
mod run_report;
mod runner;
mod signals;

/// The wall clock's now, in ms since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

use clap::{Parser, Subcommand};

/// Retry-safe publishing to the Postato API: never double-posts, never loses a post.
///
/// Exit codes: 0 success; 1 unexpected failure (such as a store that cannot be opened);
/// 2 invalid input or usage (nothing sent); 3 permanent failure (fix the post first);
/// 4 transient failure (retrying later with the same business key is safe); 5 deferred (posts
/// wait for their rate limit: run again after `deferredUntil`, or use `batch --wait`); 6 outcome
/// unknown (the post may exist: look for it, and see the message for whether publishing again is safe); 130
/// interrupted by Ctrl-C (run again to finish); 143 stopped by SIGTERM (as by Ctrl-C); 129
/// stopped by SIGHUP (as by Ctrl-C); 141 stdout's reader went away (`| head -1`: the command
/// stops quietly, as SIGPIPE stops other tools, and a batch's results are in its store).
#[derive(Parser, Debug)]
#[command(name = "postato", version, about, long_about)]
struct Cli {
    /// Log each retry (to stderr); POSTATO_LOG=debug shows more
    #[arg(long, short, global = true)]
    verbose: bool,
    /// No progress and no notices on stderr (warnings and errors still); stdout and the exit
    /// code are the same
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// No colours (as a non-empty NO_COLOR does)
    #[arg(long, global = true)]
    no_color: bool,
    /// The log lines on stderr: text, or json (one object per line, as a service's log
    /// collector reads them)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Export a span per publish, per attempt and per wait to this OpenTelemetry collector
    /// (OTLP/HTTP, such as http://localhost:4318); OTEL_EXPORTER_OTLP_ENDPOINT and the other
    /// standard OTEL_EXPORTER_OTLP_* variables do the same
    #[cfg(feature = "otlp")]
    #[arg(long, global = true, value_name = "ENDPOINT", value_parser = otlp::parse_endpoint)]
    otlp: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// How log lines are written.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the idempotency key of each business key
    Key(cmd::key::KeyArgs),
    /// Publish one post
    Publish(Box<cmd::publish::PublishArgs>),
    /// Publish a campaign file (JSON Lines), resumably
    Batch(Box<cmd::batch::BatchArgs>),
    /// Inspect and requeue dead letters
    Dlq(cmd::dlq::DlqArgs),
    /// Show counts in a result store (a SQLite file or a PostgreSQL database)
    Status(cmd::status::StatusArgs),
    /// Write a campaign's report: one HTML file with charts, from `batch --events` and the store
    Report(cmd::report::ReportArgs),
    /// Put a campaign into a PostgreSQL outbox, for `postato worker`
    Enqueue(cmd::enqueue::EnqueueArgs),
    /// Drain a PostgreSQL outbox: publish each post enqueued, exactly once, until stopped
    Worker(cmd::worker::WorkerArgs),
    /// Run the Postato API simulator
    Sim(cmd::sim::SimArgs),
    /// Run the demo: a faulty simulator, a sample campaign, a verification
    Demo(cmd::demo::DemoArgs),
    /// Print the completion script for a shell
    ///
    /// Install it where the shell looks (then open a new shell):
    ///   bash: mkdir -p ~/.local/share/bash-completion/completions
    ///         postato completion bash > ~/.local/share/bash-completion/completions/postato
    ///   zsh:  mkdir -p ~/.zfunc && postato completion zsh > ~/.zfunc/_postato
    ///         (and fpath+=~/.zfunc before compinit in ~/.zshrc)
    ///   fish: mkdir -p ~/.config/fish/completions
    ///         postato completion fish > ~/.config/fish/completions/postato.fish
    #[command(verbatim_doc_comment)]
    Completion(cmd::completion::CompletionArgs),
}

/// A flag's value refused by its bounds, as the JSON error line when `--output json` was asked
/// for (a program reading stdout gets one line whatever went wrong); other usage errors as clap
/// prints them. Either way the exit code is 2.
fn usage_error(error: clap::Error) -> ! {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let json = json_output_asked();
    let flag = match error.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) => arg.split(' ').next().map(str::to_owned),
        _ => None,
    };
    let reason = std::error::Error::source(&error).map(ToString::to_string);
    match (json, error.kind(), flag, reason) {
        (true, ErrorKind::ValueValidation, Some(flag), Some(reason)) => {
            report::fatal_invalid(args::Output::Json, &format!("invalid setting: {flag}: {reason}"));
            std::process::exit(i32::from(exit::INVALID_INPUT))
        }
        _ => error.exit(),
    }
}

/// Whether the command line asks for `--output json`, read before (or without) clap.
fn json_output_asked() -> bool {
    std::env::args().collect::<Vec<_>>().windows(2).any(|w| w[0] == "--output" && w[1] == "json")
        || std::env::args().any(|a| a == "--output=json")
}

/// mimalloc rather than glibc's malloc: a batch frees on one thread what another allocated
/// (see the dependency's note in Cargo.toml).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    // Before parsing, so that clap's own help and errors obey --no-color too.
    terminal::init(false, terminal::no_color_asked());
    let cli = Cli::try_parse().unwrap_or_else(|e| usage_error(e));
    terminal::init(cli.quiet, cli.no_color);
    let Ok(export) = init_tracing(&cli) else {
        return std::process::ExitCode::from(exit::INVALID_INPUT);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            errln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::from(exit::FAILURE);
        }
    };
    // The command runs as a task on the runtime's workers, not on this thread: what it spawns
    // (a connection's task) then starts on the worker that spawned it instead of waking a
    // worker from outside.
    let command = runtime.spawn(run(cli.command));
    let code = runtime.block_on(command).unwrap_or_else(|e| {
        errln!("error: the command failed inside postato ({e}): running it again is safe");
        exit::FAILURE
    });
    // Every command awaited its own work; a thread still blocked on a source that sends
    // nothing (stdin from an idle pipe, after a stop signal) must not keep the process alive.
    runtime.shutdown_background();
    #[cfg(feature = "otlp")]
    if let Some(export) = export {
        export.finish();
    }
    #[cfg(not(feature = "otlp"))]
    let () = export;
    std::process::ExitCode::from(code)
}

/// Runs `command` to its exit code.
async fn run(command: Command) -> u8 {
    match &command {
        Command::Key(args) => cmd::key::run(args),
        Command::Publish(args) => cmd::publish::run(args).await,
        Command::Batch(args) => cmd::batch::run(args).await,
        Command::Dlq(args) => cmd::dlq::run(args).await,
        Command::Status(args) => cmd::status::run(args).await,
        Command::Report(args) => cmd::report::run(args).await,
        Command::Enqueue(args) => cmd::enqueue::run(args).await,
        Command::Worker(args) => cmd::worker::run(args).await,
        Command::Sim(args) => cmd::sim::run(args).await,
        Command::Demo(args) => cmd::demo::run(args).await,
        Command::Completion(args) => cmd::completion::run(args, <Cli as clap::CommandFactory>::command()),
    }
}

/// Logs to stderr (`--verbose`, `POSTATO_LOG`) and, when asked for, spans to an OpenTelemetry
/// collector. Outside the runtime: the exporter's HTTP client has its own. An export asked for
/// and impossible is reported here (`Err`: exit 2, nothing sent).
#[cfg(feature = "otlp")]
fn init_tracing(cli: &Cli) -> Result<Option<otlp::Export>, ()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let (export, spans) = match otlp::start(cli.otlp.as_deref()) {
        Ok(Some((export, layer))) => (Some(export), Some(layer)),
        Ok(None) => (None, None),
        Err(message) => {
            let output = if json_output_asked() { args::Output::Json } else { args::Output::Text };
            report::fatal_invalid(output, &message);
            return Err(());
        }
    };
    tracing_subscriber::registry().with(log_layer(cli)).with(spans).init();
    Ok(export)
}

#[cfg(not(feature = "otlp"))]
fn init_tracing(cli: &Cli) -> Result<(), ()> {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry().with(log_layer(cli)).init();
    Ok(())
}

/// The log lines on stderr: warnings, `--verbose` adds each retry, `POSTATO_LOG` decides.
fn log_layer<S>(cli: &Cli) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    use tracing_subscriber::Layer;
    // A worker is a service: what it does is worth a line each (info).
    let default_level = match (cli.verbose, &cli.command) {
        // The database driver's notices (a table that exists already) are not the service's.
        (_, Command::Worker(_)) => "info,tokio_postgres=warn",
        (true, _) => "info",
        (false, _) => "warn",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env(postato::env::LOG)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let layer = tracing_subscriber::fmt::layer().with_writer(terminal::Stderr).with_target(false);
    match cli.log_format {
        LogFormat::Json => layer.json().with_current_span(false).with_span_list(false).with_filter(filter).boxed(),
        LogFormat::Text => layer.with_ansi(terminal::colours_on_stderr()).with_filter(filter).boxed(),
    }
}
