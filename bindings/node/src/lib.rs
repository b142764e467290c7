//! The `postato` Node addon: a thin napi-rs layer over the Rust client. It converts types
//! and errors; every retry decision is made by `postato-core`. The JS wrapper in `node/`
//! gives errors their classes and wires AbortSignal to `cancel`.
#![deny(clippy::all)]

mod client;
mod errors;
mod publisher;
mod sim;

use napi_derive::napi;

/// The idempotency key of a business key.
#[napi]
pub fn idempotency_key(business_key: String) -> String {
    postato::idempotency_key(&business_key)
}

/// The Rust library's version.
#[napi]
pub fn version() -> String {
    postato_core::VERSION.to_owned()
}
