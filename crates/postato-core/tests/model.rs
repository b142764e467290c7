//! The post model's wire format, validation, and the request built from it.
use chrono::{TimeZone, Utc};
use postato_core::*;

mod common;
use common::*;

#[test]
fn the_body_matches_the_reference_json_stringify() {
    let body = String::from_utf8(post("k").wire_body()).unwrap();
    assert_eq!(body, r#"{"platform":"x","accountId":"acc_1","status":"publish","postType":"post","content":"hello"}"#);
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap();
    let mut thread = post("k").scheduled_at(at);
    thread.status = PostStatus::Scheduled;
    thread.content = Content::Thread(vec![
        ThreadItem { text: "one".into(), media: Some(vec![Media { id: "m1".into() }]) },
        ThreadItem { text: "two".into(), media: None },
    ]);
    assert_eq!(
        String::from_utf8(thread.wire_body()).unwrap(),
        r#"{"platform":"x","accountId":"acc_1","status":"scheduled","postType":"post","content":[{"text":"one","media":[{"id":"m1"}]},{"text":"two"}],"scheduledAt":"2026-12-01T09:00:00.000Z"}"#
    );
}

#[test]
fn the_body_writes_every_string_as_serde_json_does() {
    // Each field's text alone, and each at the end of a long text (the scan goes a chunk at a
    // time): quotes, backslashes, every control character, DEL, U+2028, emoji, a slash.
    let mut texts: Vec<String> = vec!["".into(), "plain".into(), "say \"hi\"".into(), "C:\\path".into()];
    texts.extend((0u8..0x20).map(|b| format!("a{}b", b as char)));
    texts.extend(["\u{7f}", "line\u{2028}sep", "🚀 launch", "a/b", "é", "\u{1f}"].map(String::from));
    let long: Vec<String> = texts.iter().map(|t| format!("{}{t}", ".".repeat(200))).collect();
    for text in texts.iter().chain(&long) {
        let mut p = post("k");
        (p.platform, p.account_id, p.post_type, p.content) =
            (text.clone(), text.clone(), text.clone(), Content::Text(text.clone()));
        let expected = serde_json::to_string(&serde_json::json!({
            "platform": text, "accountId": text, "status": "publish", "postType": text, "content": text,
        }))
        .unwrap();
        let expected_in_order = format!(
            "{{\"platform\":{q},\"accountId\":{q},\"status\":\"publish\",\"postType\":{q},\"content\":{q}}}",
            q = serde_json::to_string(text).unwrap()
        );
        let body = String::from_utf8(p.wire_body()).unwrap();
        assert_eq!(body, expected_in_order, "{text:?}");
        let parsed: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed, serde_json::from_str::<serde_json::Value>(&expected).unwrap());
    }
}

#[test]
fn campaign_lines_parse_with_camel_case_and_offsets_become_utc() {
    let line = r#"{"businessKey":"b1","platform":"linkedin","accountId":"a","status":"scheduled","postType":"post","content":"x","scheduledAt":"2026-12-01T10:00:00.5+01:00"}"#;
    let post: Post = serde_json::from_str(line).unwrap();
    assert_eq!(post.scheduled_at.map(|t| format_timestamp(&t)).as_deref(), Some("2026-12-01T09:00:00.500Z"));
    let typo = r#"{"businessKey":"b1","platform":"x","accountId":"a","status":"publish","postType":"post","content":"x","scheduled_at":"2026"}"#;
    assert!(serde_json::from_str::<Post>(typo).unwrap_err().to_string().contains("scheduled_at"));
    let bad_status =
        r#"{"businessKey":"b1","platform":"x","accountId":"a","status":"now","postType":"post","content":"x"}"#;
    assert!(serde_json::from_str::<Post>(bad_status).is_err());
}

#[test]
fn validation_names_the_field_and_says_what_to_do() {
    type Edit = Box<dyn Fn(&mut Post)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|p| p.business_key.clear()), "businessKey"),
        (Box::new(|p| p.platform = " ".into()), "platform"),
        (Box::new(|p| p.account_id.clear()), "accountId"),
        (Box::new(|p| p.post_type.clear()), "postType"),
        (Box::new(|p| p.content = "".into()), "content"),
        (Box::new(|p| p.content = "a\0b".into()), "content"),
        (Box::new(|p| p.content = Content::Thread(vec![])), "content"),
        (
            Box::new(|p| {
                p.content = Content::Thread(vec![
                    ThreadItem { text: "a".into(), media: None },
                    ThreadItem { text: "".into(), media: None },
                ])
            }),
            "content[1].text",
        ),
        (
            Box::new(|p| {
                p.content =
                    Content::Thread(vec![ThreadItem { text: "a".into(), media: Some(vec![Media { id: "".into() }]) }])
            }),
            "content[0].media[0].id",
        ),
        (Box::new(|p| p.status = PostStatus::Scheduled), "scheduledAt"),
    ];
    for (mutate, field) in cases {
        let mut p = post("k");
        mutate(&mut p);
        let e = p.validate().unwrap_err();
        assert_eq!(e.field, field);
        assert!(e.to_string().starts_with(&format!("invalid post: {field}: ")), "{e}");
        let e = PublishError::from(Request::new(&p, "ws", &ApiKey::new("k"), "rust").unwrap_err());
        assert_eq!((e.kind(), e.field()), (ErrorKind::InvalidInput, Some(field)));
    }
    // A blank business key is refused like blank content (its idempotency key still derives,
    // as the shared vector pins, for code that only computes keys).
    let blank = post(" \t").validate().unwrap_err();
    assert_eq!(blank.to_string(), "invalid post: businessKey: is only whitespace: give a stable identifier for this logical post, such as your draft's id");
    // Noncharacters are the namespace of keys postato makes itself (the CLI's unreadable lines):
    // no post reaches it. Tabs, newlines and other text stay keys, as the shared vectors pin.
    for key in ["\u{FDD0}c.jsonl\u{FDD0}line:1", "a\u{FFFF}", "\u{10FFFE}b"] {
        let refused = post(key).validate().unwrap_err();
        assert!(refused.to_string().contains("a Unicode noncharacter"), "{key:?}: {refused}");
    }
    post("tab\tand\nnewline \u{FDCF}\u{FDF0}\u{FFFD}").validate().unwrap();
    assert_eq!("now".parse::<PostStatus>().unwrap_err().field, "status");
    assert_eq!(parse_timestamp("2026-12-01 09:00").unwrap_err().field, "scheduledAt");
}

