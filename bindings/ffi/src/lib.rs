//! The layer every language binding shares, as matrix-rust-sdk keeps one FFI layer: option
//! conversion (with the defaults of `postato_core::defaults`), the tokio runtime, store
//! selection, the Publisher's options and post parsing. A binding file converts its language's types into these and
//! maps errors, nothing more. Production code only: the simulator and the test kits live in
//! the `*-testing` bindings.

mod many;
mod options;
mod post;
mod publisher;
mod runtime;
mod store;

pub use many::{many_options, publish_many};

/// The level `POSTATO_LOG` (or `filter`, when given) gives postato's lines in a binding's own
/// logger ([`postato::env::log_level`]); `None` when the variable is unset or empty.
pub fn log_level(filter: Option<String>) -> Option<String> {
    let filter = filter.or_else(|| std::env::var(postato::env::LOG).ok())?;
    (!filter.trim().is_empty()).then(|| postato::env::log_level(&filter))
}
pub use options::{
    client_builder, dead_letter_limit, pool_size, ClientDefaults, GivenCallOptions, GivenOptions, Units,
};
pub use post::parse_post;
pub use publisher::{publish_due, publisher};
pub use runtime::multi_thread_runtime;
pub use store::{OpenedOnFirstUse, StoreLocation};
