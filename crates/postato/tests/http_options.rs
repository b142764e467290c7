//! Default headers and a proxy, as a server and a proxy see them: a stand-in that records each
//! request's head and answers it as the API would. (The environment's proxy: `env_proxy.rs`.)

mod common;
use common::stand_in::{header, StandIn};
use common::*;
use postato::{Client, ErrorKind, PublishError};

fn to(base_url: &str) -> postato::ClientBuilder {
    Client::builder().api_key("sk_live_standin").workspace_id("ws_1").base_url(base_url).max_attempts(1)
}

#[tokio::test]
async fn default_headers_go_with_every_request_and_a_user_agent_before_postato_s() {
    let server = StandIn::start().await;
    let client = to(&format!("http://{}", server.address))
        .default_header("X-Team", "growth")
        .default_header("User-Agent", "my-app/2.1")
        .build()
        .unwrap();
    for _ in 0..2 {
        client.publish(&post(&key("headers"))).await.unwrap();
    }
    let heads = server.heads();
    assert_eq!(heads.len(), 2);
    for head in &heads {
        assert_eq!(header(head, "x-team"), ["growth"], "{head}");
        let agent = header(head, "user-agent");
        assert!(agent.len() == 1 && agent[0].starts_with("my-app/2.1 postato/"), "{head}");
        assert_eq!(header(head, "authorization"), ["Bearer sk_live_standin"]);
        assert_eq!(header(head, "content-type"), ["application/json"]);
    }
    let shown = format!("{:?}", to("http://127.0.0.1:9").default_header("X-Secret", "hunter2"));
    assert!(shown.contains("X-Secret") && !shown.contains("hunter2"), "{shown}");
}

#[tokio::test]
async fn the_headers_postato_sets_cannot_be_given() {
    for name in ["Authorization", "idempotency-key", "Content-Type", "Host"] {
        let error = to("http://127.0.0.1:9").default_header(name, "mine").build().unwrap_err();
        let PublishError::InvalidInput(e) = &error else { panic!("{error:?}") };
        assert_eq!((e.field.as_str(), error.kind()), (postato::DEFAULT_HEADERS, ErrorKind::InvalidInput));
        assert!(e.message.contains(name) && !e.message.contains("mine"), "{}", e.message);
    }
}

#[tokio::test]
async fn a_proxy_carries_every_request_with_its_credentials() {
    let proxy = StandIn::start().await;
    // Nothing listens at the base URL: only the proxy can answer.
    let client = to("http://127.0.0.1:9").proxy(format!("http://team:hunter2@{}", proxy.address)).build().unwrap();
    let published = client.publish(&post(&key("proxied"))).await.unwrap();
    assert_eq!(published.id, "post_standin");
    let heads = proxy.heads();
    assert_eq!(heads.len(), 1);
    assert!(heads[0].starts_with("POST http://127.0.0.1:9/v1/workspaces/ws_1/posts HTTP/1.1"), "{}", heads[0]);
    // Basic base64("team:hunter2").
    assert_eq!(header(&heads[0], "proxy-authorization"), ["Basic dGVhbTpodW50ZXIy"]);

    let error = to("http://127.0.0.1:9").proxy("socks5://team:hunter2@proxy:1080").build().unwrap_err();
    let PublishError::InvalidInput(e) = &error else { panic!("{error:?}") };
    assert_eq!(e.field, postato::PROXY);
    assert!(!error.to_string().contains("hunter2"), "{error}");
}
