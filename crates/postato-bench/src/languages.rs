//! Scenario 5, the language bindings: runs the Python and Node scripts in `scripts/` (each
//! prints JSON lines `{"name", "perSecond"}`) and pairs each binding's figure with its
//! reference loop's.

use postato_sim::SimulatorHandle;
use std::path::Path;
use std::process::Command;

use crate::results::{Baseline, Binding, BindingNotRun, BindingParameters, Figures, Rate, Scenario};

/// The publishes the scripts run at once (`CONCURRENCY` in `bench_python.py`, the workers in
/// `bench_node.js`).
const SCRIPT_CONCURRENCY: usize = 64;

/// One measurement a script reports, beside its baseline's.
struct Pair {
    ours: &'static str,
    baseline: &'static str,
    /// How the script runs publishes at once.
    style: &'static str,
}

struct Script {
    language: &'static str,
    /// Relative to the repository, or a program on the PATH.
    program: &'static str,
    file: &'static str,
    baseline: &'static str,
    pairs: &'static [Pair],
}

const SCRIPTS: [Script; 2] = [
    Script {
        language: "Python",
        program: "python/.venv/bin/python",
        file: "bench_python.py",
        baseline: "httpx, the reference's loop",
        pairs: &[
            Pair { ours: "threads", baseline: "reference-threads", style: "threads" },
            Pair { ours: "asyncio", baseline: "reference-asyncio", style: "asyncio" },
        ],
    },
    Script {
        language: "Node",
        program: "node",
        file: "bench_node.js",
        baseline: "fetch, the reference's loop",
        pairs: &[Pair { ours: "client", baseline: "reference-fetch", style: "Promise.all" }],
    },
];

/// Installs what the scripts' baselines need: httpx, into the test venv, if it is missing.
pub fn prepare(repo: &Path) {
    let _ = Command::new(repo.join("python/.venv/bin/python"))
        .args(["-m", "pip", "install", "-q", "httpx==0.28.1"])
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

pub fn bindings(repo: &Path, sim: &SimulatorHandle, n: usize) -> Vec<Scenario> {
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
        let per_second = |name: &str| lines.iter().find(|r| r["name"] == name).and_then(|r| r["perSecond"].as_f64());
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
                    description: script.baseline.into(),
                    figures: Rate { publishes_per_second: per_second(pair.baseline).unwrap_or(0.0) },
                },
            });
            scenarios.push(Scenario::new("5", format!("{} `{}`", script.language, pair.ours), figures, vec![]));
        }
    }
    scenarios
}
