//! The crate's tokio runtime. Exported async functions run their work on it and await the
//! task; dropping the await (a cancelled Kotlin coroutine) aborts the task. Swift's generated
//! async calls never drop it when their `Task` is cancelled: see
//! `swift/Sources/Postato/TaskCancellation.swift`.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

fn runtime() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| postato_bindings::multi_thread_runtime("postato-uniffi").expect("the tokio runtime starts"))
}

/// Enters the runtime (for constructors that need its context).
pub fn enter() -> tokio::runtime::EnterGuard<'static> {
    runtime().enter()
}

/// A spawned task that is aborted when dropped.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl<T> Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

/// Runs `future` on the runtime; a panic inside it becomes `Err(message)`.
pub async fn run<T: Send + 'static>(future: impl Future<Output = T> + Send + 'static) -> Result<T, String> {
    AbortOnDrop(runtime().spawn(future)).await.map_err(|e| {
        if e.is_panic() {
            let panic = e.into_panic();
            let message =
                panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()));
            format!("a panic inside postato: {}", message.unwrap_or_else(|| "unknown".into()))
        } else {
            "the publish task was cancelled".into()
        }
    })
}
