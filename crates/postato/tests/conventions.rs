//! The conventions users know from other SDKs: error metadata (headers, request id) and
//! per-call options (deadline, attempts, attempt timeout, cancellation) checked by the
//! client's own rules.

mod common;
use common::*;
use postato::postato_core::{Failure, TransportFailureKind};
use postato::{CancellationToken, ErrorKind, PublishError};
use postato_sim::ScriptAction;
use std::collections::BTreeMap;
use std::time::Duration;

fn respond_with(status: u16, headers: &[(&str, &str)]) -> ScriptAction {
    let headers: BTreeMap<String, String> = headers.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
    ScriptAction::Respond { status, headers, body: None, body_text: None }
}

#[tokio::test]
async fn a_published_post_carries_its_request_id_and_one_from_the_store_none() {
    let sim = sim().await;
    let key = key("meta-published");
    let publisher = postato::Publisher::new(client(&sim), postato::MemoryStore::new());
    let published = publisher.publish(&post(&key)).await.unwrap().published;
    let id = published.request_id.expect("the simulator names every answer");
    assert!(id.starts_with("req_"), "{id}");
    let replayed = client(&sim).publish(&post(&key)).await.unwrap();
    assert!(replayed.replayed && replayed.request_id.as_ref().is_some_and(|r| *r != id), "{replayed:?}");
    let from_store = publisher.publish(&post(&key)).await.unwrap();
    assert!(from_store.from_store);
    assert_eq!(from_store.published.request_id, None, "no request was made");
}

#[tokio::test]
async fn a_final_answer_s_headers_and_request_id_are_on_the_error() {
    let sim = sim().await;
    let key = key("meta-permanent");
    sim.script_business_key(&key, vec![respond_with(400, &[("X-Trace", "t-1")])]);
    let error = client(&sim).publish(&post(&key)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Permanent);
    let headers = error.headers().expect("a permanent failure is about an answer");
    assert_eq!(headers.get("x-trace"), Some("t-1"), "{headers:?}");
    let id = error.request_id().expect("the simulator names every answer");
    assert!(id.starts_with("req_"), "{id}");
}

#[tokio::test]
async fn a_transient_failure_carries_the_last_answer_s_request_id_and_a_rate_limit_its_429_s() {
    let sim = sim().await;
    let transient = key("meta-transient");
    sim.script_business_key(&transient, vec![respond(503), respond(503)]);
    let client = builder(&sim).max_attempts(2).build().unwrap();
    let error = client.publish(&post(&transient)).await.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::Transient, 2));
    let ids = [error.request_id().unwrap().to_owned()];
    assert!(ids[0].starts_with("req_"));

    let limited = key("meta-429");
    sim.script_business_key(&limited, vec![respond_with(429, &[("Retry-After", "7200")])]);
    let error = client.publish(&post(&limited)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.headers().unwrap().get("retry-after"), Some("7200"));
    assert!(error.request_id().is_some_and(|id| id != ids[0]), "each answer has its own id");
}

#[tokio::test]
async fn an_error_with_no_answer_behind_it_has_no_metadata() {
    let sim = sim().await;
    let mut bad = post(&key("meta-invalid"));
    bad.platform.clear();
    let error = client(&sim).publish(&bad).await.unwrap_err();
    assert_eq!((error.headers(), error.request_id()), (None, None));
}

#[tokio::test]
async fn per_call_attempts_and_deadline_change_one_publish_only() {
    let sim = sim().await;
    let client =
        builder(&sim).max_attempts(5).backoff(Duration::from_millis(100), Duration::from_secs(1)).build().unwrap();
    let failing = |sim: &postato_sim::SimulatorHandle, key: &str| sim.script_business_key(key, vec![respond(503); 5]);

    let fewer = key("call-attempts");
    failing(&sim, &fewer);
    let error = client.publish_with(&post(&fewer)).max_attempts(2).await.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::Transient, 2));

    let usual = key("call-usual");
    failing(&sim, &usual);
    let error = client.publish(&post(&usual)).await.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::Transient, 5), "the client's setting is unchanged");

    let urgent = key("call-deadline");
    failing(&sim, &urgent);
    let error = client.publish_with(&post(&urgent)).deadline(Duration::from_millis(50)).send().await.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::Deadline, 1), "the first backoff ends past 50 ms");
}

#[tokio::test]
async fn a_per_call_timeout_ends_each_attempt_of_that_publish_as_a_timeout() {
    let sim = sim().await;
    let client = builder(&sim).max_attempts(1).timeout(Duration::from_secs(120)).build().unwrap();
    let hanging = key("call-timeout");
    // The attempt hangs for 60 s and then loses its connection: only the per-call timeout ends
    // it as a timeout (an ignored one would end it as a lost connection, a minute later).
    sim.script_business_key(&hanging, vec![ScriptAction::Hang { ms: 60_000 }]);
    let error = client.publish_with(&post(&hanging)).timeout(Duration::from_secs(1)).await.unwrap_err();
    let PublishError::Transient { last: Failure::Transport(failure), attempts: 1 } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(failure.kind, TransportFailureKind::Timeout, "{error}");
}

#[tokio::test]
async fn per_call_options_outside_their_bounds_are_refused_before_anything_is_sent() {
    let sim = sim().await;
    let client = client(&sim);
    let post = post(&key("call-invalid"));
    for (error, setting) in [
        (client.publish_with(&post).max_attempts(0).await.unwrap_err(), "maxAttempts"),
        (client.publish_with(&post).max_attempts(101).await.unwrap_err(), "maxAttempts"),
        (client.publish_with(&post).deadline(Duration::ZERO).await.unwrap_err(), "deadline"),
        (client.publish_with(&post).deadline(Duration::from_secs(2 * 24 * 3600)).await.unwrap_err(), "deadline"),
        (client.publish_with(&post).timeout(Duration::ZERO).await.unwrap_err(), "timeout"),
        (client.publish_with(&post).timeout(Duration::from_secs(3600)).await.unwrap_err(), "timeout"),
    ] {
        assert!(matches!(&error, PublishError::InvalidInput(e) if e.field == setting), "{error}");
    }
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test]
async fn a_per_call_cancellation_token_ends_the_publish() {
    let sim = sim().await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let error = client(&sim).publish_with(&post(&key("call-cancel"))).cancel_on(&cancel).await.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::Cancelled, 0));
}
