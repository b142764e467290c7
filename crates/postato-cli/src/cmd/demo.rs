//! `postato demo`: the main job on an embedded default. It starts the simulator in-process
//! with faults on, publishes the bundled sample campaign (its schedule moved to the days after
//! the run) through a Publisher into a new SQLite store that it keeps and names, and verifies
//! against the simulator's ground truth that every post was published exactly once or
//! dead-lettered with its reason.

use chrono::{DateTime, Days, SecondsFormat, Utc};
use clap::Args;
use postato::postato_core::settings;
use postato::{Client, Jitter, Publisher, ResultStore, SqliteStore};
use postato_sim::{FaultRates, ScriptAction, SimConfig, Simulator};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::args::Output;
use crate::runner::{self, Progress};
use crate::{campaign, exit, report};

/// The bundled sample campaign: a few hundred posts across platforms, a few deliberately bad.
pub const SAMPLE_CAMPAIGN: &str = include_str!("../../campaign.jsonl");

/// The sample campaign with its schedule moved to begin the day after `now`, at the same times
/// of day and the same spacing: whatever day the demo runs, no post is scheduled in the past.
/// Lines without a schedule time (and the deliberately bad ones) are left as they are.
fn sample_campaign(now: DateTime<Utc>) -> String {
    let scheduled = |line: &str| -> Option<(serde_json::Map<String, Value>, DateTime<Utc>)> {
        let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(line) else { return None };
        let at = DateTime::parse_from_rfc3339(fields.get("scheduledAt")?.as_str()?).ok()?.with_timezone(&Utc);
        Some((fields, at))
    };
    let lines = SAMPLE_CAMPAIGN.lines();
    let Some(first) = lines.clone().filter_map(|line| scheduled(line).map(|(_, at)| at)).min() else {
        return SAMPLE_CAMPAIGN.to_owned();
    };
    let tomorrow = now.date_naive() + Days::new(1);
    let shift = tomorrow.signed_duration_since(first.date_naive());
    let mut text = String::with_capacity(SAMPLE_CAMPAIGN.len());
    for line in lines {
        match scheduled(line) {
            Some((mut fields, at)) => {
                let moved = (at + shift).to_rfc3339_opts(SecondsFormat::Millis, true);
                fields.insert("scheduledAt".into(), moved.into());
                text.push_str(&Value::Object(fields).to_string());
            }
            None => text.push_str(line),
        }
        text.push('\n');
    }
    text
}

/// The campaign name that keys the demo's unreadable lines.
const DEMO: &str = "the sample campaign";

/// A post in the sample whose account the simulator reports as suspended (a permanent error).
const SUSPENDED: &str = "campaign-dec-03-07-instagram";

/// Run the demo: a faulty simulator, the sample campaign, and a verification.
#[derive(Args, Debug)]
pub struct DemoArgs {
    // The demo's own default, above a campaign's, shows the simulator's faults sooner.
    #[arg(long, help = crate::args::help(settings::CONCURRENCY.row()), default_value_t = 32,
        value_parser = crate::args::concurrency, allow_negative_numbers = true)]
    pub concurrency: u32,
    /// The seed of the simulator's faults
    #[arg(long, default_value_t = 2026)]
    pub seed: u64,
    /// text or json (the verification as one JSON line)
    #[arg(long, value_enum, default_value_t = Output::Text)]
    pub output: Output,
}

pub async fn run(args: &DemoArgs) -> u8 {
    match demo(args).await {
        Ok(code) => code,
        Err(message) => {
            errln!("demo failed: {message}");
            exit::FAILURE
        }
    }
}

