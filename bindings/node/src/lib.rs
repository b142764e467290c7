//! The `postato` Node addon: a thin napi-rs layer over the Rust client. It converts types
//! and errors; every retry decision is made by `postato-core`. The JS wrapper in `node/`
//! gives errors their classes and wires AbortSignal to `cancel`.
#![deny(clippy::all)]

mod client;
mod errors;
pub mod outbox;
mod publisher;

use napi_derive::napi;

/// The idempotency key of a business key.
#[napi]
pub fn idempotency_key(business_key: String) -> napi::Result<String> {
    postato_bindings::checked_idempotency_key(&business_key).map_err(|e| errors::publish_error(&e.into()))
}

/// The level `POSTATO_LOG` (or `filter`) gives the wrapper's stderr logger; null when unset.
#[napi]
pub fn log_level(filter: Option<String>) -> Option<String> {
    postato_bindings::log_level(filter)
}

/// The Rust library's version.
#[napi]
pub fn version() -> String {
    postato_bindings::VERSION.to_owned()
}

fn check_test_panics() -> napi::Result<()> {
    if std::env::var("POSTATO_TEST_PANIC").as_deref() != Ok("1") {
        return Err(napi::Error::from_reason("test panics are off: set POSTATO_TEST_PANIC=1"));
    }
    Ok(())
}

/// For FFI-safety tests: panics inside Rust (when `POSTATO_TEST_PANIC=1`); the panic arrives
/// as a JS exception and the process lives on.
#[napi(catch_unwind)]
pub fn test_panic() -> napi::Result<()> {
    check_test_panics()?;
    panic!("deliberate test panic");
}

/// The same, inside a future on the addon's runtime.
#[napi]
pub async fn test_panic_async() -> napi::Result<()> {
    check_test_panics()?;
    let task = tokio::spawn(async { panic!("deliberate test panic") });
    task.await.map_err(|e| napi::Error::from_reason(format!("a panic inside postato: {e}")))
}
