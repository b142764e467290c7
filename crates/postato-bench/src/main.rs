//! The benchmark harness: arguments and orchestration. `cargo run --release -p postato-bench`
//! starts the simulator, runs each scenario beside its baseline in the same process run,
//! writes every figure to `benchmarks.json` and renders BENCHMARKS.md from that file.
//!
//! Flags: `--quick` shrinks the sizes; `--only NAME` runs one group (overhead, goodput,
//! outage, campaign, bindings, core, scaling, scopes, observability, outbox), prints its rows and writes nothing (with
//! `--merge`, its rows replace theirs in `benchmarks.json`, which says so, and BENCHMARKS.md is
//! rendered again); `--render-only` runs nothing and renders BENCHMARKS.md again from
//! `benchmarks.json`.

mod campaign;
mod core_bench;
mod foreign;
mod goodput;
mod language_telemetry;
mod languages;
mod machine;
mod notes;
mod observability;
mod outage;
mod outbox;
mod overhead;
mod reference;
mod report;
mod results;
mod scopes;
mod workload;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use results::{Results, SCHEMA};

/// The groups `--only` accepts, in the order a full run runs them.
const GROUPS: [&str; 10] =
    ["overhead", "goodput", "outage", "campaign", "bindings", "core", "scaling", "scopes", "observability", "outbox"];
const RESULTS_FILE: &str = "benchmarks.json";
const REPORT_FILE: &str = "BENCHMARKS.md";
const USAGE: &str =
    "usage: postato-bench [--quick] [--only overhead|goodput|outage|campaign|bindings|core|scaling|scopes|observability|outbox] \
                     [--merge] [--render-only]";

struct Args {
    quick: bool,
    only: Option<String>,
    merge: bool,
    render_only: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { quick: false, only: None, merge: false, render_only: false };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--render-only" => args.render_only = true,
            "--merge" => args.merge = true,
            "--only" => {
                let name = given.next().ok_or("--only needs a group name")?;
                if !GROUPS.contains(&name.as_str()) {
                    return Err(format!("unknown group {name:?}"));
                }
                args.only = Some(name);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if args.merge && args.only.is_none() {
        return Err("--merge needs --only: it replaces one group's rows".into());
    }
    Ok(args)
}

/// Runs the selected groups, in order.
async fn run(args: &Args, repo: &Path) -> Results {
    let runs = |name: &str| args.only.as_deref().is_none_or(|only| only == name);
    let quick = args.quick;
    let target_dir = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| repo.join("target"));
    let mut scenarios = Vec::new();
    if runs("overhead") {
        eprintln!("1/10 overhead");
        scenarios.push(overhead::overhead(if quick { 5_000 } else { 20_000 }).await);
    }
    if runs("goodput") {
        eprintln!("2/10 goodput under a rate limit, advertised and bare");
        scenarios.push(goodput::goodput(&goodput::ADVERTISED).await);
        scenarios.push(goodput::goodput(&goodput::BARE).await);
    }
    if runs("outage") {
        eprintln!("3/10 outage");
        scenarios.push(outage::outage(1_000, Duration::from_secs(if quick { 8 } else { 20 })).await);
    }
    if runs("campaign") {
        eprintln!("4/10 campaign memory (building the release CLI first)");
        let cli = campaign::build_cli(repo, &target_dir);
        let sizes: &[usize] = if quick { &[10_000, 100_000] } else { &[100_000, 1_000_000] };
        scenarios.extend(campaign::campaign(&cli, sizes).await);
    }
    if runs("bindings") {
        eprintln!("5/10 bindings");
        languages::prepare(repo);
        let sim = workload::simulator(postato_sim::SimConfig::default()).await;
        let n = if quick { 2_000 } else { 5_000 };
        // The Rust client's figure is the best of two runs, one before the scripts and one
        // after (a short run on this shared machine varies): the baseline is never flattered.
        let before = workload::client_process_rate(&sim, n, "rust-bindings-before").await;
        let mut bindings = languages::bindings(repo, &sim, n, 0.0);
        let after = workload::client_process_rate(&sim, n, "rust-bindings-after").await;
        languages::set_rust_client(&mut bindings, before.max(after));
        scenarios.extend(bindings);
    }
    if runs("core") {
        eprintln!("6/10 core");
        scenarios.extend(core_bench::core(repo, &target_dir));
    }
    if runs("scaling") {
        eprintln!("7/10 scaling with concurrency and body size");
        scenarios.extend(overhead::scaling(if quick { 2_000 } else { 10_000 }).await);
    }
    if runs("scopes") {
        eprintln!("8/10 limits per account: a spent account, 200 limited accounts, a quota window, a foreign limiter");
        scenarios.push(scopes::spent_account(quick).await);
        scenarios.push(scopes::many_limited_accounts(quick).await);
        scenarios.push(scopes::quota_window(quick).await);
        scenarios.push(foreign::governor_limited(quick).await);
    }
    if runs("observability") {
        eprintln!("9/10 observability: spans and metrics on, beside the same client with neither");
        scenarios.extend(observability::observability(if quick { 5_000 } else { 20_000 }).await);
        let sim = workload::simulator(postato_sim::SimConfig::default()).await;
        scenarios.extend(language_telemetry::language_telemetry(repo, &sim, if quick { 2_000 } else { 10_000 }));
    }
    if runs("outbox") {
        eprintln!("10/10 outbox: PostgreSQL drained by 1 and {} workers, the enqueue, commit to first request", 4);
        let cli = campaign::build_cli(repo, &target_dir);
        scenarios.extend(outbox::outbox(repo, &cli, quick).await);
    }
    Results {
        schema: SCHEMA,
        quick,
        machine: machine::machine(),
        client: machine::client_settings(),
        scenarios,
        merged: Vec::new(),
    }
}

