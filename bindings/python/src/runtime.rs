//! The extension's one tokio runtime: created on first use, recreated in a process forked
//! after import (the parent's worker threads do not exist there), and shut down at
//! interpreter exit so that no tokio thread touches Python during finalization.

use pyo3::prelude::*;
use pyo3_async_runtimes::generic::{ContextExt, JoinError, Runtime as GenericRuntime};
use pyo3_async_runtimes::TaskLocals;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct Owned {
    pid: u32,
    runtime: Arc<tokio::runtime::Runtime>,
}

static RUNTIME: Mutex<Option<Owned>> = Mutex::new(None);

fn build() -> tokio::runtime::Runtime {
    postato_ffi::multi_thread_runtime("postato-tokio").expect("the tokio runtime starts")
}

/// The runtime for this process.
pub fn get() -> Arc<tokio::runtime::Runtime> {
    let mut slot = RUNTIME.lock().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    match slot.as_ref() {
        Some(owned) if owned.pid == pid => Arc::clone(&owned.runtime),
        _ => {
            if let Some(stale) = slot.take() {
                // Forked: the parent's threads are gone; dropping would wait for them forever.
                std::mem::forget(stale);
            }
            let runtime = Arc::new(build());
            *slot = Some(Owned { pid, runtime: Arc::clone(&runtime) });
            runtime
        }
    }
}

/// Shuts the runtime down (called by `atexit`). In-flight tasks are dropped: a publish that
/// was in flight is cancelled, which is retry-safe.
#[pyfunction]
pub fn shutdown(py: Python<'_>) {
    let owned = RUNTIME.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(owned) = owned {
        if owned.pid != std::process::id() {
            std::mem::forget(owned);
            return;
        }
        // Release the GIL so a worker waiting for it can finish, then stop the workers.
        py.detach(move || match Arc::try_unwrap(owned.runtime) {
            Ok(runtime) => runtime.shutdown_timeout(Duration::from_secs(1)),
            Err(shared) => std::mem::forget(shared),
        });
    }
}

/// Forgets the runtime in a forked child (registered with `os.register_at_fork`).
#[pyfunction]
pub fn after_fork_in_child() {
    if let Some(stale) = RUNTIME.lock().unwrap_or_else(|p| p.into_inner()).take() {
        std::mem::forget(stale);
    }
}

/// The bridge between this runtime and asyncio, for pyo3-async-runtimes.
pub struct ExtensionRuntime;

pub struct Join(tokio::task::JoinError);

impl JoinError for Join {
    fn is_panic(&self) -> bool {
        self.0.is_panic()
    }
    fn into_panic(self) -> Box<dyn std::any::Any + Send + 'static> {
        self.0.into_panic()
    }
}

tokio::task_local! {
    static TASK_LOCALS: std::cell::OnceCell<TaskLocals>;
}

impl GenericRuntime for ExtensionRuntime {
    type JoinError = Join;
    type JoinHandle = Pin<Box<dyn Future<Output = Result<(), Join>> + Send>>;

    fn spawn<F>(fut: F) -> Self::JoinHandle
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let handle = get().spawn(fut);
        Box::pin(async move { handle.await.map_err(Join) })
    }

    fn spawn_blocking<F>(f: F) -> Self::JoinHandle
    where
        F: FnOnce() + Send + 'static,
    {
        let handle = get().spawn_blocking(f);
        Box::pin(async move { handle.await.map_err(Join) })
    }
}

impl ContextExt for ExtensionRuntime {
    fn scope<F, R>(locals: TaskLocals, fut: F) -> Pin<Box<dyn Future<Output = R> + Send>>
    where
        F: Future<Output = R> + Send + 'static,
    {
        let cell = std::cell::OnceCell::new();
        let _ = cell.set(locals);
        Box::pin(TASK_LOCALS.scope(cell, fut))
    }

    fn get_task_locals() -> Option<TaskLocals> {
        TASK_LOCALS.try_with(|c| c.get().cloned()).unwrap_or_default()
    }
}

/// Runs `future` to completion from a Python thread with the GIL released, checking for
/// signals (Ctrl-C) every 100 ms: a pending KeyboardInterrupt cancels the future (drops it).
pub fn block_on<T: Send>(py: Python<'_>, future: impl Future<Output = T> + Send) -> PyResult<T> {
    let runtime = get();
    py.detach(|| {
        runtime.block_on(async {
            tokio::pin!(future);
            loop {
                tokio::select! {
                    value = &mut future => return Ok(value),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {
                        Python::attach(|py| py.check_signals())?;
                    }
                }
            }
        })
    })
}
