//! Random posts as a caller writes them (the JSON every language hands the core): each one is
//! either refused with a named field, or reaches the wire exactly as given: same status (or the
//! one its schedule implies), schedule time, content and key.
use chrono::DateTime;
use postato_core::{idempotency_key, ApiKey, Post, PostStatus, Request};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const FIELDS: [&str; 7] = ["businessKey", "platform", "accountId", "status", "postType", "content", "scheduledAt"];

/// Mostly valid text (so that most posts get through and their wire is checked), sometimes
/// empty, blank, holding a NUL, or any printable Unicode.
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        12 => "[a-z0-9_-]{1,8}",
        1 => Just(String::new()),
        1 => Just(" \t".to_owned()),
        1 => Just("a\0b".to_owned()),
        3 => "\\PC{1,12}",
    ]
}

fn content() -> impl Strategy<Value = Value> {
    let item = (text(), proptest::option::of(proptest::collection::vec(text(), 0..3))).prop_map(|(text, media)| {
        let mut item = json!({"text": text});
        if let Some(media) = media {
            item["media"] = media.into_iter().map(|id| json!({"id": id})).collect();
        }
        item
    });
    prop_oneof![
        text().prop_map(Value::String),
        proptest::collection::vec(item, 0..3).prop_map(Value::Array),
        Just(json!(7)),
        Just(json!([{"text": "a", "extra": 1}])),
        Just(json!("hello")),
        Just(json!([{"text": "1/2"}, {"text": "2/2", "media": [{"id": "m1"}]}])),
    ]
}

fn post() -> impl Strategy<Value = Map<String, Value>> {
    let status = proptest::option::of(prop_oneof![
        3 => Just("publish"),
        3 => Just("scheduled"),
        2 => Just("draft"),
        1 => Just("now"),
        1 => Just("Publish")
    ]);
    let at = proptest::option::of(prop_oneof![
        Just("2027-01-01T00:00:00Z"),
        Just("2027-01-01T09:30:00+01:00"),
        Just("2027-01-01 09:00"),
        Just("tomorrow"),
    ]);
    let unknown = proptest::option::weighted(0.1, prop_oneof![Just("scheduled_at"), Just("postype"), Just("Content")]);
    (text(), text(), text(), status, text(), content(), at, unknown).prop_map(
        |(key, platform, account, status, post_type, content, at, unknown)| {
            let mut post = Map::new();
            post.insert("businessKey".into(), key.into());
            post.insert("platform".into(), platform.into());
            post.insert("accountId".into(), account.into());
            post.insert("postType".into(), post_type.into());
            post.insert("content".into(), content);
            if let Some(status) = status {
                post.insert("status".into(), status.into());
            }
            if let Some(at) = at {
                post.insert("scheduledAt".into(), at.into());
            }
            if let Some(unknown) = unknown {
                post.insert(unknown.into(), "x".into());
            }
            post
        },
    )
}

fn named_field(field: &str) -> bool {
    FIELDS.contains(&field) || field.starts_with("content[") || ["scheduled_at", "postype", "Content"].contains(&field)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_post_is_refused_by_name_or_reaches_the_wire_as_given(given in post()) {
        let parsed = Post::from_json(&Value::Object(given.clone()).to_string()).and_then(|p| p.validate().map(|()| p));
        match parsed {
            Err(e) => {
                prop_assert!(named_field(&e.field), "an error names a field: {e}");
                prop_assert!(e.to_string().starts_with(&format!("invalid post: {}: ", e.field)), "{e}");
                prop_assert!(!e.message.contains("untagged") && !e.message.contains("variant"), "{e}");
            }
            Ok(post) => {
                let wire: Value = serde_json::from_slice(&post.wire_body()).unwrap();
                let at = given.get("scheduledAt").and_then(Value::as_str);
                let status = match given.get("status").and_then(Value::as_str) {
                    Some(status) => status.to_owned(),
                    None => PostStatus::implied(at.is_some()).as_str().to_owned(),
                };
                prop_assert_eq!(wire["status"].as_str(), Some(status.as_str()));
                prop_assert!(!(status == "publish" && at.is_some()), "publish with a schedule time went out");
                match at {
                    Some(at) => {
                        let sent = DateTime::parse_from_rfc3339(wire["scheduledAt"].as_str().unwrap()).unwrap();
                        prop_assert_eq!(sent, DateTime::parse_from_rfc3339(at).unwrap(), "the same instant");
                    }
                    None => prop_assert!(wire.get("scheduledAt").is_none()),
                }
                prop_assert_eq!(&wire["content"], &given["content"]);
                for field in ["platform", "accountId", "postType"] {
                    prop_assert_eq!(&wire[field], &given[field]);
                }
                let key = given["businessKey"].as_str().unwrap();
                prop_assert!(!key.trim().is_empty());
                prop_assert_eq!(idempotency_key(&post.business_key), idempotency_key(key));
            }
        }
    }
}

