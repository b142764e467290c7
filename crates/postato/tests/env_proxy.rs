//! The environment's proxy: `HTTP_PROXY` carries a client's requests when no proxy is given, and
//! a proxy given wins over it and over `NO_PROXY`. A test binary of its own, since it sets the process's
//! environment, which every client built in the same process would read.

mod common;
use common::stand_in::StandIn;
use common::{key, post};
use postato::Client;

#[tokio::test]
async fn http_proxy_carries_the_requests_unless_a_proxy_is_given() {
    let from_environment = StandIn::start().await;
    let given = StandIn::start().await;
    // SAFETY: this binary's only test, and no other thread reads the environment meanwhile.
    unsafe {
        for name in ["NO_PROXY", "no_proxy", "REQUEST_METHOD"] {
            std::env::remove_var(name);
        }
        std::env::set_var("HTTP_PROXY", format!("http://{}", from_environment.address));
    }
    // Nothing listens at the base URL: only a proxy can answer.
    let builder = Client::builder().api_key("k").workspace_id("ws_1").base_url("http://127.0.0.1:9").max_attempts(1);
    builder.clone().build().unwrap().publish(&post(&key("env-proxy"))).await.unwrap();
    assert_eq!(from_environment.heads().len(), 1);
    // SAFETY: as above.
    unsafe { std::env::set_var("NO_PROXY", "127.0.0.1") };
    let explicit = builder.proxy(format!("http://{}", given.address)).build().unwrap();
    explicit.publish(&post(&key("given-proxy"))).await.unwrap();
    assert_eq!((from_environment.heads().len(), given.heads().len()), (1, 1), "the proxy given wins, NO_PROXY too");
}
