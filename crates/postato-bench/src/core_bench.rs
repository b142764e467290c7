//! Scenario 6, the core: runs postato-core's criterion benchmark and reads criterion's machine
//! output (`<criterion home>/<benchmark>/new/{benchmark,estimates}.json`), not its console text.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use crate::results::{Core, CoreEstimate, CoreParameters, Figures, Scenario};

const WARM_UP_SECONDS: u32 = 1;
const MEASUREMENT_SECONDS: u32 = 3;
/// The benchmark in `crates/postato-core/benches/core.rs` that takes a whole publish through
/// the machine (the report compares it with the overhead row).
pub const WHOLE_PUBLISH: &str = "machine: poll, send, 202, done";

/// Where criterion writes: `$CRITERION_HOME`, else `<target dir>/criterion` (its own default).
fn criterion_home(target_dir: &Path) -> PathBuf {
    std::env::var_os("CRITERION_HOME").map(PathBuf::from).unwrap_or_else(|| target_dir.join("criterion"))
}

/// Runs the benchmark and returns one scenario per benchmark it measured.
pub fn core(repo: &Path, target_dir: &Path) -> Vec<Scenario> {
    let home = criterion_home(target_dir);
    let started = SystemTime::now();
    let (warm_up, measurement) = (WARM_UP_SECONDS.to_string(), MEASUREMENT_SECONDS.to_string());
    let status = Command::new("cargo")
        .current_dir(repo)
        .env("CRITERION_HOME", &home)
        .args(["bench", "-q", "-p", "postato-core", "--bench", "core", "--"])
        .args(["--warm-up-time", &warm_up, "--measurement-time", &measurement])
        .stdout(std::process::Stdio::null())
        .status();
    if !status.as_ref().is_ok_and(|s| s.success()) {
        eprintln!("the core benchmark did not run: {status:?}");
        return Vec::new();
    }
    let parameters =
        CoreParameters { warm_up_seconds: WARM_UP_SECONDS.into(), measurement_seconds: MEASUREMENT_SECONDS.into() };
    read_estimates(&home, started)
        .into_iter()
        .map(|(title, ours)| {
            Scenario::new("6", title, Figures::Core(Core { parameters: parameters.clone(), ours }), vec![])
        })
        .collect()
}

/// Every benchmark under `home` whose `new/estimates.json` was written since `since`, in the
/// order they were written, with criterion's headline estimate (the slope when there is one,
/// as criterion prints, else the mean).
pub fn read_estimates(home: &Path, since: SystemTime) -> Vec<(String, CoreEstimate)> {
    let mut found = Vec::new();
    let mut pending = vec![home.to_path_buf()];
    while let Some(dir) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            if !path.is_dir() {
                continue;
            }
            if path.file_name().is_some_and(|n| n == "new") {
                let written = std::fs::metadata(path.join("estimates.json")).and_then(|m| m.modified());
                if let (Ok(written), Some(read)) = (written, read_one(&path)) {
                    if written >= since {
                        found.push((written, read));
                    }
                }
            } else {
                pending.push(path);
            }
        }
    }
    found.sort_by_key(|(written, _)| *written);
    found.into_iter().map(|(_, read)| read).collect()
}

/// One benchmark's title and estimate, from its `new` directory.
fn read_one(new: &Path) -> Option<(String, CoreEstimate)> {
    let read = |file: &str| -> Option<serde_json::Value> {
        serde_json::from_str(&std::fs::read_to_string(new.join(file)).ok()?).ok()
    };
    let (benchmark, estimates) = (read("benchmark.json")?, read("estimates.json")?);
    let title = benchmark["title"].as_str().or_else(|| benchmark["full_id"].as_str())?.to_owned();
    let (statistic, estimate) =
        ["slope", "mean"].into_iter().find_map(|s| Some((s, estimates.get(s)?.as_object()?)))?;
    let nanoseconds = estimate.get("point_estimate")?.as_f64()?;
    Some((title, CoreEstimate { statistic: statistic.into(), nanoseconds }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn estimates_are_read_from_criterion_files_with_the_slope_first() {
        let home = std::env::temp_dir().join(format!("postato-bench-criterion-{}", std::process::id()));
        let since = SystemTime::now() - std::time::Duration::from_secs(1);
        for (dir, title, estimates) in [
            ("a_b/new", "a: b", r#"{"mean":{"point_estimate":2.0},"slope":{"point_estimate":1.5}}"#),
            ("g/f/new", "g/f", r#"{"mean":{"point_estimate":7.0},"slope":null}"#),
        ] {
            let dir = home.join(dir);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join("benchmark.json"), format!(r#"{{"title":"{title}","full_id":"x"}}"#)).unwrap();
            std::fs::write(dir.join("estimates.json"), estimates).unwrap();
        }
        let mut read = read_estimates(&home, since);
        std::fs::remove_dir_all(&home).unwrap();
        read.sort_by(|a, b| a.0.cmp(&b.0));
        let read: Vec<_> = read.iter().map(|(t, e)| (t.as_str(), e.statistic.as_str(), e.nanoseconds)).collect();
        assert_eq!(read, [("a: b", "slope", 1.5), ("g/f", "mean", 7.0)]);
    }
}
