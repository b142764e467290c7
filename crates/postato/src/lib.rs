//! # postato
//!
//! Retry-safe publishing to the Postato API: a [`Client`] that never double-posts (every
//! attempt carries the same `Idempotency-Key`, derived from your business key) and a
//! [`Publisher`] that never loses a post (results and dead letters are recorded in a
//! [`ResultStore`]). Every retry decision is made by [`postato_core`]'s state machine; this
//! crate supplies the I/O: reqwest with rustls, tokio time, SQLite.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use postato::{Client, Post, Publisher, SqliteStore};
//!
//! let client = Client::builder().api_key("sk_live_…").workspace_id("ws_1").build()?;
//! let post = Post::builder("draft-123").platform("x").account_id("acc_1").text("hello").build()?;
//! let published = client.publish(&post).await?;
//! println!("{} after {} attempt(s)", published.id, published.attempts);
//!
//! let publisher = Publisher::new(client, SqliteStore::open("posts.db")?);
//! let first = publisher.publish(&post).await?; // sent again: the server replays the publish above
//! let again = publisher.publish(&post).await?; // recorded by then: answered from the store, nothing sent
//! assert!(!first.from_store && again.from_store);
//! # Ok(()) }
//! ```
//!
//! `examples/quickstart.rs` (the crate's README) runs the same against `postato sim`.
//!
//! The outcome table, the retry budget's defaults and the rate-limit gate are documented in
//! [`postato_core`]; see [`RetryBudgetConfig`] and [`postato_core::RateLimitGate`].
#![deny(missing_docs)]

mod builder;
mod call;
mod client;
mod clock;
pub mod env;
mod http_options;
mod local_outbox;
mod many;
pub mod metrics;
mod observe;
mod options;
mod outbox_row;
mod publisher;
mod publisher_call;
mod publisher_many;
mod spans;
pub mod store;
mod tls;
mod transport;

pub use builder::{ClientBuilder, DEFAULT_BASE_URL, DEFAULT_MAX_RESPONSE_BYTES};
pub use call::{CallOptions, PublishCall};
pub use client::Client;
pub use http_options::{HttpOptions, DEFAULT_HEADERS, PROXY, RESERVED_HEADERS};
pub use local_outbox::{Drained, LocalOutbox, PutBackRow};
pub use many::ManyOptions;
pub use observe::{EventHook, Notice, NoticeHook, RetryHook, RetryInfo};
pub use options::ClientOptions;
pub use outbox_row::{PutBack, RowStep};
pub use publisher::{DueReport, PublishReport, Publisher};
pub use publisher_call::PublisherCall;
pub use store::{
    DeadLetter, Deferral, Intent, MemoryStore, OutboxCounts, PublishedRecord, ResultStore, SqliteStore, StoreCounts,
    StoreError, StoreErrorKind,
};
pub use tls::SSL_CERT_FILE;
pub use transport::ReqwestTransport;

pub use postato_core;
pub use postato_core::{
    check_business_key, checked_idempotency_key, compose_business_key, idempotency_key, payload_fingerprint, ApiKey,
    Content, Enqueued, ErrorKind, Event, Failure, GateSnapshot, Jitter, LimitsSnapshot, Media, Post, PostBuilder,
    PostStatus, PublishError, Published, ResponseHeaders, RetryBudgetConfig, RetryPolicy, Scope, Subject, ThreadItem,
    Timestamp, ValidationError, WaitReason, WhenBudgetEmpty, MAX_IDLE_SCOPES,
};
pub use tokio::sync::Semaphore;
pub use tokio_util::sync::CancellationToken;
