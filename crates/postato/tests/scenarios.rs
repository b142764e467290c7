//! Every shared scenario file, through the real client against the simulator.
use postato::Event;
use postato_core::scenario::Scenario;
use postato_sim::ScriptAction;
use std::sync::{Arc, Mutex};

mod common;
use common::*;

#[tokio::test]
async fn every_scenario_passes_through_the_client() {
    let sim = sim().await;
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let scenario = Scenario::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let post = scenario.post(&key("run")).unwrap();
        sim.script_business_key(&post.business_key, ScriptAction::from_scenario(&scenario.steps));
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&events);
        let client = builder(&sim)
            .policy(scenario.policy())
            .on_event(move |_, event: &Event| sink.lock().unwrap().push(event.clone()))
            .build()
            .unwrap();
        let result = client.publish(&post).await;
        scenario.check_result(&result).unwrap();
        scenario.check_waits(&events.lock().unwrap()).unwrap();
        if let Some(expected) = scenario.expect.platform_publishes {
            assert_eq!(sim.platform_publishes_for(&post.business_key), expected, "scenario {}", scenario.name);
        }
        count += 1;
    }
    assert!(count >= 25);
    assert!(sim.stats().duplicate_keys.is_empty());
}