async fn demo(args: &DemoArgs) -> Result<u8, String> {
    let faults = FaultRates {
        server_error: 0.10,
        rate_limited: 0.05,
        reset_before: 0.02,
        drop_after_commit: 0.05,
        slow_commit: 0.03,
        slow_commit_ms: 1_500,
        ..FaultRates::default()
    };
    let sim = Simulator::start(SimConfig { faults, seed: args.seed, ..SimConfig::default() })
        .await
        .map_err(|e| e.to_string())?;
    let suspended =
        json!({"error": {"code": "account_suspended", "message": "the account is suspended", "field": "accountId"}});
    sim.script_business_key(
        SUSPENDED,
        vec![ScriptAction::Respond {
            status: 403,
            headers: Default::default(),
            body: Some(suspended),
            body_text: None,
        }],
    );
    let client = Client::builder()
        .api_key(sim.api_key())
        .workspace_id("ws_demo")
        .base_url(sim.base_url())
        .language("cli-demo")
        .timeout(Duration::from_millis(1_000))
        .backoff(Duration::from_millis(200), Duration::from_secs(3))
        .jitter(Jitter::Additive { max: Duration::from_millis(200) })
        .max_attempts(6)
        .build()
        .map_err(|e| e.to_string())?;
    let campaign_text = sample_campaign(std::time::SystemTime::now().into());
    let lines = campaign_text.lines().filter(|l| !l.trim().is_empty()).count() as u64;
    if args.output == Output::Text {
        outln!(
            "postato demo: publishing {lines} posts through a simulator at {} that fails on purpose",
            sim.base_url()
        );
        outln!("  faults: 10% 5xx, 5% 429, 2% resets, 5% drops after commit, 3% slow commits (1.5 s, past the 1 s timeout)");
    }
    // A new store each run (a store from another run would answer for posts this simulator
    // never saw), kept afterwards so that its dead letters can be listed as the summary says.
    let dir = tempfile::Builder::new()
        .prefix("postato-demo-")
        .tempdir()
        .map_err(|e| format!("cannot create a directory for the demo's store: {e}"))?
        .keep();
    let store_path = dir.join("demo.db");
    let store = Arc::new(SqliteStore::open(&store_path).map_err(|e| e.to_string())?);
    let publisher = Publisher::with_shared_store(client, Arc::clone(&store) as Arc<dyn ResultStore>);
    let text = campaign_text.clone();
    let open = move || {
        let lines = campaign::read(std::io::Cursor::new(text.clone()), campaign::Source::File, Arc::from(DEMO));
        Ok(Box::new(lines) as runner::Lines)
    };
    let mut summary = runner::run(
        publisher,
        open,
        runner::Input::File,
        args.concurrency as usize,
        Progress { total: Some(lines), enabled: true },
        true,
        None,
    )
    .await?;
    // The simulator is gone once the demo ends: nothing to requeue against.
    summary.hint_dead_letters_in(&store_path.to_string_lossy(), false);
    if args.output == Output::Text {
        summary.print(Output::Text);
    }

    // Verification against the platform's ground truth.
    let publishes = sim.publishes();
    let stats = sim.stats();
    let letters = store.dead_letters(None, usize::MAX).await.map_err(|e| e.to_string())?;
    let dead: BTreeMap<&str, &postato::DeadLetter> = letters.iter().map(|l| (l.business_key.as_str(), l)).collect();
    let (mut published, mut exactly_once, mut lost) = (0u64, 0u64, Vec::new());
    for item in campaign::read(campaign_text.as_bytes(), campaign::Source::File, Arc::from(DEMO)) {
        let item = item.map_err(|e| e.to_string())?;
        let key = match &item.post {
            Ok(post) if !post.business_key.is_empty() => post.business_key.clone(),
            Ok(_) => campaign::line_key(DEMO, item.line),
            Err(unreadable) => unreadable.business_key.clone(),
        };
        match store.published(&key).await.map_err(|e| e.to_string())? {
            Some(record) => {
                published += 1;
                if publishes.get(&record.idempotency_key) == Some(&1) {
                    exactly_once += 1;
                }
            }
            None if dead.contains_key(key.as_str()) => {}
            None => lost.push(key),
        }
    }
    let duplicates = stats.duplicate_keys.len();
    let ok = duplicates == 0 && lost.is_empty() && exactly_once == published && !summary.interrupted();
    match args.output {
        Output::Json => outln!(
            "{}",
            json!({
                "ok": ok,
                "posts": summary.total,
                "published": published,
                "publishedExactlyOnce": exactly_once,
                "duplicates": duplicates,
                "lost": lost.len(),
                "deadLettered": letters.len(),
                "deadLetters": letters.iter().map(|l| json!({"businessKey": campaign::shown_key(&l.business_key), "kind": l.kind, "status": l.status, "line": l.line, "message": l.message})).collect::<Vec<_>>(),
                "requests": stats.requests,
                "faultsInjected": stats.faults_injected,
                "replays": stats.replays,
                "platformPublishes": stats.platform_publishes,
                "store": store_path.to_string_lossy(),
            })
        ),
        Output::Text => {
            outln!();
            outln!("verification against the simulator's ground truth:");
            outln!(
                "  requests: {}, faults injected: {}, replays: {}",
                stats.requests,
                stats.faults_injected,
                stats.replays
            );
            outln!(
                "  posts published: {published}; platform publishes per key: {exactly_once} of {published} exactly 1"
            );
            outln!("  duplicates: {duplicates}");
            outln!(
                "  lost: {}{}",
                lost.len(),
                if lost.is_empty() { String::new() } else { format!(" ({})", lost.join(", ")) }
            );
            outln!("  dead letters: {}", letters.len());
            for letter in &letters {
                outln!("    {}", report::dead_letter(letter));
            }
            outln!(
                "{}",
                if ok { "OK: every post published exactly once or dead-lettered with its reason" } else { "FAILED" }
            );
        }
    }
    Ok(if ok { exit::SUCCESS } else { exit::FAILURE })
}
