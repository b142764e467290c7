//! Settings from the environment: an argument, then the variable, then the default; an empty
//! variable is an error naming it. One test in a binary of its own: it sets process variables.

use postato::{env, Client};

#[test]
fn the_builder_reads_the_environment_and_arguments_win() {
    std::env::set_var(env::API_KEY, "sk_from_env");
    std::env::set_var(env::WORKSPACE_ID, "ws_env");
    std::env::set_var(env::BASE_URL, "http://127.0.0.1:9");
    let client = Client::builder_from_env().unwrap().build().unwrap();
    assert_eq!((client.workspace_id(), client.base_url()), ("ws_env", "http://127.0.0.1:9"));
    assert!(!format!("{client:?}").contains("sk_from_env"), "the key never shows");

    let client = Client::builder_from_env().unwrap().workspace_id("ws_arg").build().unwrap();
    assert_eq!(client.workspace_id(), "ws_arg", "an argument wins over its variable");

    std::env::set_var(env::BASE_URL, "");
    let error = Client::builder_from_env().unwrap_err();
    assert!(error.to_string().contains("POSTATO_BASE_URL") && error.to_string().contains("empty"), "{error}");

    std::env::remove_var(env::BASE_URL);
    std::env::remove_var(env::API_KEY);
    let client = Client::builder_from_env().unwrap().build().unwrap_err();
    assert!(client.to_string().contains("apiKey") && client.to_string().contains("POSTATO_API_KEY"), "{client}");
    std::env::remove_var(env::WORKSPACE_ID);
}
