//! The description of the machine and of the client's settings, recorded with each run.

use std::process::Command;

use crate::results::{BudgetSettings, ClientSettings, Machine, PolicySettings};

pub fn machine() -> Machine {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| Some(c.lines().find(|l| l.starts_with("model name"))?.split_once(':')?.1.trim().to_owned()))
        .unwrap_or_default();
    // The first line of /proc/meminfo is MemTotal, in KiB.
    let memory_gib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| m.lines().next()?.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024 / 1024);
    let rustc = Command::new("rustc")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let os = match std::env::consts::OS {
        "linux" => "Linux".to_owned(),
        "macos" => "macOS".to_owned(),
        other => other.to_owned(),
    };
    Machine {
        cores: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        cpu,
        memory_gib,
        os,
        rustc,
        profile: if cfg!(debug_assertions) { "debug" } else { "release" }.into(),
    }
}

/// The settings the scenarios' clients run with: the builder's defaults.
pub fn client_settings() -> ClientSettings {
    let policy = postato::RetryPolicy::default();
    let budget = postato::RetryBudgetConfig::default();
    let ms = |d: std::time::Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    ClientSettings {
        retry_policy: PolicySettings {
            max_attempts: policy.max_attempts,
            backoff_base_ms: ms(policy.backoff_base),
            backoff_cap_ms: ms(policy.backoff_cap),
            jitter_max_ms: match policy.jitter {
                postato::Jitter::Additive { max } => Some(ms(max)),
                _ => None,
            },
        },
        retry_budget: BudgetSettings {
            capacity: budget.capacity,
            retry_cost: budget.retry_cost,
            success_deposit: budget.success_deposit,
            refill_per_second: budget.refill_per_second,
        },
    }
}
