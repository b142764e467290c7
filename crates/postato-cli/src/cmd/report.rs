//! `postato report`: a campaign's report, one self-contained HTML file, from the run's event
//! log (`postato batch --events FILE`) and its store.

use clap::Args;
use std::io::Write;

use crate::args::{self, open_store, Output, StoreUse};
use crate::run_report::RunReport;
use crate::{exit, report};

/// Write a campaign's report: one HTML file that opens offline, with charts of the run
/// (publishes, retries and 429s over time; holds and deferrals per account; dead letters by
/// kind over time; the slowest accounts), its settings and totals, and what the store holds
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The run's event log, written by `postato batch --events FILE`
    #[arg(long, value_name = "FILE")]
    pub events: String,
    /// The run's result store (a SQLite file or a PostgreSQL URL), for what it holds now:
    /// counts, deferred posts per account, the latest dead letters
    #[arg(long, value_parser = args::store_location)]
    pub store: Option<String>,
    /// Where to write the report (- for stdout)
    #[arg(long, short, value_name = "FILE", default_value = "postato-report.html")]
    pub out: String,
}

/// How many dead letters are read from the store to find the latest.
const DEAD_LETTERS_READ: usize = 10_000;
/// Deferrals read per page.
const PAGE: usize = 1_000;

pub async fn run(args: &ReportArgs) -> u8 {
    match write_report(args).await {
        Ok(line) => {
            if args.out != "-" {
                outln!("{line}");
            }
            exit::SUCCESS
        }
        Err((code, message)) => {
            report::fatal(Output::Text, &message);
            code
        }
    }
}

async fn write_report(args: &ReportArgs) -> Result<String, (u8, String)> {
    let file = std::fs::File::open(&args.events)
        .map_err(|e| (exit::INVALID_INPUT, format!("--events: cannot open {}: {e}", args.events)))?;
    let mut run = RunReport::from_events(std::io::BufReader::new(file))
        .map_err(|e| (exit::FAILURE, format!("--events: cannot read {}: {e}", args.events)))?;
    if run.totals.posts == 0 && run.campaign.is_none() {
        return Err((
            exit::INVALID_INPUT,
            format!(
                "--events: {} holds no event of a run: write one with `postato batch CAMPAIGN --events {}`",
                args.events, args.events
            ),
        ));
    }
    let mut sources = format!("the event log {}", args.events);
    if let Some(location) = &args.store {
        let store = open_store(location, 0, StoreUse::Read).await.map_err(|e| (exit::FAILURE, e))?;
        let failed = |e: postato::StoreError| (exit::FAILURE, format!("--store: {e}"));
        let counts = store.counts().await.map_err(failed)?;
        let mut after: Option<String> = None;
        loop {
            let page = store.deferrals(after.as_deref(), PAGE).await.map_err(failed)?;
            let full = page.len() == PAGE;
            after = page.last().map(|d| d.business_key.clone());
            run.add_deferrals(&page);
            if !full {
                break;
            }
        }
        let letters = store.dead_letters(None, DEAD_LETTERS_READ).await.map_err(failed)?;
        run.with_store(counts, letters);
        sources.push_str(&format!(" and the store {}", args::store_display(location)));
    }
    let html = crate::run_report::render(&run, &sources);
    let written = if args.out == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(html.as_bytes()).and_then(|()| stdout.flush())
    } else {
        std::fs::write(&args.out, html.as_bytes())
    };
    written.map_err(|e| (exit::FAILURE, format!("--out: cannot write {}: {e}", args.out)))?;
    let t = &run.totals;
    Ok(format!(
        "wrote {}: {} posts, {} published, {} already published, {} dead-lettered, {} deferred; {} requests, {} retries, {} answered 429",
        args.out, t.posts, t.published, t.already_published, t.dead_lettered, t.deferred, t.requests, t.retries, t.rate_limited
    ))
}
