//! `postato status`: counts in a store.

use clap::Args;
use postato::Timestamp;

use serde_json::json;

use crate::args::{self, open_store, Output, StoreUse};
use crate::{exit, report};

/// Show how many posts a store (a SQLite file or a PostgreSQL database) holds as published,
/// dead-lettered and deferred.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The result store: a SQLite file (an existing one: never created here), or a PostgreSQL
    /// URL (postgres://…)
    #[arg(long, default_value = args::DEFAULT_STORE, value_parser = args::store_location)]
    pub store: String,
    /// text or json
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub async fn run(args: &StatusArgs) -> u8 {
    let counts = match open_store(&args.store, 0, StoreUse::Read).await {
        Ok(store) => store.counts().await.map_err(|e| e.to_string()),
        Err(e) => Err(e),
    };
    // A PostgreSQL store holds the outbox too (`postato worker` drains it); a SQLite file, a
    // device's (`LocalOutbox`), shown when it holds rows.
    let outbox = match (&counts, args::is_postgres(&args.store)) {
        (Ok(_), true) => match postato_postgres::PostgresStore::connect(&args.store, 1).await {
            Ok(store) => store.outbox_counts().await.ok(),
            Err(_) => None,
        },
        (Ok(_), false) => match postato::SqliteStore::open_existing(&args.store) {
            Ok(store) => store
                .outbox_counts(crate::now_ms())
                .await
                .ok()
                .filter(|o| o.pending + o.published + o.dead_lettered > 0),
            Err(_) => None,
        },
        _ => None,
    };
    match counts {
        Ok(counts) => {
            match args.output {
                Output::Json => outln!(
                    "{}",
                    json!({
                        "ok": true,
                        "published": counts.published,
                        "deadLettered": counts.dead_letters,
                        "deadLetteredByKind": counts.dead_letters_by_kind,
                        "deferred": counts.deferred,
                        "nextDue": counts.next_due_ms.map(|ms| Timestamp::from_millis(ms).to_rfc3339()),
                        "deferredUntil": counts.deferred_until_ms.map(|ms| Timestamp::from_millis(ms).to_rfc3339()),
                        "outbox": outbox,
                    })
                ),
                Output::Text => {
                    outln!(
                        "{}: {} published, {} dead-lettered, {} deferred",
                        args::store_name(&args.store),
                        counts.published,
                        counts.dead_letters,
                        counts.deferred
                    );
                    if let Some(o) = &outbox {
                        outln!(
                            "  outbox: {} pending ({} due, {} being published), {} published, {} dead-lettered",
                            o.pending,
                            o.due,
                            o.claimed,
                            o.published,
                            o.dead_lettered
                        );
                    }
                    for (kind, n) in &counts.dead_letters_by_kind {
                        outln!("  dead-lettered ({}): {n}", crate::terminal::printable(kind));
                    }
                    if let (Some(next), Some(until)) = (counts.next_due_ms, counts.deferred_until_ms) {
                        outln!(
                            "  deferred: next due {}, last {}",
                            Timestamp::from_millis(next).to_rfc3339(),
                            Timestamp::from_millis(until).to_rfc3339()
                        );
                    }
                }
            }
            exit::SUCCESS
        }
        Err(message) => {
            report::fatal(args.output, &message);
            exit::FAILURE
        }
    }
}
