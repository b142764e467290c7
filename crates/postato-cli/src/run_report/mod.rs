//! What `postato report` shows: a [`RunReport`] read from a run's event log (`batch --events`)
//! and its store, then drawn as one self-contained HTML page ([`page`], with charts as inline
//! SVG from [`svg`]).
//!
//! This module owns the reading and the sums: totals, time buckets of the run (publishes,
//! retries, 429s, dead letters by kind), and per-account rows (holds, deferrals, how long
//! their posts took).

mod page;
mod svg;

use postato::{DeadLetter, Deferral, Post, StoreCounts};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

pub use page::render;

/// The most time buckets a timeline has.
const MAX_BUCKETS: u64 = 60;

/// A run, summed for the page.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The `run` line: campaign, store (without credentials) and settings.
    pub campaign: Option<String>,
    pub store: Option<String>,
    pub settings: BTreeMap<String, Value>,
    /// The `end` line's summary (absent when the run did not end: killed, or still running).
    pub summary: Option<serde_json::Map<String, Value>>,
    pub started_ms: u64,
    pub ended_ms: u64,
    pub totals: Totals,
    /// How long one time bucket is, in ms.
    pub bucket_ms: u64,
    pub buckets: Vec<Bucket>,
    /// Every account with a post in the run, busiest first.
    pub accounts: Vec<AccountRow>,
    /// What the store holds now, when it was given.
    pub store_now: Option<StoreNow>,
    /// Event lines that could not be read (counted, never fatal).
    pub unreadable_lines: u64,
}

/// The run's totals.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Totals {
    /// Campaign lines with an outcome.
    pub posts: u64,
    pub published: u64,
    pub already_published: u64,
    pub dead_lettered: u64,
    pub deferred: u64,
    pub store_errors: u64,
    /// Requests sent.
    pub requests: u64,
    /// Requests after the first of their publish.
    pub retries: u64,
    /// Answers 429.
    pub rate_limited: u64,
    /// Attempts that ended without an answer.
    pub transport_failures: u64,
    /// Time spent waiting before requests, by reason (ms).
    pub waits_ms: BTreeMap<String, u64>,
    pub dead_lettered_by_kind: BTreeMap<String, u64>,
}

/// One slice of the run's time.
#[derive(Debug, Default, Clone)]
pub struct Bucket {
    pub published: u64,
    pub retries: u64,
    pub rate_limited: u64,
    pub deferred: u64,
    pub dead_lettered: BTreeMap<String, u64>,
}

/// One account (`platform/accountId`).
#[derive(Debug, Default, Clone)]
pub struct AccountRow {
    pub account: String,
    pub posts: u64,
    pub published: u64,
    pub already_published: u64,
    pub dead_lettered: u64,
    pub deferred: u64,
    pub rate_limited: u64,
    /// Time its posts waited for a rate limit (429s, holds and pacing), in ms.
    pub held_ms: u64,
    /// How long its posts took, first request to outcome (ms): the median, the 90th
    /// percentile and the slowest.
    pub median_ms: u64,
    pub p90_ms: u64,
    pub slowest_ms: u64,
}

/// The store as it is when the report is made.
#[derive(Debug, Default)]
pub struct StoreNow {
    pub counts: StoreCounts,
    /// Deferred posts by account, with when the last of them is due.
    pub deferred_by_account: BTreeMap<String, (u64, u64)>,
    /// The latest dead letters (at most [`LATEST_DEAD_LETTERS`]).
    pub latest_dead_letters: Vec<DeadLetter>,
}

/// How many dead letters the page lists.
pub const LATEST_DEAD_LETTERS: usize = 20;

/// What one business key did in the run.
#[derive(Default)]
struct KeyTrack {
    first_attempt_ms: Option<u64>,
    held_ms: u64,
    rate_limited: u64,
    /// The wait it is in: its reason, and since when.
    waiting: Option<(String, u64)>,
}

impl KeyTrack {
    /// Ends the wait the key was in at `at` (its next request or its outcome): the time it
    /// really waited, by reason, into `waits_ms`, and into its held time for a rate limit.
    fn wait_ends(&mut self, at: u64, waits_ms: &mut BTreeMap<String, u64>) {
        if let Some((reason, since)) = self.waiting.take() {
            let waited = at.saturating_sub(since);
            if is_hold(&reason) {
                self.held_ms += waited;
            }
            *waits_ms.entry(reason).or_default() += waited;
        }
    }
}

/// The `outcome` lines, kept until every line is read (a key's account is on its outcome).
struct OutcomeLine {
    at_ms: u64,
    business_key: String,
    account: Option<String>,
    outcome: String,
    kind: Option<String>,
    /// False for a publish whose result the store could not record.
    recorded: bool,
}