/// The table of the issue's post cases, in the core every language calls.
#[test]
fn each_case_of_the_issue_is_refused_by_name_or_means_what_it_says() {
    let base = || json!({"businessKey": "k", "platform": "x", "accountId": "a", "postType": "post", "content": "c"});
    let parse = |v: Value| Post::from_json(&v.to_string()).and_then(|p| p.validate().map(|()| p));
    // 1. A schedule time with no status means "scheduled"; with "publish" it is refused.
    let mut scheduled = base();
    scheduled["scheduledAt"] = "2027-01-01T00:00:00Z".into();
    assert_eq!(parse(scheduled.clone()).unwrap().status, PostStatus::Scheduled);
    scheduled["status"] = "publish".into();
    assert_eq!(parse(scheduled).unwrap_err().field, "scheduledAt");
    // A post without a postType (or a null one) is a `post`, as `postato publish` and every
    // language's publish default it.
    let mut untyped = base();
    untyped.as_object_mut().unwrap().remove("postType");
    assert_eq!(parse(untyped.clone()).unwrap().post_type, postato_core::defaults::POST_TYPE);
    untyped["postType"] = Value::Null;
    assert_eq!(parse(untyped).unwrap().post_type, postato_core::defaults::POST_TYPE);
    let mut unplatformed = base();
    unplatformed.as_object_mut().unwrap().remove("platform");
    assert_eq!(parse(unplatformed).unwrap_err().to_string(), "invalid post: platform: is missing: every post has one");
    // 10. Unknown fields are refused by name.
    for unknown in ["scheduled_at", "postype"] {
        let mut post = base();
        post[unknown] = "x".into();
        let e = parse(post).unwrap_err();
        assert_eq!(e.field, unknown);
        assert!(e.message.starts_with("is not a field of a post"), "{e}");
    }
    // 11. A lone surrogate is named, not "unexpected end of hex escape".
    let e = Post::from_json(r#"{"businessKey":"\ud800","platform":"x","accountId":"a","postType":"p","content":"c"}"#)
        .unwrap_err();
    assert!(e.message.contains("lone UTF-16 surrogate"), "{e}");
    assert_eq!(e.field, "businessKey", "the field holding it is named");
    let e = Post::from_json(r#"{"businessKey":"k","content":[{"text":"a\udc00b"}]}"#).unwrap_err();
    assert_eq!(e.field, "content");
    // Unclear: content of the wrong type names the field, not "untagged enum Content".
    let mut post = base();
    post["content"] = json!({"text": "a"});
    let e = parse(post).unwrap_err();
    assert_eq!(e.to_string(), "invalid post: content: must be a string, or a thread: a list of {\"text\": …, \"media\": [{\"id\": …}]}, got a JSON object");
    // A blank business key is refused like blank content.
    let mut post = base();
    post["businessKey"] = " ".into();
    assert_eq!(parse(post).unwrap_err().field, "businessKey");
}

#[test]
fn a_post_with_a_key_twice_an_invisible_business_key_or_more_than_a_mebibyte_is_refused() {
    for (text, field) in [
        (r#"{"businessKey":"k","platform":"x","accountId":"a","content":"one","content":"two"}"#, "post"),
        (r#"{"businessKey":"k","businessKey":"j","platform":"x","accountId":"a","content":"c"}"#, "post"),
        (r#"{"businessKey":"k","platform":"x","accountId":"a","content":[{"text":"a","text":"b"}]}"#, "post"),
    ] {
        let e = Post::from_json(text).unwrap_err();
        assert_eq!(e.field, field, "{text}");
        assert!(e.message.contains("twice"), "{e}");
    }
    for key in ["\u{200b}", "\u{feff} \u{2060}", "\u{200d}\u{200c}"] {
        let post = Post::new(key, "x", "a", PostStatus::Publish, "post", "c");
        assert_eq!(post.validate().unwrap_err().field, "businessKey", "{key:?}");
    }
    let huge = Post::new("huge", "x", "a", PostStatus::Publish, "post", "x".repeat(1024 * 1024));
    let e = Request::new(&huge, "ws", &ApiKey::new("key"), "rust").unwrap_err();
    assert!(e.field == "post" && e.message.contains("1 MiB"), "{e}");
}