#[test]
fn the_request_encodes_the_workspace_and_carries_the_headers() {
    let r = Request::new(&post("draft-123"), "ws/1 ä", &ApiKey::new("sk_live_secret"), "python/3.11").unwrap();
    assert_eq!(r.method(), "POST");
    assert_eq!(r.path(), "/v1/workspaces/ws%2F1%20%C3%A4/posts");
    let headers = r.headers();
    assert_eq!(headers[0], ("authorization", "Bearer sk_live_secret"));
    assert_eq!(headers[1], ("content-type", "application/json"));
    assert_eq!(headers[2], ("idempotency-key", "f62695618dbb558b0d9768a8003ec862"));
    assert_eq!(headers[3], ("user-agent", format!("postato/{VERSION} (python/3.11)").as_str()));
    assert!(!format!("{r:?}").contains("sk_live_secret"), "Debug shows the key: {r:?}");
    for (field, result) in [
        ("workspaceId", Request::new(&post("k"), " ", &ApiKey::new("x"), "rust")),
        ("apiKey", Request::new(&post("k"), "ws", &ApiKey::new(""), "rust")),
        ("apiKey", Request::new(&post("k"), "ws", &ApiKey::new("a\nb"), "rust")),
    ] {
        assert_eq!(result.unwrap_err().field, field);
    }
}

#[test]
fn the_api_key_never_shows_in_debug_output() {
    let r = request("k");
    let debug = format!("{r:?} {:?} {}", ApiKey::new("sk_live_secret"), ApiKey::new("sk_live_secret"));
    assert!(!debug.contains("sk_live_secret"), "{debug}");
    assert!(debug.contains("redacted"));
}

#[test]
fn policies_that_cannot_work_are_rejected_with_the_field() {
    assert!(RetryPolicy::default().validate().is_ok());
    let bad = [
        (RetryPolicy::default().with_max_attempts(0), "maxAttempts"),
        (RetryPolicy::default().with_timeout(std::time::Duration::ZERO), "timeout"),
        (RetryPolicy::default().with_backoff_base(std::time::Duration::from_secs(60)), "backoffBase"),
        (RetryPolicy::default().with_deadline(Some(std::time::Duration::ZERO)), "deadline"),
    ];
    for (policy, field) in bad {
        assert_eq!(policy.validate().unwrap_err().field, field);
    }
}

#[test]
fn servers_read_bodies_with_the_same_validation() {
    let p = post("k");
    assert_eq!(Post::from_wire_body("k", &p.wire_body()).unwrap(), p);
    let missing = Post::from_wire_body("k", br#"{"platform":"x","status":"publish","postType":"post","content":"x"}"#)
        .unwrap_err();
    assert_eq!(missing.field, "accountId");
    let unknown = Post::from_wire_body(
        "k",
        br#"{"platform":"x","accountId":"a","status":"publish","postType":"post","content":"x","foo":1}"#,
    )
    .unwrap_err();
    assert_eq!(unknown.field, "foo");
    let empty = Post::from_wire_body(
        "k",
        br#"{"platform":"x","accountId":"a","status":"publish","postType":"post","content":[]}"#,
    )
    .unwrap_err();
    assert_eq!(empty.field, "content");
    assert_eq!(Post::from_wire_body("k", b"nope").unwrap_err().field, "post");
}

#[test]
fn posts_read_from_json_name_the_field_of_any_error() {
    let line =
        r#"{"businessKey":"b","platform":"x","accountId":"a","status":"publish","postType":"post","content":"hi"}"#;
    assert_eq!(Post::from_json(line).unwrap().business_key, "b");
    for (text, field) in [
        (
            r#"{"businessKey":"b","platform":"x","accountId":"a","status":"now","postType":"post","content":"hi"}"#,
            "status",
        ),
        (
            r#"{"businessKey":"b","platform":"x","accountId":"a","status":"scheduled","postType":"post","content":"hi","scheduledAt":"soon"}"#,
            "scheduledAt",
        ),
        (r#"{"businessKey":"b","platform":"x","status":"publish","postType":"post","content":"hi"}"#, "accountId"),
        (
            r#"{"businessKey":"b","platform":"x","accountId":"a","status":"publish","postType":"post","content":"hi","extra":1}"#,
            "extra",
        ),
        ("not json", "post"),
    ] {
        assert_eq!(Post::from_json(text).unwrap_err().field, field, "{text}");
    }
}