/// Waits for a rate limit: what "held" sums.
fn is_hold(reason: &str) -> bool {
    matches!(reason, "rate_limited" | "rate_limit_gate" | "pacing" | "probe")
}

impl RunReport {
    /// Reads an event log. A line that is not an event is counted in `unreadable_lines`.
    pub fn from_events(events: impl BufRead) -> std::io::Result<Self> {
        let mut report = RunReport::default();
        let mut keys: HashMap<String, KeyTrack> = HashMap::new();
        // The last outcome of each campaign line (a line deferred, then published by a later
        // pass, is published), in the order lines first ended.
        let mut outcomes: Vec<OutcomeLine> = Vec::new();
        let mut line_at: HashMap<u64, usize> = HashMap::new();
        // (time, what) of the timeline's events, bucketed once the run's span is known.
        let mut timeline: Vec<(u64, Tick)> = Vec::new();
        let (mut first, mut last) = (u64::MAX, 0);
        for line in events.lines() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let Ok(Value::Object(event)) = serde_json::from_str::<Value>(&line) else {
                report.unreadable_lines += 1;
                continue;
            };
            let text = |name: &str| event.get(name).and_then(Value::as_str).map(str::to_owned);
            let number = |name: &str| event.get(name).and_then(Value::as_u64);
            let (Some(at), Some(kind)) = (number("atMs"), text("event")) else {
                report.unreadable_lines += 1;
                continue;
            };
            (first, last) = (first.min(at), last.max(at));
            let key = text("businessKey").unwrap_or_default();
            let totals = &mut report.totals;
            match kind.as_str() {
                "run" => {
                    report.campaign = text("campaign");
                    report.store = text("store");
                    if let Some(Value::Object(settings)) = event.get("settings") {
                        report.settings = settings.clone().into_iter().collect();
                    }
                }
                "attempt" => {
                    totals.requests += 1;
                    let track = keys.entry(key).or_default();
                    track.wait_ends(at, &mut totals.waits_ms);
                    track.first_attempt_ms.get_or_insert(at);
                    if number("attempt").unwrap_or(1) > 1 {
                        totals.retries += 1;
                        timeline.push((at, Tick::Retry));
                    }
                }
                "response" => {
                    if number("status") == Some(429) {
                        totals.rate_limited += 1;
                        keys.entry(key).or_default().rate_limited += 1;
                        timeline.push((at, Tick::RateLimited));
                    }
                }
                "transport_failed" => totals.transport_failures += 1,
                "wait" => {
                    let reason = text("reason").unwrap_or_else(|| "other".to_owned());
                    let track = keys.entry(key).or_default();
                    track.wait_ends(at, &mut totals.waits_ms);
                    track.waiting = Some((reason, at));
                }
                "outcome" => {
                    if let Some(track) = keys.get_mut(&key) {
                        track.wait_ends(at, &mut totals.waits_ms);
                    }
                    let outcome = OutcomeLine {
                        at_ms: at,
                        business_key: key,
                        account: text("account"),
                        outcome: text("outcome").unwrap_or_default(),
                        kind: text("kind"),
                        recorded: event.get("recorded").and_then(Value::as_bool).unwrap_or(true),
                    };
                    // Every deferral is on the timeline; only a line's last outcome counts.
                    if outcome.outcome == "deferred" {
                        timeline.push((at, Tick::Deferred));
                    }
                    match number("line").and_then(|line| line_at.get(&line).copied().map(|i| (line, i))) {
                        Some((_, i)) => outcomes[i] = outcome,
                        None => {
                            if let Some(line) = number("line") {
                                line_at.insert(line, outcomes.len());
                            }
                            outcomes.push(outcome);
                        }
                    }
                }
                "end" => {
                    if let Some(Value::Object(summary)) = event.get("summary") {
                        report.summary = Some(summary.clone());
                    }
                }
                _ => report.unreadable_lines += 1,
            }
        }
        if first == u64::MAX {
            first = 0;
        }
        report.started_ms = first;
        report.ended_ms = last;
        report.bucket_ms = bucket_ms(last.saturating_sub(first));
        let mut accounts: BTreeMap<String, (AccountRow, Vec<u64>)> = BTreeMap::new();
        let mut counted_keys = std::collections::HashSet::new();
        for outcome in &outcomes {
            let totals = &mut report.totals;
            totals.posts += 1;
            if !outcome.recorded {
                totals.store_errors += 1;
            }
            let tick = match outcome.outcome.as_str() {
                "published" => {
                    totals.published += 1;
                    Some(Tick::Published)
                }
                "already_published" => {
                    totals.already_published += 1;
                    None
                }
                "deferred" => {
                    totals.deferred += 1;
                    None
                }
                "dead_lettered" => {
                    totals.dead_lettered += 1;
                    let kind = outcome.kind.clone().unwrap_or_else(|| "unknown".to_owned());
                    *totals.dead_lettered_by_kind.entry(kind.clone()).or_default() += 1;
                    Some(Tick::DeadLettered(kind))
                }
                _ => {
                    totals.store_errors += 1;
                    None
                }
            };
            if let Some(tick) = tick {
                timeline.push((outcome.at_ms, tick));
            }
            let Some(account) = &outcome.account else { continue };
            let (row, took) = accounts.entry(account.clone()).or_default();
            row.posts += 1;
            match outcome.outcome.as_str() {
                "published" => row.published += 1,
                "already_published" => row.already_published += 1,
                "deferred" => row.deferred += 1,
                "dead_lettered" => row.dead_lettered += 1,
                _ => {}
            }
            // A key's requests, holds and time count once, however many lines carry it.
            if !counted_keys.insert(outcome.business_key.as_str()) {
                continue;
            }
            if let Some(track) = keys.get(&outcome.business_key) {
                row.held_ms += track.held_ms;
                row.rate_limited += track.rate_limited;
                if let Some(started) = track.first_attempt_ms {
                    took.push(outcome.at_ms.saturating_sub(started));
                }
            }
        }
        report.accounts = accounts
            .into_iter()
            .map(|(account, (mut row, mut took))| {
                took.sort_unstable();
                row.account = account;
                row.median_ms = took.get(took.len() / 2).copied().unwrap_or(0);
                row.p90_ms = took.get(took.len() * 9 / 10).copied().unwrap_or(0);
                row.slowest_ms = took.last().copied().unwrap_or(0);
                row
            })
            .collect();
        report.accounts.sort_by(|a, b| b.posts.cmp(&a.posts).then_with(|| a.account.cmp(&b.account)));
        let count = (last.saturating_sub(first) / report.bucket_ms + 1) as usize;
        report.buckets = vec![Bucket::default(); count];
        for (at, tick) in timeline {
            let bucket = &mut report.buckets[(at.saturating_sub(first) / report.bucket_ms) as usize];
            match tick {
                Tick::Published => bucket.published += 1,
                Tick::Retry => bucket.retries += 1,
                Tick::RateLimited => bucket.rate_limited += 1,
                Tick::Deferred => bucket.deferred += 1,
                Tick::DeadLettered(kind) => *bucket.dead_lettered.entry(kind).or_default() += 1,
            }
        }
        Ok(report)
    }

    /// Adds what the store holds now: its counts and latest dead letters (deferrals come in
    /// pages, [`RunReport::add_deferrals`]).
    pub fn with_store(&mut self, counts: StoreCounts, mut dead_letters: Vec<DeadLetter>) {
        dead_letters.sort_by_key(|letter| std::cmp::Reverse(letter.failed_at_ms));
        dead_letters.truncate(LATEST_DEAD_LETTERS);
        let deferred_by_account = self.store_now.take().map(|s| s.deferred_by_account).unwrap_or_default();
        self.store_now = Some(StoreNow { counts, deferred_by_account, latest_dead_letters: dead_letters });
    }

    /// Counts a page of the store's deferred posts by account (only the counts are kept).
    pub fn add_deferrals(&mut self, deferrals: &[Deferral]) {
        let store = self.store_now.get_or_insert_with(StoreNow::default);
        let deferred_by_account = &mut store.deferred_by_account;
        for deferral in deferrals {
            let account = deferral
                .payload
                .as_deref()
                .and_then(|payload| serde_json::from_str::<Post>(payload).ok())
                .map_or_else(|| "(unknown)".to_owned(), |post| format!("{}/{}", post.platform, post.account_id));
            let (posts, until): &mut (u64, u64) = deferred_by_account.entry(account).or_default();
            *posts += 1;
            *until = (*until).max(deferral.not_before_ms);
        }
    }
}

