//! Transport safety: URL rules, the body cap, refused connections, timeouts, deadlines,
//! cancellation, and the API key's absence from Debug output, errors and logs.
use postato::*;
use postato_sim::ScriptAction;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::*;

const SECRET: &str = "sk_live_very_secret_value";

#[test]
fn plain_http_is_refused_for_non_loopback_hosts_unless_allowed() {
    let base = |url: &str| Client::builder().api_key("k").workspace_id("w").base_url(url);
    for url in ["http://example.com", "http://10.0.0.1:8080", "http://[2001:db8::1]"] {
        let error = base(url).build().unwrap_err();
        assert_eq!(error.field(), Some("baseUrl"), "{url}");
        assert!(error.to_string().contains("loopback"));
        assert!(base(url).allow_insecure_http(true).build().is_ok());
    }
    for url in [
        "http://127.0.0.1:9",
        "http://localhost:9",
        "http://[::1]:9",
        "https://api.postato.com.br",
        "https://proxy.internal/postato/",
    ] {
        assert!(base(url).build().is_ok(), "{url}");
    }
    for url in ["ftp://x", "not a url", "https://user:pw@host", "https://host/?q=1"] {
        assert_eq!(base(url).build().unwrap_err().field(), Some("baseUrl"), "{url}");
    }
}

#[test]
fn missing_or_unworkable_settings_name_the_setting() {
    let cases = [
        (Client::builder().workspace_id("w"), "apiKey"),
        (Client::builder().api_key(" ").workspace_id("w"), "apiKey"),
        (Client::builder().api_key("k"), "workspaceId"),
        (Client::builder().api_key("k").workspace_id("w").max_attempts(0), "maxAttempts"),
        (Client::builder().api_key("k").workspace_id("w").timeout(Duration::ZERO), "timeout"),
    ];
    for (builder, field) in cases {
        let error = builder.build().unwrap_err();
        assert_eq!((error.kind(), error.field()), (ErrorKind::InvalidInput, Some(field)));
    }
}

#[tokio::test]
async fn an_invalid_post_makes_no_request() {
    let sim = sim().await;
    let mut bad = post("k");
    bad.account_id.clear();
    let error = client(&sim).publish(&bad).await.unwrap_err();
    assert_eq!((error.kind(), error.field(), error.attempts()), (ErrorKind::InvalidInput, Some("accountId"), 0));
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test]
async fn a_key_no_request_could_carry_fails_each_publish_after_the_posts_own_checks() {
    let sim = sim().await;
    let client = Client::builder().api_key("sk x").workspace_id("ws_1").base_url(sim.base_url()).build().unwrap();
    let mut bad = post("k");
    bad.account_id.clear();
    let error = client.publish(&bad).await.unwrap_err();
    assert_eq!((error.kind(), error.field()), (ErrorKind::InvalidInput, Some("accountId")));
    for _ in 0..2 {
        let error = client.publish(&post("k")).await.unwrap_err();
        assert_eq!((error.kind(), error.field(), error.attempts()), (ErrorKind::InvalidInput, Some("apiKey"), 0));
        assert!(!format!("{error} {error:?}").contains("sk x"), "{error:?}");
    }
    assert_eq!(sim.stats().requests, 0);
}

#[tokio::test]
async fn bodies_over_the_cap_are_cut_and_a_2xx_becomes_invalid_response() {
    let sim = sim().await;
    let k = key("huge");
    let huge = "x".repeat(3 * 1024 * 1024);
    sim.script_business_key(
        &k,
        vec![ScriptAction::Respond { status: 202, headers: Default::default(), body: None, body_text: Some(huge) }],
    );
    let error = client(&sim).publish(&post(&k)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::InvalidResponse);
    assert!(error.to_string().contains("size limit"), "{error}");
    assert!(error.to_string().len() < 20_000, "the message stays small");
}

#[tokio::test]
async fn refused_connections_are_retried_then_transient() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let client = Client::builder()
        .api_key(SECRET)
        .workspace_id("w")
        .base_url(format!("http://127.0.0.1:{port}"))
        .fast_forward_waits(true)
        .build()
        .unwrap();
    let error = client.publish(&post("k")).await.unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::Transient, 5));
    assert!(
        matches!(&error, PublishError::Transient { last: Failure::Transport(t), .. } if t.kind == postato_core::TransportFailureKind::Connect)
    );
    assert!(!error.to_string().contains(SECRET));
}

#[tokio::test]
async fn a_hung_server_cannot_hang_a_publish_past_its_deadline() {
    let sim = sim().await;
    let k = key("hang");
    sim.script_business_key(&k, (0..5).map(|_| ScriptAction::Hang { ms: 5_000 }).collect());
    let client = builder(&sim).fast_forward_waits(false).deadline(Some(Duration::from_millis(400))).build().unwrap();
    let started = Instant::now();
    let error = client.publish(&post(&k)).await.unwrap_err();
    assert_eq!(error.kind(), ErrorKind::Deadline);
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
    assert!(error.to_string().contains("may or may not exist"));
}

