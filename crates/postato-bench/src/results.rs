//! The data model of a run, as written to `benchmarks.json`: every measured figure as a number,
//! each scenario's parameters, baseline and targets, the machine and the client's settings.
//! The report is rendered from this alone.

use serde::{Deserialize, Serialize};
use std::path::Path;

/// Bumped when the format changes in a way an older renderer cannot read.
pub const SCHEMA: u32 = 1;

/// One whole run (or, with `--only`, part of one).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Results {
    pub schema: u32,
    /// Whether `--quick` shrank the sizes.
    pub quick: bool,
    pub machine: Machine,
    pub client: ClientSettings,
    pub scenarios: Vec<Scenario>,
    /// Groups measured again since the full run (`--only GROUP --merge`), and when.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub merged: Vec<String>,
}

impl Results {
    pub fn read(path: &Path) -> Result<Results, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let results: Results =
            serde_json::from_str(&text).map_err(|e| format!("{} is not a results file: {e}", path.display()))?;
        if results.schema != SCHEMA {
            return Err(format!("{} has schema {}, this renderer reads {SCHEMA}", path.display(), results.schema));
        }
        Ok(results)
    }

    pub fn write(&self, path: &Path) -> Result<(), String> {
        let mut text = serde_json::to_string_pretty(self).map_err(|e| e.to_string())?;
        text.push('\n');
        std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

/// Where the run ran.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Machine {
    pub cores: usize,
    pub cpu: String,
    #[serde(rename = "memoryGiB")]
    pub memory_gib: u64,
    pub os: String,
    pub rustc: String,
    /// The harness's build profile: "release" or "debug".
    pub profile: String,
}

/// The settings the benchmarked client ran with (its defaults), as the prose cites them.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientSettings {
    pub retry_policy: PolicySettings,
    pub retry_budget: BudgetSettings,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicySettings {
    pub max_attempts: u32,
    pub backoff_base_ms: u64,
    pub backoff_cap_ms: u64,
    /// The additive jitter's exclusive bound; `None` for full jitter.
    pub jitter_max_ms: Option<u64>,
}

impl PolicySettings {
    /// The exponential part of the backoff after the `failures`-th failure, in ms.
    pub fn backoff_ms(&self, failures: u32) -> u64 {
        self.backoff_base_ms.saturating_mul(1u64 << failures.min(62)).min(self.backoff_cap_ms)
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BudgetSettings {
    pub capacity: f64,
    pub retry_cost: f64,
    pub success_deposit: f64,
    pub refill_per_second: f64,
}

/// One row of the report.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scenario {
    /// The row's number in the report ("1", "2b", …).
    pub id: String,
    pub name: String,
    #[serde(flatten)]
    pub figures: Figures,
    pub targets: Vec<Target>,
    /// Whether every target was met; `None` when there is no target.
    pub met: Option<bool>,
}

impl Scenario {
    /// A scenario whose `met` is judged from its figures.
    pub fn new(id: &str, name: impl Into<String>, figures: Figures, targets: Vec<Target>) -> Scenario {
        let met = (!targets.is_empty()).then(|| targets.iter().all(|t| t.met_by(&figures)));
        Scenario { id: id.into(), name: name.into(), figures, targets, met }
    }
}

/// A baseline's description beside its figures.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baseline<T> {
    pub description: String,
    #[serde(flatten)]
    pub figures: T,
}

/// The measured figures, by kind of scenario.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Figures {
    Overhead(Overhead),
    Goodput(Goodput),
    Outage(Outage),
    Campaign(Campaign),
    Binding(Binding),
    BindingNotRun(BindingNotRun),
    Core(Core),
    Scoped(Scoped),
    OutboxDrain(OutboxDrain),
    OutboxEnqueue(OutboxEnqueue),
    OutboxWake(OutboxWake),
}