/// What the timeline counts.
enum Tick {
    Published,
    Retry,
    RateLimited,
    Deferred,
    DeadLettered(String),
}

/// A bucket length for a run of `span_ms`: a round length (1 s, 2 s, 5 s, 10 s, … 1 day) that
/// gives at most [`MAX_BUCKETS`] buckets.
fn bucket_ms(span_ms: u64) -> u64 {
    const STEPS: [u64; 16] = [
        1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000, 3_600_000,
        7_200_000, 21_600_000, 86_400_000,
    ];
    STEPS.into_iter().find(|step| span_ms / step < MAX_BUCKETS).unwrap_or_else(|| span_ms / (MAX_BUCKETS - 1) + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(lines: &[&str]) -> RunReport {
        RunReport::from_events(std::io::Cursor::new(lines.join("\n"))).unwrap()
    }

    #[test]
    fn events_are_summed_into_totals_buckets_and_accounts() {
        let report = log(&[
            r#"{"atMs":1000,"event":"run","campaign":"c.jsonl","store":"posts.db","settings":{"concurrency":4}}"#,
            r#"{"atMs":1000,"event":"attempt","businessKey":"a","attempt":1}"#,
            r#"{"atMs":1010,"event":"response","businessKey":"a","attempt":1,"status":429,"decision":"retry"}"#,
            r#"{"atMs":1010,"event":"wait","businessKey":"a","reason":"rate_limited","delayMs":1500}"#,
            r#"{"atMs":2600,"event":"attempt","businessKey":"a","attempt":2}"#,
            r#"{"atMs":2620,"event":"outcome","line":1,"businessKey":"a","account":"x/acc_1","outcome":"published","attempts":2}"#,
            r#"{"atMs":1000,"event":"attempt","businessKey":"b","attempt":1}"#,
            r#"{"atMs":1100,"event":"outcome","line":2,"businessKey":"b","account":"x/acc_2","outcome":"dead_lettered","kind":"permanent","attempts":1}"#,
            r#"{"atMs":3500,"event":"outcome","line":3,"businessKey":"c","account":"x/acc_2","outcome":"already_published","attempts":0}"#,
            "not json",
            r#"{"atMs":3600,"event":"end","summary":{"total":3,"published":1}}"#,
        ]);
        let t = &report.totals;
        assert_eq!((t.posts, t.published, t.already_published, t.dead_lettered), (3, 1, 1, 1));
        assert_eq!((t.requests, t.retries, t.rate_limited), (3, 1, 1));
        assert_eq!(t.waits_ms["rate_limited"], 1590, "the time it really waited, to its next request");
        assert_eq!(report.unreadable_lines, 1);
        assert_eq!((report.started_ms, report.ended_ms, report.bucket_ms), (1000, 3600, 1000));
        assert_eq!(report.buckets.len(), 3);
        assert_eq!((report.buckets[0].rate_limited, report.buckets[0].dead_lettered["permanent"]), (1, 1));
        assert_eq!((report.buckets[1].published, report.buckets[1].retries), (1, 1));
        let acc_1 = report.accounts.iter().find(|a| a.account == "x/acc_1").unwrap();
        assert_eq!((acc_1.held_ms, acc_1.rate_limited, acc_1.slowest_ms), (1590, 1, 1620));
        assert_eq!(report.accounts[0].account, "x/acc_2", "busiest first");
        assert_eq!(report.summary.unwrap()["total"], 3);
        assert_eq!(report.campaign.as_deref(), Some("c.jsonl"));
    }

    #[test]
    fn a_line_counts_once_by_its_last_outcome_and_a_key_once_in_its_account() {
        let report = log(&[
            r#"{"atMs":0,"event":"attempt","businessKey":"a","attempt":1}"#,
            r#"{"atMs":5,"event":"response","businessKey":"a","attempt":1,"status":429,"decision":"rate_limited"}"#,
            r#"{"atMs":5,"event":"outcome","line":1,"businessKey":"a","account":"x/1","outcome":"deferred","untilMs":900}"#,
            r#"{"atMs":900,"event":"attempt","businessKey":"a","attempt":1}"#,
            r#"{"atMs":910,"event":"outcome","line":1,"businessKey":"a","account":"x/1","outcome":"published","recorded":false}"#,
            r#"{"atMs":920,"event":"outcome","line":2,"businessKey":"a","account":"x/1","outcome":"already_published"}"#,
        ]);
        let t = &report.totals;
        assert_eq!((t.posts, t.published, t.already_published, t.deferred, t.store_errors), (2, 1, 1, 0, 1));
        assert_eq!(report.buckets.iter().map(|b| b.deferred).sum::<u64>(), 1, "the deferral stays on the timeline");
        let row = &report.accounts[0];
        assert_eq!((row.posts, row.published, row.already_published, row.rate_limited), (2, 1, 1, 1));
    }

    #[test]
    fn buckets_are_round_and_at_most_sixty() {
        assert_eq!(bucket_ms(0), 1_000);
        assert_eq!(bucket_ms(59_999), 1_000);
        assert_eq!(bucket_ms(60_000), 2_000);
        assert_eq!(bucket_ms(3_600_000), 120_000);
        for span in [0, 1, 59_000, 61_000, 3_600_000, 90_000_000, 10_000_000_000] {
            assert!(span / bucket_ms(span) < MAX_BUCKETS, "{span}");
        }
    }

    #[test]
    fn an_empty_log_is_an_empty_report() {
        let report = log(&[]);
        assert_eq!(report.totals, Totals::default());
        assert_eq!(report.buckets.len(), 1);
    }
}
