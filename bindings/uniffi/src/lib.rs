//! The uniffi binding of postato for Kotlin and Swift: a thin layer over the Rust client. It
//! converts types and errors; every retry decision is made by `postato-core`. Async calls run
//! on this crate's tokio runtime; panics are caught and surface as `PostatoError.Internal`.

// `PostatoError` crosses to Kotlin and Swift by value, as uniffi requires (no boxed fields).
#![allow(clippy::result_large_err)]

mod client;
mod errors;
mod events;
mod local_outbox;
mod outbox;
mod runtime;
mod types;

pub use client::{CancelHandle, Client, Publisher, Store};
pub use errors::{PostatoError, ResponseMeta};
pub use events::{ListenerError, RetryEvent, RetryListener};
pub use local_outbox::{
    DeferReason, DeferredPost, DrainReport, DrainedPost, Enqueued, FailedPost, LocalOutbox, OutboxCounts,
};
pub use types::{
    ClientDefaults, ClientOptions, Content, DeadLetter, HttpOptions, Media, MetricCount, MetricInfo, MetricWait,
    MetricsTaken, PostInput, PublishOptions, PublishedPost, StoreCounts, ThreadItem,
};

uniffi::setup_scaffolding!();

/// The idempotency key of a business key.
#[uniffi::export]
pub fn idempotency_key(business_key: String) -> Result<String, PostatoError> {
    Ok(postato_bindings::checked_idempotency_key(&business_key)?)
}

/// The default of every client setting (times in ms).
#[uniffi::export]
pub fn client_defaults() -> ClientDefaults {
    postato_bindings::ClientDefaults::new(postato_bindings::Units::Millis).into()
}

/// The names of the options one publish may have of its own (`PublishOptions`: `deadlineMs`,
/// `maxAttempts`, `timeoutMs`), from the settings table.
#[uniffi::export]
pub fn call_settings() -> Vec<String> {
    let (units, column) = PublishOptions::UNITS;
    postato_bindings::call_settings(column, units).into_iter().map(|(name, _)| name.to_owned()).collect()
}

/// The Rust client's metrics, as every language names them (`PostatoMetrics` makes its
/// OpenTelemetry instruments of them).
#[uniffi::export]
pub fn metrics_table() -> Vec<MetricInfo> {
    postato_bindings::metrics::METRICS
        .iter()
        .map(|m| MetricInfo {
            name: m.name.to_owned(),
            kind: postato_bindings::kind_name(m.kind).to_owned(),
            unit: m.unit.to_owned(),
            help: m.help.to_owned(),
            label: m.label.map(str::to_owned),
        })
        .collect()
}

/// The bucket bounds of `postato.wait.duration`, in seconds.
#[uniffi::export]
pub fn wait_buckets() -> Vec<f64> {
    postato_bindings::metrics::WAIT_BUCKETS.to_vec()
}

/// For FFI-safety tests: panics inside Rust when the environment variable
/// `POSTATO_TEST_PANIC` is `1` (otherwise returns an `InvalidPost` error). The panic must
/// arrive as an exception, never crash the host process.
#[uniffi::export]
pub async fn test_panic() -> Result<(), PostatoError> {
    if std::env::var("POSTATO_TEST_PANIC").as_deref() != Ok("1") {
        return Err(PostatoError::InvalidPost {
            reason: "test panics are off: set POSTATO_TEST_PANIC=1".into(),
            field: None,
        });
    }
    runtime::run(async { panic!("deliberate test panic") }).await.map_err(PostatoError::internal)
}