/// Waits until the simulator has seen `requests` requests (at most 5 s).
async fn until_requests(sim: &postato_sim::SimulatorHandle, requests: u64) {
    for _ in 0..500 {
        if sim.stats().requests >= requests {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the simulator never saw {requests} request(s)");
}

#[tokio::test]
async fn cancelling_ends_the_publish_and_nothing_is_retried_after() {
    // The first attempt hangs 1 s, then the connection closes: a publish that survived its
    // cancellation would retry after its backoff (at most 50 ms here), well before the check
    // 2.5 s after the cancel.
    let sim = sim().await;
    let client = builder(&sim)
        .fast_forward_waits(false)
        .backoff(Duration::from_millis(20), Duration::from_millis(50))
        .build()
        .unwrap();
    let k = key("cancel");
    sim.script_business_key(&k, vec![ScriptAction::Hang { ms: 1_000 }, ScriptAction::Ok]);
    let token = CancellationToken::new();
    let cancel = token.clone();
    let publish = {
        let (client, post) = (client.clone(), post(&k));
        tokio::spawn(async move { client.publish_with(&post).cancel_on(&token).await })
    };
    until_requests(&sim, 1).await;
    cancel.cancel();
    let error = publish.await.unwrap().unwrap_err();
    assert_eq!((error.kind(), error.attempts()), (ErrorKind::Cancelled, 1));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(sim.stats().requests, 1, "a retry went out after the cancel");
    assert_eq!(sim.platform_publishes_for(&k), 0);

    // Dropping the future cancels too.
    let k2 = key("drop");
    sim.script_business_key(&k2, vec![ScriptAction::Hang { ms: 1_000 }, ScriptAction::Ok]);
    let publish = {
        let (client, post) = (client.clone(), post(&k2));
        tokio::spawn(async move { client.publish(&post).await })
    };
    until_requests(&sim, 2).await;
    publish.abort();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    assert_eq!(sim.stats().requests, 2, "a retry went out after the drop");
    assert_eq!(sim.platform_publishes_for(&k2), 0);
}

#[tokio::test]
async fn retry_hooks_see_each_retry() {
    let sim = sim().await;
    let k = key("hook");
    sim.script_business_key(&k, vec![respond(503), ScriptAction::Reset, ScriptAction::Ok]);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let client = builder(&sim)
        .on_retry(move |info| sink.lock().unwrap().push((info.next_attempt, info.reason)))
        .build()
        .unwrap();
    client.publish(&post(&k)).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0], (2, WaitReason::RetryableStatus(503)));
    assert_eq!(seen[1].0, 3);
}

#[tokio::test]
async fn notices_tell_each_retry_as_the_retry_hook_does_and_each_failure_once() {
    let sim = sim().await;
    let (retried, failed) = (key("notice-retried"), key("notice-failed"));
    sim.script_business_key(&retried, vec![respond(503), ScriptAction::Ok]);
    sim.script_business_key(&failed, vec![respond(400)]);
    let notices = Arc::new(Mutex::new(Vec::new()));
    let retries = Arc::new(Mutex::new(Vec::new()));
    let (notice_sink, retry_sink) = (Arc::clone(&notices), Arc::clone(&retries));
    let client = builder(&sim)
        .on_notice(move |notice| notice_sink.lock().unwrap().push(notice.clone()))
        .on_retry(move |info| retry_sink.lock().unwrap().push(info.clone()))
        .build()
        .unwrap();
    client.publish(&post(&retried)).await.unwrap();
    client.publish(&post(&failed)).await.unwrap_err();
    let notices = notices.lock().unwrap();
    let retries = retries.lock().unwrap();
    assert_eq!(retries.len(), 1);
    assert_eq!(notices[0], Notice::Retry(retries[0].clone()));
    assert!(
        matches!(&notices[1], Notice::Failed { business_key, attempts: 1, kind: ErrorKind::Permanent } if *business_key == failed),
        "{notices:?}"
    );
    assert_eq!(notices.len(), 2, "a publish that succeeds after a retry is no failure: {notices:?}");
}

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_api_key_appears_in_no_debug_output_error_or_log_line() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let sim =
        postato_sim::Simulator::start(postato_sim::SimConfig { api_keys: vec![SECRET.into()], ..Default::default() })
            .await
            .unwrap();
    let builder = builder(&sim).api_key(SECRET);
    let client = builder.clone().build().unwrap();
    let mut texts = vec![format!("{builder:?}"), format!("{client:?}")];
    let k = key("secret");
    sim.script_business_key(&k, vec![respond(500), ScriptAction::Reset, respond(401)]);
    let error = client.publish(&post(&k)).await.unwrap_err();
    texts.push(format!("{error} {error:?}"));
    let wrong = builder.clone().api_key(format!("{SECRET}_wrong")).build().unwrap();
    let error = wrong.publish(&post(&key("wrong"))).await.unwrap_err();
    assert_eq!(error.status(), Some(401));
    texts.push(format!("{error} {error:?}"));
    let publisher = Publisher::new(client.clone(), MemoryStore::new());
    texts.push(format!("{publisher:?}"));
    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("postato"), "logging is on");
    texts.push(logs);
    for text in texts {
        assert!(!text.contains(SECRET), "the key leaked into: {text}");
    }
}
