//! The layer every language binding shares, as matrix-rust-sdk keeps one FFI layer, and the
//! bindings' one way into Rust: they depend on this crate alone, which re-exports the client's
//! types they convert. It owns what would otherwise be written once per language: each
//! setting's resolution from a language's numbers (`options`, names and bounds from
//! `postato_core::settings`), the defaults as each language reports them, post parsing, the
//! input-order merge of `publish_many` (`many`), the Publisher's options, store selection and
//! the tokio runtime, and the metrics a language's OpenTelemetry instruments take (`tally`).
//! Retries, failures and schedule notices reach a binding as the client's [`Notice`]s.
//!
//! A binding converts its language's values into these, maps errors, and does what only its
//! language can: Python bridges the GIL and asyncio, rebuilds the client after a fork and
//! hands notices to its `logging` logger; Node hands them to the JavaScript thread; uniffi
//! hands their retries to a Kotlin or Swift `RetryListener`. Production code only: the
//! simulator and the test kits live in the `*-testing` bindings.

mod local_outbox;
mod many;
mod options;
mod outbox;
mod post;
mod publisher;
mod runtime;
mod store;
mod tally;

pub use local_outbox::{drain as drain_local_outbox, enqueue as enqueue_local, local_outbox};
pub use many::{many_options, parse_many, publish_many, publisher_many};
pub use options::{
    call_settings, client_builder, client_settings, dead_letter_limit, pool_size, ClientDefaults, Column,
    GivenCallOptions, GivenOptions, Units,
};
pub use outbox::{outbox_error, outbox_statement, OutboxStatement, Placeholders, PARAMETERS as OUTBOX_PARAMETERS};
pub use post::parse_post;
pub use postato::metrics;
pub use publisher::{publish, publish_due, publisher};
pub use runtime::multi_thread_runtime;
pub use store::{OpenedOnFirstUse, StoreLocation};
pub use tally::{kind_name, metrics_table_json, process_tally, Taken, Tally, MAX_WAITS};

/// What the language bindings convert, from the client and its core.
pub use postato::postato_core::settings::snake_case;
pub use postato::postato_core::{parse_timestamp, VERSION};
pub use postato::{
    checked_idempotency_key, CallOptions, CancellationToken, Client, ClientBuilder, Content, Drained, DueReport,
    Enqueued, ErrorKind, HttpOptions, LocalOutbox, Media, MemoryStore, Notice, OutboxCounts, Post, PostStatus,
    PublishError, PublishReport, Published, Publisher, PutBack, ResultStore, RetryInfo, ThreadItem, ValidationError,
    PROXY,
};

/// The level `POSTATO_LOG` (or `filter`, when given) gives postato's lines in a binding's own
/// logger ([`postato::env::log_level`]); `None` when the variable is unset or empty.
pub fn log_level(filter: Option<String>) -> Option<String> {
    let filter = filter.or_else(|| std::env::var(postato::env::LOG).ok())?;
    (!filter.trim().is_empty()).then(|| postato::env::log_level(&filter))
}
