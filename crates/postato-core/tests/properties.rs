//! Property tests: for any sequence of outcomes, the machine keeps its promises.
use postato_core::*;
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;

mod common;
use common::*;

#[derive(Clone, Debug)]
enum Outcome {
    Status(u16, Option<String>),
    Transport(TransportFailureKind),
    Ok,
}

fn outcome() -> impl Strategy<Value = Outcome> {
    let retry_after = prop_oneof![
        Just(None),
        (0u64..120).prop_map(|s| Some(s.to_string())),
        Just(Some("garbage".to_owned())),
        Just(Some("-1".to_owned())),
        Just(Some("1000000000000".to_owned())),
    ];
    prop_oneof![
        4 => (prop_oneof![Just(500u16), Just(502), Just(503), Just(504), Just(408), Just(409)], retry_after.clone())
            .prop_map(|(s, ra)| Outcome::Status(s, ra)),
        3 => retry_after.prop_map(|ra| Outcome::Status(429, ra)),
        1 => (100u16..600).prop_map(|s| Outcome::Status(s, None)),
        3 => prop_oneof![
            Just(TransportFailureKind::Connect),
            Just(TransportFailureKind::Timeout),
            Just(TransportFailureKind::Io),
            Just(TransportFailureKind::Protocol)
        ]
        .prop_map(Outcome::Transport),
        1 => Just(Outcome::Ok),
    ]
}

fn policy() -> impl Strategy<Value = RetryPolicy> {
    (1u32..8, 0u64..2000, 0u64..60_000, any::<bool>(), 0u32..25, proptest::option::of(1u64..600_000)).prop_map(
        |(max_attempts, base, cap, full, waits, deadline)| {
            RetryPolicy::default()
                .with_max_attempts(max_attempts)
                .with_backoff_base(Duration::from_millis(base.min(cap)))
                .with_backoff_cap(Duration::from_millis(cap))
                .with_jitter(if full { Jitter::Full } else { Jitter::Additive { max: Duration::from_millis(500) } })
                .with_max_rate_limit_waits(waits)
                .with_deadline(deadline.map(Duration::from_millis))
        },
    )
}

