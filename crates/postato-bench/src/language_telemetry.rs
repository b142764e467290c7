//! Scenario 9 in Python and Node, what their OpenTelemetry support costs: publishes/s of each
//! binding's client with the API installed and no SDK (what most applications have: "off"),
//! and with the SDK recording the metrics and exporting the spans ("on"), each beside the same
//! client with telemetry switched off (`OTEL_SDK_DISABLED=true`: nothing loaded), in the same
//! run, in rounds that rotate which mode goes first, best of `ROUNDS` each.

use postato_sim::SimulatorHandle;
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use crate::results::{Baseline, Bound, Figures, Metric, Overhead, OverheadParameters, Rate, Scenario, Target};

const ROUNDS: usize = 3;
const CONCURRENCY: usize = 64;
/// Off: no measurable cost; on: less than 5 %.
const MIN_RATIO: f64 = 0.95;

/// The modes of `bench_telemetry.{py,js}`, the baseline first.
const MODES: [&str; 3] = ["off", "api", "sdk"];

struct Script {
    language: &'static str,
    program: &'static str,
    file: &'static str,
    /// The lines it prints, each a way of publishing.
    styles: &'static [&'static str],
}

const SCRIPTS: [Script; 2] = [
    Script {
        language: "Python",
        program: "python/.venv/bin/python",
        file: "bench_telemetry.py",
        styles: &["threads", "asyncio"],
    },
    Script { language: "Node", program: "node", file: "bench_telemetry.js", styles: &["client"] },
];

/// One run of `script` in `mode`: publishes/s by style.
fn run(
    repo: &Path,
    script: &Script,
    sim: &SimulatorHandle,
    posts: usize,
    mode: &str,
) -> Result<HashMap<String, f64>, String> {
    let program = if script.program.contains('/') { repo.join(script.program) } else { script.program.into() };
    let mut command = Command::new(program);
    command
        .arg(repo.join("crates/postato-bench/scripts").join(script.file))
        .args([sim.base_url(), sim.api_key().to_owned(), posts.to_string(), mode.to_owned()])
        .env_remove("OTEL_SDK_DISABLED");
    if mode == "off" {
        command.env("OTEL_SDK_DISABLED", "true");
    }
    let output = command.output().map_err(|e| e.to_string())?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).lines().last().unwrap_or("").to_owned());
    }
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter_map(|r| Some((r["name"].as_str()?.to_owned(), r["perSecond"].as_f64()?)))
        .collect())
}

pub fn language_telemetry(repo: &Path, sim: &SimulatorHandle, posts: usize) -> Vec<Scenario> {
    let mut scenarios = Vec::new();
    for script in &SCRIPTS {
        // The best publishes/s of each (mode, style).
        let mut best: HashMap<(&str, &str), f64> = HashMap::new();
        for round in 0..ROUNDS {
            for k in 0..MODES.len() {
                let mode = MODES[(round + k) % MODES.len()];
                match run(repo, script, sim, posts, mode) {
                    Ok(rates) => {
                        for style in script.styles {
                            let rate = rates.get(*style).copied().unwrap_or(0.0);
                            let kept = best.entry((mode, style)).or_default();
                            *kept = kept.max(rate);
                        }
                    }
                    Err(why) => {
                        eprintln!("  9: {} telemetry, {mode}: the script failed: {why}", script.language);
                        return scenarios;
                    }
                }
            }
        }
        for style in script.styles {
            let off = best.get(&("off", *style)).copied().unwrap_or(0.0);
            for (mode, what) in [("api", "the OpenTelemetry API, no SDK"), ("sdk", "spans and metrics through the SDK")]
            {
                let figures = Figures::Overhead(Overhead {
                    parameters: OverheadParameters {
                        posts,
                        concurrency: CONCURRENCY,
                        rounds: ROUNDS,
                        content_bytes: None,
                        latency_ms: None,
                    },
                    ours: Rate { publishes_per_second: best.get(&(mode, *style)).copied().unwrap_or(0.0) },
                    baseline: Baseline {
                        description: "the same client with telemetry switched off (OTEL_SDK_DISABLED=true)".into(),
                        figures: Rate { publishes_per_second: off },
                    },
                });
                let target = vec![Target::new(Metric::Ratio, Bound::AtLeast(MIN_RATIO))];
                let name = format!("Observability: {} `{style}`, {what}", script.language);
                scenarios.push(Scenario::new("9", name, figures, target));
            }
        }
    }
    scenarios
}
