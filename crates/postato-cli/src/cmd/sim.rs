//! `postato sim`: runs the simulator until Ctrl-C; its base URL is the first line of stdout.

use clap::Args;
use postato_sim::{FaultRates, QuotaConfig, RateLimitConfig, SimConfig, Simulator, DEFAULT_API_KEY};
use std::time::Duration;

use crate::exit;

/// Run the Postato API simulator on 127.0.0.1.
#[derive(Args, Debug)]
pub struct SimArgs {
    /// The port (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Accepted API keys (repeatable)
    #[arg(long = "api-key", default_value = DEFAULT_API_KEY)]
    pub api_keys: Vec<String>,
    /// Probability of a 5xx before processing
    #[arg(long, default_value_t = 0.0)]
    pub server_error_rate: f64,
    /// Probability of a 429 before processing
    #[arg(long, default_value_t = 0.0)]
    pub rate_limited_rate: f64,
    /// The Retry-After of those 429s, in seconds
    #[arg(long, default_value_t = 1, value_name = "SECS", value_parser = clap::value_parser!(u64).range(1..))]
    pub rate_limited_retry_after: u64,
    /// Probability of closing the connection before processing
    #[arg(long, default_value_t = 0.0)]
    pub reset_rate: f64,
    /// Probability of publishing and then closing the connection without answering
    #[arg(long, default_value_t = 0.0)]
    pub drop_after_commit_rate: f64,
    /// Probability of a slow commit
    #[arg(long, default_value_t = 0.0)]
    pub slow_commit_rate: f64,
    /// How long a slow commit takes, in ms
    #[arg(long, default_value_t = 2_000)]
    pub slow_commit_ms: u64,
    /// Probability of extra latency
    #[arg(long, default_value_t = 0.0)]
    pub latency_rate: f64,
    /// The extra latency, in ms
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Requests per second per workspace (no limit when absent)
    #[arg(long)]
    pub rate_limit: Option<f64>,
    /// The rate limit's burst
    #[arg(long, default_value_t = 10)]
    pub burst: u32,
    /// Answer the rate limit's 429s with Retry-After only: no RateLimit-* headers
    #[arg(long)]
    pub no_rate_limit_headers: bool,
    /// The seed of the fault generator
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// How long stored answers are replayed, in seconds
    #[arg(long, default_value_t = 86_400)]
    pub retention_secs: u64,
    /// Accept POSTs without Idempotency-Key
    #[arg(long)]
    pub no_require_idempotency_key: bool,
    /// Do not serve the /_sim/ admin API
    #[arg(long)]
    pub no_admin: bool,
    /// A rate limit per account (the post's platform/accountId), in requests per second,
    /// beside the workspace's --rate-limit; its 429s say `RateLimit-Scope: account`
    #[arg(long, value_name = "PER_SECOND")]
    pub account_rate: Option<f64>,
    /// The burst of --account-rate
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    pub account_burst: u32,
    /// A quota per account: at most N requests per WINDOW (fixed windows from the start), such
    /// as 25/24h or 20/10s; a request past it is answered 429 with the window's end as
    /// Retry-After
    #[arg(long, value_name = "N/WINDOW")]
    pub account_quota: Option<QuotaConfig>,
    /// An account whose every request is answered 429 for SECS from the start (a spent daily
    /// quota), as platform/accountId=SECS; repeat for more
    #[arg(long = "spent-account", value_name = "PLATFORM/ACCOUNT=SECS", value_parser = spent_account)]
    pub spent_accounts: Vec<(String, u64)>,
}

/// `platform/accountId=SECS`.
fn spent_account(text: &str) -> Result<(String, u64), String> {
    let wrong = || format!("{text:?}: give PLATFORM/ACCOUNT=SECS, such as x/acc_1=3000");
    let (account, secs) = text.rsplit_once('=').ok_or_else(wrong)?;
    if !account.contains('/') {
        return Err(wrong());
    }
    Ok((account.to_owned(), secs.parse().map_err(|_| wrong())?))
}

pub async fn run(args: &SimArgs) -> u8 {
    let config = SimConfig {
        port: args.port,
        api_keys: args.api_keys.clone(),
        require_idempotency_key: !args.no_require_idempotency_key,
        retention: Duration::from_secs(args.retention_secs),
        rate_limit: args.rate_limit.map(|rate| RateLimitConfig { rate_per_second: rate, burst: args.burst }),
        rate_limit_headers: !args.no_rate_limit_headers,
        account_rate_limit: args
            .account_rate
            .map(|rate| RateLimitConfig { rate_per_second: rate, burst: args.account_burst }),
        account_quota: args.account_quota,
        spent_accounts: args.spent_accounts.iter().cloned().collect(),
        faults: FaultRates {
            server_error: args.server_error_rate,
            rate_limited: args.rate_limited_rate,
            rate_limited_retry_after_secs: args.rate_limited_retry_after,
            reset_before: args.reset_rate,
            drop_after_commit: args.drop_after_commit_rate,
            slow_commit: args.slow_commit_rate,
            slow_commit_ms: args.slow_commit_ms,
            latency: args.latency_rate,
            latency_ms: args.latency_ms,
        },
        seed: args.seed,
        admin: !args.no_admin,
    };
    for (flag, rate) in [("--rate-limit", args.rate_limit), ("--account-rate", args.account_rate)] {
        if let Some(rate) = rate.filter(|r| !(*r > 0.0 && r.is_finite())) {
            errln!("error: {flag} {rate} must be a positive number of requests per second");
            return exit::INVALID_INPUT;
        }
    }
    let sim = match Simulator::start(config).await {
        Ok(sim) => sim,
        Err(e) => {
            errln!("error: {e}");
            return exit::INVALID_INPUT;
        }
    };
    // Listening before the URL is out: a caller that stops the simulator as soon as it reads
    // the URL stops it cleanly, never by the signal's default action.
    let mut signals = crate::signals::StopSignals::listen();
    outln!("{}", sim.base_url());
    crate::terminal::info(&format!(
        "postato simulator listening on {} (admin API under /_sim/); Ctrl-C stops it",
        sim.base_url()
    ));
    signals.next().await;
    sim.stop().await;
    exit::SUCCESS
}
