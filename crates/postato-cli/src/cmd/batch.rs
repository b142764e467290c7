//! `postato batch`: publishes a campaign file, resumably.

use clap::Args;
use postato::postato_core::settings;
use postato::Publisher;
use std::io::{BufRead, BufReader};
use std::sync::Arc;

use crate::args::{self, millis, open_store, ConnectionArgs, Hours, Output, StoreUse};
use crate::events::EventLog;
use crate::metrics::PrometheusMetrics;
use crate::runner::{self, Progress};
use crate::{campaign, exit, report, terminal};

/// Publish a campaign: one post per line (JSON Lines). Rerun to resume.
#[derive(Args, Debug)]
pub struct BatchArgs {
    /// The campaign file (.jsonl), or - for stdin
    pub campaign: String,
    #[arg(long, help = args::help(settings::CONCURRENCY.row()), default_value_t = settings::CONCURRENCY.default_value(),
        value_parser = args::concurrency, allow_negative_numbers = true)]
    pub concurrency: u32,
    /// The result store: a SQLite file (created if new), or a PostgreSQL URL (postgres://…)
    /// shared by many workers
    #[arg(long, default_value = args::DEFAULT_STORE, value_parser = args::store_location)]
    pub store: String,
    #[arg(long, help = args::help(settings::LEASE.row()), default_value_t = millis(settings::LEASE.default_value()),
        value_parser = |t: &str| args::millis_of(&settings::LEASE, t), allow_negative_numbers = true)]
    pub lease_ms: u64,
    #[arg(long, help = args::help(settings::KEY_RETENTION.row()), default_value_t = Hours(settings::KEY_RETENTION.default_value()),
        value_parser = args::key_retention_hours, allow_negative_numbers = true)]
    pub key_retention_hours: Hours,
    /// text or json (the summary as one JSON line)
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Progress: a bar on a terminal, plain lines otherwise
    #[arg(long)]
    pub no_progress: bool,
    /// Stay running until every post deferred by its rate limit is due and published
    /// (without it, deferred posts are kept in the store and the run exits 5; running the
    /// same command again publishes those that are due)
    #[arg(long)]
    pub wait: bool,
    /// Serve the run's metrics as Prometheus text at http://ADDR/metrics while it runs
    /// (ADDR such as 127.0.0.1:9464; port 0 picks a free one, printed on stderr)
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<std::net::SocketAddr>,
    /// Write the run's events to FILE, one JSON object per line (each request, answer and
    /// wait, each line's outcome, the settings and the summary), for `postato report`
    #[arg(long, value_name = "FILE")]
    pub events: Option<String>,
    #[command(flatten)]
    pub connection: ConnectionArgs,
}

/// The campaign's lines, for the progress bar: a regular file's only (a device such as
/// `/dev/zero` or a pipe may never end), and at most the first `COUNTED_BYTES`.
fn count_lines(path: &str) -> Option<u64> {
    const COUNTED_BYTES: u64 = 1 << 30;
    let metadata = std::fs::metadata(path).ok()?;
    if !metadata.is_file() || metadata.len() > COUNTED_BYTES {
        return None;
    }
    let file = std::fs::File::open(path).ok()?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut count = 0;
    loop {
        let buffer = reader.fill_buf().ok()?;
        if buffer.is_empty() {
            return Some(count);
        }
        count += buffer.iter().filter(|b| **b == b'\n').count() as u64;
        let n = buffer.len();
        reader.consume(n);
    }
}

/// The run's settings, as the event log's `run` line keeps them (and the report shows them).
fn settings_json(args: &BatchArgs) -> serde_json::Value {
    let c = &args.connection;
    serde_json::json!({
        "concurrency": args.concurrency,
        "wait": args.wait,
        "timeoutMs": c.timeout_ms,
        "maxAttempts": c.max_attempts,
        "backoffBaseMs": c.backoff_base_ms,
        "backoffCapMs": c.backoff_cap_ms,
        "deadlineMs": c.deadline_ms,
        "maxRetryAfterMs": c.max_retry_after_ms,
        "leaseMs": args.lease_ms,
        "keyRetentionHours": args.key_retention_hours.0.as_secs() / 3600,
    })
}

