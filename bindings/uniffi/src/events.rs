//! `RetryListener`: a Kotlin interface / Swift protocol told of each retry, fed from the
//! client's notices as every binding's hooks are. A listener that throws is reported on
//! stderr and the publish goes on: nothing a listener does can fail or stop a publish.

use postato_bindings::Notice;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// What a retry listener is told before each retry.
#[derive(uniffi::Record, Clone, Debug, PartialEq)]
pub struct RetryEvent {
    pub business_key: String,
    /// The attempt that follows the wait (2 for the first retry).
    pub attempt: u32,
    /// How long the publish waits first, in ms.
    pub delay_ms: u64,
    /// Why, as the logs say it (`the server answered 503`, …).
    pub reason: String,
    /// The HTTP status behind the retry, when the server answered.
    pub status: Option<u16>,
}

/// What a listener threw, as Rust sees it.
#[derive(Debug, thiserror::Error, uniffi::Error)]
pub enum ListenerError {
    #[error("{reason}")]
    Failed { reason: String },
}

impl From<uniffi::UnexpectedUniFFICallbackError> for ListenerError {
    fn from(e: uniffi::UnexpectedUniFFICallbackError) -> Self {
        ListenerError::Failed { reason: e.reason }
    }
}

/// Called before each retry, on one of postato's worker threads: keep it quick. Whatever it
/// throws arrives as a `ListenerError` (never a panic) and the publish goes on.
#[uniffi::export(with_foreign)]
pub trait RetryListener: Send + Sync {
    fn on_retry(&self, event: RetryEvent) -> Result<(), ListenerError>;
}

/// The client's notice hook for `listener`: each retry goes to it.
pub fn hook(listener: Arc<dyn RetryListener>) -> impl Fn(&Notice) + Send + Sync + 'static {
    move |notice: &Notice| {
        let Notice::Retry(retry) = notice else { return };
        let business_key = retry.business_key.as_str();
        let event = RetryEvent {
            business_key: business_key.to_owned(),
            attempt: retry.next_attempt,
            delay_ms: u64::try_from(retry.delay.as_millis()).unwrap_or(u64::MAX),
            reason: retry.reason.to_string(),
            status: retry.reason.status(),
        };
        // A foreign exception arrives as an `Err`; a panic (a bug of ours) is caught too, so that
        // neither unwinds through the publish.
        match std::panic::catch_unwind(AssertUnwindSafe(|| listener.on_retry(event))) {
            Ok(Ok(())) => {}
            Ok(Err(ListenerError::Failed { reason })) => {
                let first_line = reason.lines().next().unwrap_or_default();
                eprintln!("postato: the retry listener threw on a retry of {business_key}: {first_line} (the publish goes on)");
            }
            Err(_) => {
                eprintln!("postato: the retry listener panicked on a retry of {business_key} (the publish goes on)")
            }
        }
    }
}
