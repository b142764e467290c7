//! Scenario 5, the language bindings: runs the Python and Node scripts in `scripts/` (each
//! prints JSON lines `{"name", "perSecond"}`) and pairs each binding's figure with its
//! reference loop's.

use postato_sim::SimulatorHandle;
use std::path::Path;
use std::process::Command;

use crate::results::{
    Baseline, Binding, BindingNotRun, BindingParameters, Bound, Figures, Metric, Rate, Scenario, Target,
};

/// The publishes the scripts run at once (`CONCURRENCY` in `bench_python.py`, the workers in
/// `bench_node.js`).
const SCRIPT_CONCURRENCY: usize = 64;

/// One measurement a script reports, beside its baseline's: another line of the script (a
/// peer library), or `RUST_CLIENT`, the Rust client measured by the harness in the same run.
struct Pair {
    ours: &'static str,
    baseline: &'static str,
    baseline_description: &'static str,
    /// How the script runs publishes at once.
    style: &'static str,
    /// The least ratio to the baseline the issue asks for, if any.
    target: Option<f64>,
}

/// The baseline name of the Rust client measured by the harness.
const RUST_CLIENT: &str = "rust-client";
const RUST_CLIENT_DESCRIPTION: &str = "the Rust Client in its own process, 64 tasks, best of a run before and after";

struct Script {
    language: &'static str,
    /// Relative to the repository, or a program on the PATH.
    program: &'static str,
    file: &'static str,
    pairs: &'static [Pair],
}

const SCRIPTS: [Script; 2] = [
    Script {
        language: "Python",
        program: "python/.venv/bin/python",
        file: "bench_python.py",
        pairs: &[
            Pair {
                ours: "threads",
                baseline: "urllib3-threads",
                baseline_description: "urllib3 PoolManager with Retry, the cookbook's loop, 64 threads",
                style: "threads",
                target: None,
            },
            Pair {
                ours: "threads",
                baseline: "httpx-threads",
                baseline_description: "httpx Client, the cookbook's loop, 64 threads",
                style: "threads",
                target: None,
            },
            Pair {
                ours: "threads",
                baseline: RUST_CLIENT,
                baseline_description: RUST_CLIENT_DESCRIPTION,
                style: "threads",
                target: Some(0.6),
            },
            Pair {
                ours: "asyncio",
                baseline: "aiohttp",
                baseline_description: "aiohttp ClientSession (TCPConnector limit 64), the cookbook's loop",
                style: "asyncio",
                target: Some(2.0),
            },
            Pair {
                ours: "asyncio",
                baseline: "httpx-asyncio",
                baseline_description: "httpx AsyncClient, the cookbook's loop",
                style: "asyncio",
                target: None,
            },
            Pair {
                ours: "publish_many",
                baseline: RUST_CLIENT,
                baseline_description: RUST_CLIENT_DESCRIPTION,
                style: "one call, concurrency 64",
                target: Some(0.8),
            },
            Pair {
                ours: "publish_many-asyncio",
                baseline: RUST_CLIENT,
                baseline_description: RUST_CLIENT_DESCRIPTION,
                style: "one awaitable, concurrency 64",
                target: Some(0.8),
            },
        ],
    },
    Script {
        language: "Node",
        program: "node",
        file: "bench_node.js",
        pairs: &[
            Pair {
                ours: "client",
                baseline: "fetch",
                baseline_description: "fetch, the cookbook's loop",
                style: "Promise.all",
                target: None,
            },
            Pair {
                ours: "publishMany",
                baseline: RUST_CLIENT,
                baseline_description: RUST_CLIENT_DESCRIPTION,
                style: "one call, concurrency 64",
                target: Some(0.8),
            },
        ],
    },
];

/// Installs the scripts' peers, pinned, into the test venv when missing.
pub fn prepare(repo: &Path) {
    let _ = Command::new(repo.join("python/.venv/bin/python"))
        .args(["-m", "pip", "install", "-q", "httpx==0.28.1", "aiohttp==3.14.5", "urllib3==2.8.0"])
        .status();
}

/// Runs a script; its stdout, or why it failed.
fn execute(repo: &Path, script: &Script, sim: &SimulatorHandle, n: usize) -> Result<String, String> {
    let program = if script.program.contains('/') { repo.join(script.program) } else { script.program.into() };
    let output = Command::new(program)
        .arg(repo.join("crates/postato-bench/scripts").join(script.file))
        .args([sim.base_url(), sim.api_key().to_owned(), n.to_string()])
        .output()
        .map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("").to_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Sets the Rust client's figure in the rows whose baseline it is, and judges them again.
pub fn set_rust_client(scenarios: &mut [Scenario], per_second: f64) {
    for scenario in scenarios.iter_mut() {
        if let Figures::Binding(b) = &mut scenario.figures {
            if b.baseline.description == RUST_CLIENT_DESCRIPTION {
                b.baseline.figures.publishes_per_second = per_second;
                *scenario = Scenario::new(
                    &scenario.id,
                    scenario.name.clone(),
                    scenario.figures.clone(),
                    scenario.targets.clone(),
                );
            }
        }
    }
}

pub fn bindings(repo: &Path, sim: &SimulatorHandle, n: usize, rust_client: f64) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    for script in &SCRIPTS {
        let stdout = match execute(repo, script, sim, n) {
            Ok(stdout) => stdout,
            Err(reason) => {
                let reason = format!("the script failed: {reason}");
                let figures = Figures::BindingNotRun(BindingNotRun { language: script.language.into(), reason });
                scenarios.push(Scenario::new("5", format!("{} binding", script.language), figures, vec![]));
                continue;
            }
        };
        let lines: Vec<serde_json::Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
        let per_second = |name: &str| match name {
            RUST_CLIENT => Some(rust_client),
            _ => lines.iter().find(|r| r["name"] == name).and_then(|r| r["perSecond"].as_f64()),
        };
        for pair in script.pairs {
            let Some(ours) = per_second(pair.ours) else { continue };
            let figures = Figures::Binding(Binding {
                parameters: BindingParameters {
                    language: script.language.into(),
                    api: pair.ours.into(),
                    style: pair.style.into(),
                    posts: n,
                    concurrency: SCRIPT_CONCURRENCY,
                },
                ours: Rate { publishes_per_second: ours },
                baseline: Baseline {
                    description: pair.baseline_description.into(),
                    figures: Rate { publishes_per_second: per_second(pair.baseline).unwrap_or(0.0) },
                },
            });
            let targets = pair.target.map(|t| Target::new(Metric::Ratio, Bound::AtLeast(t))).into_iter().collect();
            scenarios.push(Scenario::new("5", format!("{} `{}`", script.language, pair.ours), figures, targets));
        }
    }
    scenarios
}
