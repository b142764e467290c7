//! Every shared scenario passes through the machine on a virtual clock, for many jitter seeds.
use postato_core::scenario::{run_on_virtual_clock, Scenario};

mod common;

fn load_all() -> Vec<Scenario> {
    let dir = common::repo_tests_dir().join("scenarios");
    let mut scenarios: Vec<Scenario> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let scenario =
                Scenario::from_json(&std::fs::read_to_string(&p).unwrap()).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            assert_eq!(
                p.file_stem().unwrap().to_str(),
                Some(scenario.name.as_str()),
                "file name matches scenario name"
            );
            scenario
        })
        .collect();
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    scenarios
}

#[test]
fn there_are_at_least_25_scenarios_covering_every_error_kind() {
    let scenarios = load_all();
    assert!(scenarios.len() >= 25, "{}", scenarios.len());
    for kind in [
        "published",
        "permanent",
        "idempotency_conflict",
        "rate_limited",
        "transient",
        "deadline",
        "invalid_response",
        "invalid_input",
    ] {
        assert!(scenarios.iter().any(|s| s.expect.result == kind), "no scenario ends in {kind}");
    }
}

#[test]
fn every_scenario_passes_on_a_virtual_clock() {
    for scenario in load_all() {
        for seed in 0..20 {
            let (result, events) = run_on_virtual_clock(&scenario, seed);
            scenario.check_result(&result).unwrap();
            scenario.check_waits(&events).unwrap();
        }
    }
}
