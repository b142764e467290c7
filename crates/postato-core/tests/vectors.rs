//! The idempotency key reproduces the reference for every shared vector.
use serde::Deserialize;

mod common;

#[derive(Deserialize)]
struct Vectors {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    business_key: String,
    idempotency_key: String,
}

#[test]
fn every_shared_vector_matches_the_reference() {
    let text = std::fs::read_to_string(common::repo_tests_dir().join("vectors/idempotency-keys.json")).unwrap();
    let vectors: Vectors = serde_json::from_str(&text).unwrap();
    assert!(vectors.cases.len() >= 10);
    for case in vectors.cases {
        assert_eq!(postato_core::idempotency_key(&case.business_key), case.idempotency_key, "{:?}", case.business_key);
    }
}

#[test]
fn composed_business_keys_do_not_collide_and_are_stable() {
    use postato_core::compose_business_key as c;
    assert_ne!(c(&["ab", "c"]), c(&["a", "bc"]));
    assert_ne!(c(&["a:", "b"]), c(&["a", ":b"]));
    assert_ne!(c(&["", "x"]), c(&["x", ""]));
    assert_eq!(c(&["user-42", "2026-12-01T09:00:00.000Z"]), "7:user-4224:2026-12-01T09:00:00.000Z");
}

#[test]
fn fingerprints_follow_the_body_bytes() {
    let a = common::request("k");
    let b = common::request("k");
    assert_eq!(a.fingerprint(), b.fingerprint());
    let mut edited = common::post("k");
    edited.content = "edited".into();
    let c = postato_core::Request::new(&edited, "ws_1", &postato_core::ApiKey::new("x"), "rust").unwrap();
    assert_ne!(a.fingerprint(), c.fingerprint());
    assert_eq!(a.fingerprint().len(), 64);
}
