//! A span per attempt: a faulty publish's `tracing` spans, exported through
//! `tracing-opentelemetry` to the OpenTelemetry SDK's in-memory exporter, show each request
//! with its status and each wait as its own time, under the publish's span.

mod common;
use common::*;
use opentelemetry::trace::{Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use postato_sim::ScriptAction;
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;

/// A subscriber exporting to a fresh in-memory exporter, for the current thread while the
/// guard lives.
fn exporting() -> (InMemorySpanExporter, SdkTracerProvider, tracing::subscriber::DefaultGuard) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder().with_simple_exporter(exporter.clone()).build();
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
    // The tests run on one thread (a current-thread runtime): the subscriber sees the whole publish.
    let guard = tracing::subscriber::set_default(subscriber);
    (exporter, provider, guard)
}

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes.iter().find(|kv| kv.key.as_str() == key).map(|kv| kv.value.as_str().into_owned())
}

/// The spans named `name` under `parent`, in the order they started.
fn children<'a>(spans: &'a [SpanData], parent: &SpanData, name: &str) -> Vec<&'a SpanData> {
    let mut found: Vec<&SpanData> =
        spans.iter().filter(|s| s.name == name && s.parent_span_id == parent.span_context.span_id()).collect();
    found.sort_by_key(|s| s.start_time);
    found
}

#[tokio::test]
async fn a_faulty_publish_has_a_span_per_attempt_and_its_waits_as_their_own_time() {
    let (exporter, provider, _guard) = exporting();

    let sim = sim().await;
    let client = builder(&sim)
        .fast_forward_waits(false)
        .backoff(Duration::from_millis(20), Duration::from_millis(50))
        .build()
        .unwrap();
    let business_key = key("spans");
    let limited = ScriptAction::Respond {
        status: 429,
        headers: [("Retry-After".to_owned(), "1".to_owned())].into_iter().collect(),
        body: None,
        body_text: None,
    };
    sim.script_business_key(&business_key, vec![respond(503), ScriptAction::Reset, limited, ScriptAction::Ok]);
    let published = client.publish(&post(&business_key)).await.unwrap();
    assert_eq!(published.attempts, 4);
    let replayed = client.publish(&post(&business_key)).await.unwrap();
    assert!(replayed.replayed);
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();

    let publishes: Vec<&SpanData> = spans.iter().filter(|s| s.name == "postato.publish").collect();
    assert_eq!(publishes.len(), 2, "{spans:#?}");
    let (faulty, again) = match publishes[0].start_time < publishes[1].start_time {
        true => (publishes[0], publishes[1]),
        false => (publishes[1], publishes[0]),
    };
    assert_eq!(attribute(faulty, "postato.business_key").as_deref(), Some(business_key.as_str()));
    assert_eq!(attribute(faulty, "postato.attempts").as_deref(), Some("4"));
    assert_eq!(attribute(faulty, "postato.outcome").as_deref(), Some("published"));

    // One span per request, each with its status (or the transport failure) and resend count.
    let attempts = children(&spans, faulty, "postato.attempt");
    let seen: Vec<_> = attempts
        .iter()
        .map(|a| {
            (
                attribute(a, "http.response.status_code"),
                attribute(a, "http.request.resend_count"),
                attribute(a, "postato.outcome"),
            )
        })
        .collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        seen,
        vec![
            (some("503"), None, some("retry")),
            (None, some("1"), some("transport_failure")),
            (some("429"), some("2"), some("retry")),
            (some("202"), some("3"), some("published")),
        ]
    );
    // The error's type: the status as the HTTP conventions have it, or the failure's kind.
    let errors: Vec<_> = attempts.iter().map(|a| attribute(a, "error.type")).collect();
    assert_eq!(errors, vec![some("503"), some("io"), some("429"), None]);
    assert!(matches!(attempts[0].status, Status::Error { .. }) && !matches!(attempts[3].status, Status::Error { .. }));
    // Where each request went, as the HTTP conventions name it.
    let url = format!("{}/v1/workspaces/ws_1/posts", sim.base_url());
    let port = url::Url::parse(&sim.base_url()).unwrap().port().unwrap().to_string();
    for attempt in &attempts {
        assert_eq!(attribute(attempt, "url.full"), Some(url.clone()));
        assert_eq!(attribute(attempt, "server.address").as_deref(), Some("127.0.0.1"));
        assert_eq!(attribute(attempt, "server.port"), Some(port.clone()));
    }

    // Each wait is its own span, between the attempt before it and the one after.
    let waits = children(&spans, faulty, "postato.wait");
    let reasons: Vec<_> = waits.iter().map(|w| attribute(w, "postato.wait.reason")).collect();
    assert_eq!(reasons, vec![some("retryable_status"), some("transport_failure"), some("rate_limited")]);
    for (i, wait) in waits.iter().enumerate() {
        assert!(attempts[i].end_time <= wait.start_time, "wait {i} starts after attempt {}", i + 1);
        assert!(wait.end_time <= attempts[i + 1].start_time, "wait {i} ends before attempt {}", i + 2);
    }
    let held = waits[2].end_time.duration_since(waits[2].start_time).unwrap();
    assert!(held >= Duration::from_millis(900), "the Retry-After wait lasted {held:?}");

    // The log events of the publish (its retries) are events of its span.
    let events: Vec<&str> = faulty.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events.iter().filter(|e| e.contains("waiting before the next attempt")).count(), 3, "{events:?}");

    // The second publish is the server's replay, said on its one attempt.
    let replay = children(&spans, again, "postato.attempt");
    assert_eq!(replay.len(), 1);
    assert_eq!(attribute(replay[0], "http.response.header.idempotent-replayed").as_deref(), Some("true"));

    // The API key and the post never appear in a span.
    for span in &spans {
        for kv in &span.attributes {
            let value = kv.value.as_str();
            assert!(!value.contains(sim.api_key()) && !value.contains("hello from"), "{}: {value}", kv.key);
        }
    }
}