impl Figures {
    /// The value a target on `metric` is judged by, if this kind has it.
    pub fn metric(&self, metric: Metric) -> Option<f64> {
        match (self, metric) {
            (Figures::Overhead(o), Metric::Ratio) => Some(o.ratio()),
            (Figures::Binding(b), Metric::Ratio) => Some(b.ratio()),
            (Figures::Goodput(g), Metric::IdealMultiple) => Some(g.ours.seconds / g.ideal_seconds()),
            (Figures::Goodput(g), Metric::Share429) => Some(g.ours.share_429),
            (Figures::Scoped(s), Metric::IdealMultiple) => Some(s.ours.seconds / s.parameters.ideal_seconds),
            (Figures::Scoped(s), Metric::Share429) => Some(s.ours.share_429),
            (Figures::Scoped(s), Metric::RequestsPerHold) => s.ours.requests_per_hold,
            (Figures::Outage(o), Metric::Lost) => Some(o.ours.lost as f64),
            (Figures::Outage(o), Metric::RequestsPerPost) => Some(o.ours.requests_per_post),
            (Figures::Campaign(c), Metric::PeakRssMib) => Some(c.largest_peak_rss_mib()),
            (Figures::Campaign(c), Metric::RssBytesPerPost) => Some(c.rss_bytes_per_post()),
            (Figures::OutboxDrain(d), Metric::Ratio) => Some(d.ratio()),
            (Figures::OutboxDrain(d), Metric::Lost) => Some((d.ours.lost + d.baseline.figures.lost) as f64),
            (Figures::OutboxDrain(d), Metric::Twice) => Some((d.ours.twice + d.baseline.figures.twice) as f64),
            (Figures::OutboxWake(w), Metric::P50Ms) => Some(w.ours.p50_ms),
            (Figures::OutboxWake(w), Metric::P99Ms) => Some(w.ours.p99_ms),
            _ => None,
        }
    }
}

