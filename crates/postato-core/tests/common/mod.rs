//! Helpers shared by the core's integration tests.
#![allow(dead_code)]

use postato_core::*;
use std::path::PathBuf;

pub fn repo_tests_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests")
}

pub fn post(key: &str) -> Post {
    Post::new(key, "x", "acc_1", PostStatus::Publish, "post", "hello")
}

pub fn request(key: &str) -> Request {
    Request::new(&post(key), "ws_1", &ApiKey::new("sk_live_secret"), "rust").unwrap()
}

pub const T0: Timestamp = Timestamp::from_millis(1_796_115_600_000);

pub fn ok_body() -> Response {
    Response::new(202, r#"{"id":"post_1","status":"published"}"#)
}

/// Sends the first attempt and feeds `response`; returns the machine's next action.
pub fn first_outcome(policy: RetryPolicy, response: Response) -> (PublishMachine, Action) {
    let mut machine = PublishMachine::new(request("k"), policy, 1, T0);
    assert!(matches!(machine.poll(T0), Action::Send(_)));
    machine.handle_response(T0, &response);
    let action = machine.poll(T0);
    (machine, action)
}
