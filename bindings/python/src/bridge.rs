//! The asyncio bridge of the async API: each call returns an asyncio future of the running
//! loop, its publish runs on the extension's runtime, and finished publishes are handed back
//! in batches — one `call_soon_threadsafe` wakes the loop for every publish that finished
//! since its last wake-up, where a bridge per future (pyo3-async-runtimes) wakes it once per
//! publish and takes the GIL on a blocking thread for each. Results become Python objects on
//! the loop's thread, which holds the GIL anyway.
//!
//! Cancelling the future (a cancelled task) aborts the publish: nothing more is sent.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};

use crate::runtime;

/// Turns a finished publish into the future's result, under the GIL.
type Finish = Box<dyn FnOnce(Python<'_>) -> PyResult<Py<PyAny>> + Send>;

/// Finished publishes with the futures they resolve.
type Finished = Arc<Mutex<Vec<(Py<PyAny>, Finish)>>>;

/// The finished publishes of one event loop, waiting for the loop to take them.
#[pyclass(module = "postato._native", frozen)]
pub struct Completions {
    finished: Finished,
}

#[pymethods]
impl Completions {
    #[new]
    fn new() -> Self {
        Completions { finished: Arc::default() }
    }

    /// Resolves every finished publish's future (called on the loop's thread).
    fn drain(&self, py: Python<'_>) {
        let finished = std::mem::take(&mut *self.finished.lock().unwrap_or_else(|p| p.into_inner()));
        for (future, finish) in finished {
            let future = future.bind(py);
            // A cancelled future wants nothing; its publish was aborted.
            if future.call_method0("done").and_then(|d| d.is_truthy()).unwrap_or(true) {
                continue;
            }
            let _ = match finish(py) {
                Ok(value) => future.call_method1("set_result", (value,)),
                Err(error) => future.call_method1("set_exception", (error.into_value(py),)),
            };
        }
    }
}

/// Aborts a publish when its future is cancelled (its done-callback).
#[pyclass(module = "postato._native", frozen)]
struct AbortOnCancel(tokio::task::AbortHandle);

#[pymethods]
impl AbortOnCancel {
    fn __call__(&self, future: &Bound<'_, PyAny>) -> PyResult<()> {
        if future.call_method0("cancelled")?.is_truthy()? {
            self.0.abort();
        }
        Ok(())
    }
}

/// Starts `work` on the runtime and returns a future of `event_loop` that `finish` resolves
/// with its output.
pub fn spawn<'py, T, W>(
    event_loop: &Bound<'py, PyAny>,
    completions: &Bound<'py, Completions>,
    work: W,
    finish: fn(Python<'_>, T) -> PyResult<Py<PyAny>>,
) -> PyResult<Bound<'py, PyAny>>
where
    T: Send + 'static,
    W: Future<Output = T> + Send + 'static,
{
    let handle = runtime::handle()?;
    let wake = handle.clone();
    let future = event_loop.call_method0("create_future")?;
    let (future_ref, loop_ref) = (future.clone().unbind(), event_loop.clone().unbind());
    let (finished, drain) = (Arc::clone(&completions.get().finished), completions.getattr("drain")?.unbind());
    let task = handle.spawn(async move {
        let outcome = futures_util::FutureExt::catch_unwind(AssertUnwindSafe(work)).await;
        let finish: Finish = match outcome {
            Ok(value) => Box::new(move |py| finish(py, value)),
            Err(_) => Box::new(|_| Err(PyRuntimeError::new_err("postato failed inside (a panic): please report it"))),
        };
        let first = {
            let mut finished = finished.lock().unwrap_or_else(|p| p.into_inner());
            finished.push((future_ref, finish));
            finished.len() == 1
        };
        if first {
            // Wake the loop once for this batch, taking the GIL off the runtime's workers
            // (never once the interpreter is exiting).
            wake.spawn_blocking(move || {
                if runtime::stopping() {
                    return;
                }
                Python::attach(|py| {
                    // A closed loop has nobody waiting.
                    let _ = loop_ref.bind(py).call_method1("call_soon_threadsafe", (drain,));
                });
            });
        }
    });
    future.call_method1("add_done_callback", (AbortOnCancel(task.abort_handle()),))?;
    Ok(future)
}