/// Throughput of publishes.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rate {
    pub publishes_per_second: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Overhead {
    pub parameters: OverheadParameters,
    pub ours: Rate,
    pub baseline: Baseline<Rate>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OverheadParameters {
    pub posts: usize,
    pub concurrency: usize,
    /// The best of this many rounds is kept, for each side.
    pub rounds: usize,
    /// The size of each post's content, when not the short default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_bytes: Option<usize>,
    /// How late the simulator's every answer came, if it was made late.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
}

impl Overhead {
    pub fn ratio(&self) -> f64 {
        self.ours.publishes_per_second / self.baseline.figures.publishes_per_second
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Goodput {
    pub parameters: GoodputParameters,
    pub ours: GoodputRun,
    pub baseline: Baseline<GoodputRun>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoodputParameters {
    pub posts: usize,
    pub concurrency: usize,
    /// The simulator's limit.
    pub rate_per_second: f64,
    /// The simulator's bucket size.
    pub burst: u32,
    /// Whether the simulator advertises its limit with `RateLimit-*` headers.
    pub rate_limit_headers: bool,
    /// Whose limiter answered, when not our simulator's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limiter: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GoodputRun {
    /// Wall time to publish every post.
    pub seconds: f64,
    /// The share (0 to 1) of requests answered 429.
    pub share_429: f64,
}

/// Limits per account: a run's time against its ideal, beside the reference loop.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scoped {
    pub parameters: ScopedParameters,
    pub ours: ScopedRun,
    pub baseline: Baseline<ScopedRun>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopedParameters {
    pub posts: usize,
    pub accounts: usize,
    pub concurrency: usize,
    /// The simulator's limits, in words.
    pub limits: String,
    /// The ideal time, and what it is.
    pub ideal_seconds: f64,
    pub ideal: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopedRun {
    /// Wall time to the measured end (the posts the ideal is about).
    pub seconds: f64,
    /// The share (0 to 1) of requests answered 429.
    pub share_429: f64,
    /// Posts of the measured set published by then.
    pub published: usize,
    /// Posts deferred on the way (published once due, or kept for later).
    pub deferred: usize,
    /// Requests sent to a spent account per hold it had, where measured.
    pub requests_per_hold: Option<f64>,
}

impl Goodput {
    /// N/R, as the targets define the ideal.
    pub fn ideal_seconds(&self) -> f64 {
        self.parameters.posts as f64 / self.parameters.rate_per_second
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outage {
    pub parameters: OutageParameters,
    pub ours: OutageRun,
    pub baseline: Baseline<OutageRun>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutageParameters {
    pub posts: usize,
    pub concurrency: usize,
    /// Every request is answered 503 for this long from the start.
    pub outage_seconds: f64,
    /// The attempts after which the reference gives a post up.
    pub reference_max_attempts: u32,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutageRun {
    /// All requests the simulator saw, per post.
    pub requests_per_post: f64,
    /// The requests answered 503 (during the outage), per post; `None` if not recorded.
    pub answered_503_per_post: Option<f64>,
    pub lost: usize,
    /// From the end of the outage to the last post published; `None` if none was.
    pub drain_seconds: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Campaign {
    pub parameters: CampaignParameters,
    /// One run of `postato batch` per campaign size, smallest first.
    pub ours: Vec<CampaignRun>,
    pub baseline: Baseline<StoreRate>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignParameters {
    pub concurrency: usize,
    /// Records the store-alone baseline writes.
    pub store_records: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CampaignRun {
    pub posts: usize,
    /// The process's peak resident set (VmHWM).
    #[serde(rename = "peakRssKiB")]
    pub peak_rss_kib: u64,
    pub posts_per_second: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StoreRate {
    pub records_per_second: f64,
}

impl Campaign {
    pub fn largest_peak_rss_mib(&self) -> f64 {
        self.ours.iter().map(|r| r.peak_rss_kib).max().unwrap_or(0) as f64 / 1024.0
    }

    pub fn rss_bytes_per_post(&self) -> f64 {
        match (self.ours.first(), self.ours.last()) {
            (Some(small), Some(large)) if large.posts > small.posts => {
                (large.peak_rss_kib as f64 - small.peak_rss_kib as f64) * 1024.0 / (large.posts - small.posts) as f64
            }
            _ => 0.0,
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    pub parameters: BindingParameters,
    pub ours: Rate,
    pub baseline: Baseline<Rate>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingParameters {
    pub language: String,
    /// The script's name for the measurement ("threads", "asyncio", "client").
    pub api: String,
    /// How the script runs publishes at once ("threads", "asyncio", "Promise.all").
    pub style: String,
    pub posts: usize,
    pub concurrency: usize,
}

impl Binding {
    pub fn ratio(&self) -> f64 {
        self.ours.publishes_per_second / self.baseline.figures.publishes_per_second.max(1e-9)
    }
}

/// A binding whose script could not run.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingNotRun {
    pub language: String,
    pub reason: String,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Core {
    pub parameters: CoreParameters,
    pub ours: CoreEstimate,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoreParameters {
    pub warm_up_seconds: f64,
    pub measurement_seconds: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CoreEstimate {
    /// Criterion's headline statistic for the benchmark: "slope" when it has one, else "mean".
    pub statistic: String,
    pub nanoseconds: f64,
}

/// The outbox drained by several `postato worker` processes beside one alone, against a
/// simulator whose every answer takes `latency_ms`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxDrain {
    pub parameters: OutboxDrainParameters,
    /// `workers` workers.
    pub ours: DrainRun,
    /// One worker.
    pub baseline: Baseline<DrainRun>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxDrainParameters {
    /// Posts each run drains.
    pub posts: usize,
    pub workers: usize,
    /// Each worker's `--concurrency`.
    pub concurrency: usize,
    pub latency_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrainRun {
    /// From the workers' start to the last one's exit (`--exit-when-idle`).
    pub seconds: f64,
    pub posts_per_second: f64,
    /// Committed posts the simulator never published.
    pub lost: usize,
    /// Posts the simulator published more than once.
    pub twice: usize,
}

impl OutboxDrain {
    pub fn ratio(&self) -> f64 {
        self.ours.posts_per_second / self.baseline.figures.posts_per_second.max(1e-9)
    }
}

/// The cost of an enqueue in the application's transaction, beside a plain INSERT of the same
/// row into a table of the application's.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEnqueue {
    pub parameters: OutboxEnqueueParameters,
    pub ours: PerRow,
    pub baseline: Baseline<PerRow>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxEnqueueParameters {
    pub posts: usize,
    /// Rows per transaction.
    pub per_transaction: usize,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerRow {
    pub microseconds_per_row: f64,
}

/// From an enqueue's commit to the first request of its post reaching the simulator, with
/// one idle worker.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxWake {
    pub parameters: OutboxWakeParameters,
    pub ours: Percentiles,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboxWakeParameters {
    pub samples: usize,
    /// The worker's fallback poll, far longer than any figure: only the wake by NOTIFY counts.
    pub poll_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Percentiles {
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// A target: a metric and a bound, e.g. `{"metric": "ratio", "atLeast": 0.95}`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub metric: Metric,
    #[serde(flatten)]
    pub bound: Bound,
}

impl Target {
    pub fn new(metric: Metric, bound: Bound) -> Target {
        Target { metric, bound }
    }

    /// False when the figures lack the metric.
    pub fn met_by(&self, figures: &Figures) -> bool {
        figures.metric(self.metric).is_some_and(|value| self.bound.holds(value))
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Metric {
    /// Our throughput over the baseline's.
    Ratio,
    /// Wall time over the ideal (N/R).
    IdealMultiple,
    /// The share (0 to 1) of requests answered 429.
    #[serde(rename = "share429")]
    Share429,
    /// Posts lost.
    Lost,
    RequestsPerPost,
    /// Requests a spent account cost per hold.
    RequestsPerHold,
    /// The largest campaign's peak RSS.
    #[serde(rename = "peakRssMiB")]
    PeakRssMib,
    /// Peak RSS growth from the smallest campaign to the largest, per post.
    RssBytesPerPost,
    /// Posts published more than once.
    Twice,
    /// The median of a latency, in ms.
    P50Ms,
    /// The 99th percentile of a latency, in ms.
    P99Ms,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Bound {
    AtLeast(f64),
    AtMost(f64),
    Above(f64),
    Below(f64),
}

impl Bound {
    pub fn holds(self, value: f64) -> bool {
        match self {
            Bound::AtLeast(b) => value >= b,
            Bound::AtMost(b) => value <= b,
            Bound::Above(b) => value > b,
            Bound::Below(b) => value < b,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_committed_results_read_and_write_back_unchanged() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../benchmarks.json");
        let results = Results::read(&path).unwrap();
        // Compared as JSON values: a float's last digit may print differently once parsed.
        let committed: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(serde_json::to_value(&results).unwrap(), committed);
    }

    #[test]
    fn a_target_is_a_metric_beside_its_bound() {
        let target = Target::new(Metric::Ratio, Bound::AtLeast(0.95));
        let json = serde_json::to_value(&target).unwrap();
        assert_eq!(json, serde_json::json!({"metric": "ratio", "atLeast": 0.95}));
        let back: Target = serde_json::from_value(json).unwrap();
        assert_eq!(back.bound, Bound::AtLeast(0.95));
    }

    #[test]
    fn a_scenario_round_trips_with_its_kind_beside_its_figures() {
        let figures = Figures::Overhead(Overhead {
            parameters: OverheadParameters {
                posts: 10,
                concurrency: 2,
                rounds: 3,
                content_bytes: None,
                latency_ms: None,
            },
            ours: Rate { publishes_per_second: 90.0 },
            baseline: Baseline { description: "plain".into(), figures: Rate { publishes_per_second: 100.0 } },
        });
        let scenario = Scenario::new("1", "Overhead", figures, vec![Target::new(Metric::Ratio, Bound::AtLeast(0.95))]);
        assert_eq!(scenario.met, Some(false));
        let json = serde_json::to_value(&scenario).unwrap();
        assert_eq!(json["kind"], "overhead");
        assert_eq!(json["baseline"]["publishesPerSecond"], 100.0);
        let back: Scenario = serde_json::from_value(json).unwrap();
        assert!(matches!(back.figures, Figures::Overhead(o) if o.ratio() == 0.9));
    }
}