fn is_retryable(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::Status(s, _) => matches!(s, 408 | 409 | 429) || ((500..600).contains(s) && *s != 501 && *s != 505),
        Outcome::Transport(_) => true,
        Outcome::Ok => false,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_machine_keeps_its_promises(policy in policy(), outcomes in proptest::collection::vec(outcome(), 0..80), seed in any::<u64>()) {
        let request = request("prop");
        let mut machine = PublishMachine::new(request, policy.clone(), seed, T0);
        let deadline = policy.deadline.map(|d| T0.saturating_add(d));
        let mut now = T0;
        let mut sends: Vec<Arc<Request>> = Vec::new();
        let mut fed: Vec<Outcome> = Vec::new();
        let mut outcomes = outcomes.into_iter();
        let mut steps = 0;
        let result = loop {
            steps += 1;
            prop_assert!(steps < 1_000, "the machine must terminate");
            match machine.poll(now) {
                Action::Done(result) => break result,
                Action::AwaitingOutcome => prop_assert!(false, "poll after send without an outcome"),
                Action::Wait { until } => {
                    prop_assert!(until >= now);
                    if let Some(deadline) = deadline {
                        prop_assert!(until <= deadline, "never waits past the deadline");
                    }
                    let delay = until.saturating_since(now);
                    let rate_limited = matches!(fed.last(), Some(Outcome::Status(429, _)));
                    let bound = if rate_limited { policy.max_retry_after } else {
                        policy.backoff_cap.max(policy.max_retry_after) + Duration::from_millis(500)
                    };
                    prop_assert!(delay <= bound, "wait {delay:?} exceeds {bound:?}");
                    now = until;
                }
                Action::Send(attempt) => {
                    prop_assert_eq!(attempt.attempt as usize, sends.len() + 1);
                    prop_assert!(attempt.timeout <= policy.timeout);
                    if let Some(first) = sends.first() {
                        prop_assert_eq!(first.body(), attempt.request.body());
                        prop_assert_eq!(first.idempotency_key(), attempt.request.idempotency_key());
                    }
                    if let Some(previous) = fed.last() {
                        prop_assert!(is_retryable(previous), "retried after a non-retryable outcome {previous:?}");
                    }
                    sends.push(attempt.request.clone());
                    let mut outcome = outcomes.next().unwrap_or(Outcome::Ok);
                    // A transport gives up at the attempt's timeout: a slower answer is a timeout.
                    let latency = Duration::from_millis(seed % 50);
                    if latency > attempt.timeout {
                        outcome = Outcome::Transport(TransportFailureKind::Timeout);
                    }
                    now = now.saturating_add(latency.min(attempt.timeout));
                    match &outcome {
                        Outcome::Status(s, ra) => {
                            let mut response = Response::new(*s, "{}");
                            if let Some(ra) = ra { response = response.with_header("Retry-After", ra); }
                            machine.handle_response(now, &response);
                        }
                        Outcome::Transport(kind) => machine.handle_transport_failure(now, TransportFailure::new(*kind, "x")),
                        Outcome::Ok => machine.handle_response(now, &ok_body()),
                    }
                    fed.push(outcome);
                }
            }
        };
        let non_429 = fed.iter().filter(|o| !matches!(o, Outcome::Status(429, _))).count() as u32;
        let rate_limit_waits = fed.len() as u32 - non_429;
        prop_assert!(non_429 <= policy.max_attempts, "never more than the attempt limit");
        prop_assert!(rate_limit_waits <= policy.max_rate_limit_waits + 1);
        let attempts = match &result { Ok(p) => p.attempts, Err(e) => e.attempts() };
        prop_assert_eq!(attempts as usize, sends.len());
        if let Some(deadline) = deadline { prop_assert!(now <= deadline || result.is_err()); }
        match fed.last() {
            Some(last) if !is_retryable(last) => {
                let published = matches!(last, Outcome::Ok);
                prop_assert_eq!(result.is_ok(), published, "a final outcome decides: {:?}", result);
            }
            _ => prop_assert!(result.is_err()),
        }
    }

    #[test]
    fn retry_after_parsing_never_panics(value in ".{0,40}", now in any::<u64>()) {
        let _ = parse_retry_after(&value, Timestamp::from_millis(now));
    }

    #[test]
    fn retry_after_reads_every_non_negative_integer(seconds in any::<u64>()) {
        prop_assert_eq!(parse_retry_after(&seconds.to_string(), T0), Some(Duration::from_secs(seconds)));
    }

    #[test]
    fn response_body_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = parse_published_body(&body);
        let _ = classify(&Response::new(202, body.clone()), &RetryPolicy::default(), T0);
        let _ = classify(&Response::new(422, body), &RetryPolicy::default(), T0);
    }

    #[test]
    fn idempotency_keys_are_32_lowercase_hex(key in any::<String>()) {
        let k = idempotency_key(&key);
        prop_assert_eq!(k.len(), 32);
        prop_assert!(k.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
    }

    #[test]
    fn composed_keys_are_injective(a in proptest::collection::vec(".{0,6}", 0..4), b in proptest::collection::vec(".{0,6}", 0..4)) {
        prop_assert_eq!(compose_business_key(&a) == compose_business_key(&b), a == b);
    }

    #[test]
    fn the_body_is_what_serde_json_writes(
        // Texts of every kind, and long ones whose escapes fall on any byte of a 64-byte chunk.
        text in prop_oneof![any::<String>(), "[a\\n\"\\\\\\t\\u{0}-\\u{1f}é🚀\\u{2028}]{0,300}"],
        account in any::<String>(),
        thread in proptest::option::of(proptest::collection::vec(any::<String>(), 1..3)),
    ) {
        let mut post = Post::new("k", text.clone(), account.clone(), PostStatus::Draft, text.clone(), text.clone());
        if let Some(items) = &thread {
            post.content = Content::Thread(items.iter().map(|t| ThreadItem { text: t.clone(), media: None }).collect());
        }
        let json = |v: &str| serde_json::to_string(v).unwrap();
        let content = match &post.content {
            Content::Text(t) => json(t),
            thread => serde_json::to_string(thread).unwrap(),
        };
        let expected = format!(
            "{{\"platform\":{},\"accountId\":{},\"status\":\"draft\",\"postType\":{},\"content\":{content}}}",
            json(&text), json(&account), json(&text)
        );
        prop_assert_eq!(String::from_utf8(post.wire_body()).unwrap(), expected);
    }
}