pub async fn run(args: &BatchArgs) -> u8 {
    let metrics = args.metrics.map(|_| Arc::new(PrometheusMetrics::new()));
    if let Some(events) = &args.events {
        let same = |a: &str, b: &str| {
            std::fs::canonicalize(a).ok().is_some_and(|a| std::fs::canonicalize(b).ok().is_some_and(|b| a == b))
        };
        if same(events, &args.campaign) || same(events, &args.store) {
            report::fatal_invalid(
                args.output,
                &format!("--events {events}: is the campaign or the store: give the event log a file of its own"),
            );
            return exit::INVALID_INPUT;
        }
    }
    let events = match args.events.as_deref().map(EventLog::create).transpose() {
        Ok(events) => events,
        Err(message) => {
            report::fatal(args.output, &message);
            return exit::FAILURE;
        }
    };
    let built = args.connection.builder().and_then(|mut builder| {
        if let Some(metrics) = &metrics {
            builder = builder.metrics(Arc::clone(metrics) as Arc<dyn postato::metrics::Metrics>);
        }
        if let Some(events) = &events {
            builder = builder.on_event(events.hook());
        }
        builder.build()
    });
    let client = match built {
        Ok(client) => client,
        Err(error) => {
            report::failed(args.output, &error);
            return exit::for_kind(error.kind());
        }
    };
    if let (Some(addr), Some(metrics)) = (args.metrics, &metrics) {
        metrics.watch(client.clone());
        match crate::metrics::serve(addr, Arc::clone(metrics), None).await {
            // Said even under --quiet: with port 0 it is the only way to find them.
            Ok(bound) => terminal::eprintln(&format!("metrics: http://{bound}/metrics")),
            Err(e) => {
                report::fatal(args.output, &format!("--metrics: cannot listen on {addr}: {e}"));
                return exit::FAILURE;
            }
        }
    }
    // One connection per request in flight, and two for claims' renewals (the lines in their
    // store steps beside those wait their turn for one).
    let store = match open_store(&args.store, args.concurrency, StoreUse::Publish).await {
        Ok(store) => store,
        Err(message) => {
            report::fatal(args.output, &message);
            return exit::FAILURE;
        }
    };
    let campaign = args.campaign.clone();
    let name = campaign::campaign_name(&campaign);
    // A regular file ends and can be read again; stdin, a FIFO or a device may not.
    let regular_file = campaign != "-" && std::fs::metadata(&campaign).is_ok_and(|m| m.is_file());
    let open = move || -> Result<runner::Lines, String> {
        let (reader, source): (Box<dyn BufRead + Send>, _) = if campaign == "-" {
            (Box::new(BufReader::new(std::io::stdin())), campaign::Source::Stream)
        } else {
            let file = std::fs::File::open(&campaign).map_err(|e| format!("cannot open {campaign}: {e}"))?;
            let source = if regular_file { campaign::Source::File } else { campaign::Source::Stream };
            (Box::new(BufReader::new(file)), source)
        };
        Ok(Box::new(campaign::read(reader, source, Arc::clone(&name))))
    };
    // Opened once here, so that a campaign that cannot be opened stops before anything else, and
    // handed to the first pass: a FIFO opened twice would lose what its producer wrote between.
    let mut opened = match open() {
        Ok(lines) => Some(lines),
        Err(message) => {
            report::fatal(args.output, &message);
            return exit::INVALID_INPUT;
        }
    };
    let open = move || opened.take().map_or_else(&open, Ok);
    let total = if args.campaign == "-" || args.no_progress { None } else { count_lines(&args.campaign) };
    let progress = Progress { total, enabled: !args.no_progress };
    let publisher = Publisher::with_shared_store(client, store)
        .lease(std::time::Duration::from_millis(args.lease_ms))
        .key_retention(args.key_retention_hours.0);
    let input = if regular_file { runner::Input::File } else { runner::Input::Stream };
    if let Some(events) = &events {
        events.run_started(&args.campaign, &args::store_display(&args.store), settings_json(args));
    }
    let ran = runner::run(publisher, open, input, args.concurrency as usize, progress, args.wait, events.clone());
    match ran.await {
        Ok(mut summary) => {
            if let Some(events) = &events {
                events.run_ended(summary.to_json());
            }
            summary.hint_dead_letters_in(&args.store, true);
            summary.print(args.output);
            summary.exit_code()
        }
        Err(message) => {
            report::run_failed(args.output, &message);
            exit::FAILURE
        }
    }
}