/// The results file at `path` with `group`'s rows replaced by (or joined by) those of `fresh`,
/// and a line saying when they were measured again.
fn merged(path: &Path, group: &str, fresh: Results) -> Result<Results, String> {
    let mut results = Results::read(path)?;
    if results.quick != fresh.quick {
        return Err(format!("{} and this run differ in --quick: run both the same way", path.display()));
    }
    // The fresh rows replace every row of their scenarios, in place: a scenario with several
    // rows of one name (one per baseline, as the bindings' are) is never half replaced.
    let ids: Vec<String> = fresh.scenarios.iter().map(|s| s.id.clone()).collect();
    let at = results.scenarios.iter().position(|s| ids.contains(&s.id)).unwrap_or(results.scenarios.len());
    results.scenarios.retain(|s| !ids.contains(&s.id));
    let at = at.min(results.scenarios.len());
    results.scenarios.splice(at..at, fresh.scenarios);
    let day = postato::Timestamp::from_system_time(std::time::SystemTime::now()).to_rfc3339();
    let note = format!("the `{group}` rows on {}", &day[..10]);
    results.merged.retain(|m| !m.starts_with(&format!("the `{group}` rows")));
    results.merged.push(note);
    Ok(results)
}

/// Renders BENCHMARKS.md from the results file: the only way the report is written.
fn render(repo: &Path) -> Result<(), String> {
    let results = Results::read(&repo.join(RESULTS_FILE))?;
    let path = repo.join(REPORT_FILE);
    std::fs::write(&path, report::document(&results)).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    eprintln!("rendered {REPORT_FILE} from {RESULTS_FILE}");
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    // The Rust client in a process of its own (see `workload::client_process_rate`).
    let given: Vec<String> = std::env::args().skip(1).collect();
    if let [flag, base_url, api_key, n, prefix] = given.as_slice() {
        if flag == "--client-process" {
            let n = n.parse().expect("a post count");
            println!("{}", workload::client_rate_at(base_url, api_key, n, 64, prefix).await);
            return ExitCode::SUCCESS;
        }
    }
    let args = match parse_args() {
        Ok(args) => args,
        Err(why) => {
            eprintln!("{why}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository exists");
    if !args.render_only {
        let mut results = run(&args, &repo).await;
        println!("{}", report::table(&results));
        match (&args.only, args.merge) {
            (Some(_), false) => return ExitCode::SUCCESS,
            (Some(group), true) => match merged(&repo.join(RESULTS_FILE), group, results) {
                Ok(all) => results = all,
                Err(why) => {
                    eprintln!("{why}");
                    return ExitCode::FAILURE;
                }
            },
            (None, _) => {}
        }
        if let Err(why) = results.write(&repo.join(RESULTS_FILE)) {
            eprintln!("{why}");
            return ExitCode::FAILURE;
        }
        eprintln!("wrote {RESULTS_FILE}");
    }
    match render(&repo) {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("{why}");
            ExitCode::FAILURE
        }
    }
}
