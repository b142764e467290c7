//! `postato dlq`: inspect and requeue dead letters.

use clap::{Args, Subcommand};
use postato::postato_core::settings;
use postato::{ErrorKind, Publisher, ResultStore};
use std::sync::Arc;

use crate::args::{self, open_store, ConnectionArgs, Hours, Output, StoreUse};
use crate::campaign::{line_of_key, parse_line, shown_key, CampaignLine};
use crate::runner::{self, Progress};
use crate::{exit, report};

/// Inspect and requeue dead letters.
#[derive(Args, Debug)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub command: DlqCommand,
}

#[derive(Subcommand, Debug)]
pub enum DlqCommand {
    /// List dead letters with their reasons
    List {
        /// The result store: a SQLite file (an existing one: never created here), or a
        /// PostgreSQL URL (postgres://…)
        #[arg(long, default_value = args::DEFAULT_STORE, value_parser = args::store_location)]
        store: String,
        #[arg(long, help = args::help(settings::DEAD_LETTER_LIMIT.row()), default_value_t = settings::DEAD_LETTER_LIMIT.default_value(),
            value_parser = |t: &str| args::count_of(&settings::DEAD_LETTER_LIMIT, t), allow_negative_numbers = true)]
        limit: u32,
        /// text or json (one JSON line per dead letter)
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
    },
    /// Publish dead letters again (all, or the given business keys)
    Retry {
        /// Only these business keys
        #[arg(long = "key")]
        keys: Vec<String>,
        /// The result store: a SQLite file (an existing one: never created here), or a
        /// PostgreSQL URL (postgres://…)
        #[arg(long, default_value = args::DEFAULT_STORE, value_parser = args::store_location)]
        store: String,
        #[arg(long, help = args::help(settings::CONCURRENCY.row()), default_value_t = settings::CONCURRENCY.default_value(),
            value_parser = args::concurrency, allow_negative_numbers = true)]
        concurrency: u32,
        /// Send `outcome_unknown` letters anyway: only after checking that those posts do not
        /// exist (their first send is older than the server's idempotency-key retention)
        #[arg(long)]
        force: bool,
        #[arg(long, help = args::help(settings::KEY_RETENTION.row()), default_value_t = Hours(settings::KEY_RETENTION.default_value()),
            value_parser = args::key_retention_hours, allow_negative_numbers = true)]
        key_retention_hours: Hours,
        /// text or json
        #[arg(long, value_enum, default_value_t = Output::Text)]
        output: Output,
        #[command(flatten)]
        connection: ConnectionArgs,
    },
}

async fn all_letters(store: &Arc<dyn ResultStore>, limit: usize) -> Result<Vec<postato::DeadLetter>, String> {
    let mut letters = Vec::new();
    while letters.len() < limit {
        let after = letters.last().map(|l: &postato::DeadLetter| l.business_key.clone());
        let page =
            store.dead_letters(after.as_deref(), (limit - letters.len()).min(500)).await.map_err(|e| e.to_string())?;
        if page.is_empty() {
            break;
        }
        letters.extend(page);
    }
    Ok(letters)
}

pub async fn run(args: &DlqArgs) -> u8 {
    match &args.command {
        DlqCommand::List { store, limit, output } => {
            let letters = match open_store(store, 0, StoreUse::Read).await {
                Ok(store) => all_letters(&store, *limit as usize).await,
                Err(e) => Err(e),
            };
            match letters {
                Ok(letters) => {
                    for letter in &letters {
                        match output {
                            Output::Json => outln!("{}", report::dead_letter_json(letter)),
                            Output::Text => outln!("{}", report::dead_letter(letter)),
                        }
                    }
                    if *output == Output::Text && letters.is_empty() {
                        outln!("no dead letters");
                    }
                    exit::SUCCESS
                }
                Err(message) => {
                    report::fatal(*output, &message);
                    exit::FAILURE
                }
            }
        }
        DlqCommand::Retry { keys, store, concurrency, force, key_retention_hours, output, connection } => {
            let key_retention = key_retention_hours.0;
            let store_location = store.as_str();
            let client = match connection.client() {
                Ok(client) => client,
                Err(error) => {
                    report::failed(*output, &error);
                    return exit::for_kind(error.kind());
                }
            };
            let store = match open_store(store_location, *concurrency, StoreUse::Republish).await {
                Ok(store) => store,
                Err(message) => {
                    report::fatal(*output, &message);
                    return exit::FAILURE;
                }
            };
            let letters = match all_letters(&store, usize::MAX).await {
                Ok(letters) => letters,
                Err(message) => {
                    report::fatal(*output, &message);
                    return exit::FAILURE;
                }
            };
            let mut lines = Vec::new();
            let mut unknown = 0;
            let wanted = |l: &postato::DeadLetter| {
                keys.is_empty() || keys.iter().any(|key| *key == l.business_key || *key == shown_key(&l.business_key))
            };
            for letter in letters.into_iter().filter(wanted) {
                // --force sends the outcome_unknown letters (only those), replacing their
                // intents once their keys are claimed.
                let outcome_unknown = letter.error_kind() == Some(ErrorKind::OutcomeUnknown);
                unknown += usize::from(outcome_unknown);
                // A line without a business key is dead-lettered again under the same key.
                let campaign: Arc<str> = Arc::from(line_of_key(&letter.business_key).map_or("", |(c, _)| c));
                let line = letter.line.unwrap_or(0);
                match &letter.payload {
                    Some(payload) => {
                        let post = parse_line(&campaign, line, payload);
                        lines.push(CampaignLine { line, post, campaign, force: *force && outcome_unknown })
                    }
                    None => errln!(
                        "skipping {}: its line could not be read; fix the campaign and run `postato batch` again",
                        crate::terminal::printable(&shown_key(&letter.business_key))
                    ),
                }
            }
            if unknown > 0 && !*force {
                errln!(
                    "{} dead letter(s) are outcome_unknown: they stay dead-lettered until you check that those \
                     posts do not exist and run again with --force (and --key for each one you checked)",
                    unknown
                );
            }
            let publisher = Publisher::with_shared_store(client, store).key_retention(key_retention);
            let progress = Progress { total: Some(lines.len() as u64), enabled: true };
            match runner::run(
                publisher,
                move || Ok(Box::new(lines.clone().into_iter().map(Ok)) as runner::Lines),
                runner::Input::File,
                *concurrency as usize,
                progress,
                false,
                None,
            )
            .await
            {
                Ok(mut summary) => {
                    summary.hint_dead_letters_in(store_location, true);
                    summary.print(*output);
                    summary.exit_code()
                }
                Err(message) => {
                    report::run_failed(*output, &message);
                    exit::FAILURE
                }
            }
        }
    }
}