#[tokio::test]
async fn a_cancelled_or_dropped_publish_ends_its_spans_as_cancelled() {
    let (exporter, provider, _guard) = exporting();
    let sim = sim().await;
    let client = builder(&sim).fast_forward_waits(false).build().unwrap();
    let hang = || vec![ScriptAction::Hang { ms: 3_000 }, ScriptAction::Ok];

    // Cancelled by its token while its request hangs.
    let cancelled = key("spans-cancelled");
    sim.script_business_key(&cancelled, hang());
    let token = postato::CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        cancel.cancel();
    });
    let error = client.publish_with(&post(&cancelled)).cancel_on(&token).await.unwrap_err();
    assert_eq!(error.kind(), postato::ErrorKind::Cancelled);

    // Dropped by a timeout around it.
    let dropped = key("spans-dropped");
    sim.script_business_key(&dropped, hang());
    assert!(tokio::time::timeout(Duration::from_millis(200), client.publish(&post(&dropped))).await.is_err());

    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    for business_key in [&cancelled, &dropped] {
        let publish = spans
            .iter()
            .find(|s| {
                s.name == "postato.publish" && attribute(s, "postato.business_key").as_ref() == Some(business_key)
            })
            .unwrap_or_else(|| panic!("no publish span for {business_key}: {spans:#?}"));
        assert_eq!(attribute(publish, "postato.outcome").as_deref(), Some("cancelled"), "{business_key}");
        assert_eq!(attribute(publish, "postato.attempts").as_deref(), Some("1"), "{business_key}");
        let attempts = children(&spans, publish, "postato.attempt");
        assert_eq!(attempts.len(), 1, "{business_key}");
        assert_eq!(attribute(attempts[0], "error.type").as_deref(), Some("cancelled"), "{business_key}");
        assert!(matches!(attempts[0].status, Status::Error { .. }), "{business_key}");
    }
}

#[tokio::test]
async fn publish_many_traces_each_post_under_the_callers_span() {
    let (exporter, provider, _guard) = exporting();
    let sim = sim().await;
    let client = client(&sim);
    let posts: Vec<_> = (0..3).map(|_| post(&key("spans-many"))).collect();
    let campaign = tracing::info_span!("campaign");
    let results = tracing::Instrument::instrument(client.publish_many(&posts, &postato::ManyOptions::new()), campaign)
        .await
        .unwrap();
    assert!(results.iter().all(Result::is_ok));
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let campaign = spans.iter().find(|s| s.name == "campaign").expect("the caller's span");
    let publishes = children(&spans, campaign, "postato.publish");
    assert_eq!(publishes.len(), 3, "{spans:#?}");
    for publish in publishes {
        assert_eq!(publish.span_context.trace_id(), campaign.span_context.trace_id());
    }
}
