//! The tokio runtime a binding runs its publishes on (Node uses napi-rs's own).

/// Worker threads of a binding's runtime: publishing is I/O-bound, and the host language
/// has threads of its own.
const WORKER_THREADS: usize = 2;

/// A multi-thread runtime whose threads are named `thread_name`.
pub fn multi_thread_runtime(thread_name: &str) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKER_THREADS)
        .thread_name(thread_name)
        .enable_all()
        .build()
}
