//! `postato enqueue`: puts a campaign file into a PostgreSQL outbox, for `postato worker` to
//! publish (the same outbox an application enqueues into in its own transactions).

use clap::Args;
use postato::{ErrorKind, PublishError};
use postato_postgres::outbox::Enqueued;
use postato_postgres::PostgresStore;
use serde_json::json;
use std::io::BufReader;
use std::sync::Arc;

use crate::args::{self, Output};
use crate::{campaign, exit, report, terminal};

/// Put a campaign (JSON Lines) into a PostgreSQL outbox, for `postato worker` to publish. The
/// same post enqueued again is a no-op; another post under an enqueued business key is refused
#[derive(Args, Debug)]
pub struct EnqueueArgs {
    /// The campaign file (.jsonl), or - for stdin
    pub campaign: String,
    /// The outbox: a PostgreSQL URL (postgres://…), the database `postato worker` drains
    #[arg(long, value_parser = args::store_location)]
    pub store: String,
    /// Publish no post before this time (RFC 3339, such as 2026-12-24T09:00:00Z); a post's own
    /// scheduledAt still tells the server when it goes out
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub not_before: Option<postato::Timestamp>,
    /// text or json (a summary line)
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

fn parse_time(text: &str) -> Result<postato::Timestamp, String> {
    postato::postato_core::parse_timestamp(text)
        .map(|at| postato::Timestamp::from_millis(at.timestamp_millis().max(0) as u64))
        .map_err(|e| format!("{}: give a time such as 2026-12-24T09:00:00Z", e.message))
}

pub async fn run(args: &EnqueueArgs) -> u8 {
    if !args::is_postgres(&args.store) {
        report::fatal_invalid(
            args.output,
            "--store: the outbox is in PostgreSQL: give a postgres:// URL (the database your application and `postato worker` use)",
        );
        return exit::INVALID_INPUT;
    }
    let store = match PostgresStore::connect(&args.store, 2).await {
        Ok(store) => store,
        Err(e) => {
            report::fatal(args.output, &e.to_string());
            return exit::FAILURE;
        }
    };
    let reader: Box<dyn std::io::BufRead + Send> = if args.campaign == "-" {
        Box::new(BufReader::new(std::io::stdin()))
    } else {
        match std::fs::File::open(&args.campaign) {
            Ok(file) => Box::new(BufReader::new(file)),
            Err(e) => {
                report::fatal_invalid(args.output, &format!("cannot open {}: {e}", args.campaign));
                return exit::INVALID_INPUT;
            }
        }
    };
    let name = campaign::campaign_name(&args.campaign);
    let (mut enqueued, mut already, mut refused) = (0u64, 0u64, 0u64);
    for line in campaign::read(reader, campaign::Source::File, Arc::clone(&name)) {
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                report::fatal(args.output, &format!("could not read the campaign: {e}"));
                return exit::FAILURE;
            }
        };
        let outcome = match &line.post {
            Ok(post) => store.enqueue(post, args.not_before).await,
            Err(unreadable) => {
                Err(PublishError::InvalidInput(postato::ValidationError::new("line", unreadable.reason.clone())))
            }
        };
        match outcome {
            Ok(Enqueued::Enqueued) => enqueued += 1,
            Ok(Enqueued::AlreadyEnqueued) => already += 1,
            Err(e) if matches!(e.kind(), ErrorKind::InvalidInput | ErrorKind::BusinessKeyReused) => {
                refused += 1;
                terminal::eprintln(&format!("line {}: not enqueued: {e}", line.line));
            }
            Err(e) => {
                report::failed(args.output, &e);
                terminal::eprintln(&format!(
                    "stopped at line {}: {enqueued} enqueued before it; running the same command again is safe",
                    line.line
                ));
                return exit::for_kind(e.kind());
            }
        }
    }
    match args.output {
        Output::Json => outln!(
            "{}",
            json!({"ok": refused == 0, "enqueued": enqueued, "alreadyEnqueued": already, "refused": refused})
        ),
        Output::Text => outln!("{enqueued} enqueued, {already} already enqueued, {refused} refused"),
    }
    if refused > 0 {
        exit::INVALID_INPUT
    } else {
        exit::SUCCESS
    }
}
