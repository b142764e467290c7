//! The extension's one tokio runtime: created on first use, recreated in a process forked
//! after import (the parent's worker threads do not exist there), and stopped for good at
//! interpreter exit, so that no thread of ours touches Python during finalization.
//!
//! During finalization CPython ends any thread that asks for the GIL with `pthread_exit`, whose
//! forced unwind through our frames crashes the process when the library carries its own
//! unwinder (the zig-linked manylinux wheels do). So after `shutdown` nothing starts a runtime
//! again: work handed to the runtime is dropped, new calls are refused with a clear error, and a
//! daemon thread coming back from a publish waits for the process to end instead of retaking
//! the GIL.

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;
use tokio::runtime::{Handle, Runtime};

enum State {
    /// Not started in this process yet.
    Idle,
    Running {
        pid: u32,
        runtime: Runtime,
    },
    /// Shut down at interpreter exit; never started again in this process.
    Stopped {
        pid: u32,
    },
}

static STATE: Mutex<State> = Mutex::new(State::Idle);

/// Set when `shutdown` begins: a thread of ours checks it before taking the GIL, so that none
/// does once the interpreter is exiting (even a worker still busy after the shutdown's grace).
static STOPPING: AtomicBool = AtomicBool::new(false);

/// Whether the interpreter is exiting: take the GIL no more.
pub fn stopping() -> bool {
    STOPPING.load(Ordering::Acquire)
}

/// This process's id, read once and again after a fork (`getpid` is a system call, and a
/// publish asks for it several times).
static PID: AtomicU32 = AtomicU32::new(0);

/// This process's id.
pub fn pid() -> u32 {
    match PID.load(Ordering::Relaxed) {
        0 => {
            let pid = std::process::id();
            PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

/// Python's main thread (`threading.main_thread().ident`): the only one whose blocking calls
/// poll for Ctrl-C, since Python runs signal handlers there only, and the only one that never
/// outlives the interpreter (a daemon thread must not take the GIL to poll during exit).
static MAIN_THREAD: OnceLock<u64> = OnceLock::new();

/// Remembers Python's main thread, whichever thread imports the extension.
pub fn init(py: Python<'_>) -> PyResult<()> {
    let ident: u64 = py.import("threading")?.call_method0("main_thread")?.getattr("ident")?.extract()?;
    let _ = MAIN_THREAD.set(ident);
    Ok(())
}

/// Whether the calling thread is Python's main thread.
fn on_main_thread() -> bool {
    // SAFETY: PyThread_get_thread_ident only reads the calling thread's id.
    let current = unsafe { pyo3::ffi::PyThread_get_thread_ident() } as u64;
    MAIN_THREAD.get() == Some(&current)
}

fn lock() -> std::sync::MutexGuard<'static, State> {
    STATE.lock().unwrap_or_else(|p| p.into_inner())
}

/// The runtime's handle, starting it on first use; `None` once the interpreter is exiting.
fn running() -> Option<Handle> {
    let mut state = lock();
    let pid = pid();
    match &*state {
        State::Running { pid: owner, runtime } if *owner == pid => return Some(runtime.handle().clone()),
        State::Stopped { pid: owner } if *owner == pid => return None,
        _ => {}
    }
    if let State::Running { runtime, .. } = std::mem::replace(&mut *state, State::Idle) {
        // Forked: the parent's threads are gone; dropping would wait for them forever.
        std::mem::forget(runtime);
    }
    // A runtime that cannot start (no threads left) is out of our hands: say so plainly.
    let runtime = postato_bindings::multi_thread_runtime("postato-tokio").expect("the tokio runtime starts");
    let handle = runtime.handle().clone();
    *state = State::Running { pid, runtime };
    Some(handle)
}

fn is_stopped() -> bool {
    matches!(&*lock(), State::Stopped { pid: owner } if *owner == pid())
}

/// The runtime's handle for a call from Python; an error once the interpreter is exiting.
pub fn handle() -> PyResult<Handle> {
    running().ok_or_else(|| {
        PyRuntimeError::new_err(
            "postato has shut down because the interpreter is exiting: publish before exit \
             (an atexit handler registered after `import postato` runs before the shutdown)",
        )
    })
}

/// Shuts the runtime down (registered with `atexit` by the package). In-flight tasks are
/// dropped: a publish that was in flight is cancelled, which is retry-safe.
#[pyfunction]
pub fn shutdown(py: Python<'_>) {
    STOPPING.store(true, Ordering::Release);
    let pid = pid();
    let previous = std::mem::replace(&mut *lock(), State::Stopped { pid });
    match previous {
        // Release the GIL so a worker waiting for it can finish, then stop the workers.
        State::Running { pid: owner, runtime } if owner == pid => {
            py.detach(move || runtime.shutdown_timeout(Duration::from_secs(1)))
        }
        State::Running { runtime, .. } => std::mem::forget(runtime),
        State::Idle | State::Stopped { .. } => {}
    }
}

/// Forgets the runtime in a forked child (registered with `os.register_at_fork`).
#[pyfunction]
pub fn after_fork_in_child() {
    PID.store(std::process::id(), Ordering::Relaxed);
    // The parent reports what its clients gathered.
    postato_bindings::process_tally().discard();
    STOPPING.store(false, Ordering::Release);
    if let State::Running { runtime, .. } = std::mem::replace(&mut *lock(), State::Idle) {
        std::mem::forget(runtime);
    }
}

/// Runs `future` to completion for a Python thread, with the GIL released. The future runs on
/// the runtime's workers (so whatever it calls back into Python runs there, and stops with the
/// runtime); the caller waits, and on the main thread checks for signals every 100 ms: a
/// pending KeyboardInterrupt cancels the future.
pub fn block_on<T: Send + 'static>(py: Python<'_>, future: impl Future<Output = T> + Send + 'static) -> PyResult<T> {
    let handle = handle()?;
    let on_main_thread = on_main_thread();
    let outcome = py.detach(|| {
        let task = AbortOnDrop(handle.spawn(future));
        let outcome: PyResult<Result<T, tokio::task::JoinError>> = handle.block_on(async {
            let mut task = task;
            if !on_main_thread {
                return Ok((&mut task.0).await);
            }
            loop {
                tokio::select! {
                    joined = &mut task.0 => return Ok(joined),
                    _ = tokio::time::sleep(Duration::from_millis(100)) => {
                        Python::attach(|py| py.check_signals())?;
                    }
                }
            }
        });
        if is_stopped() {
            // A daemon thread whose publish outlived the interpreter: retaking the GIL now
            // would end it inside our frames. It waits here until the process exits.
            loop {
                std::thread::park();
            }
        }
        outcome
    });
    match outcome? {
        Ok(value) => Ok(value),
        Err(joined) if joined.is_panic() => std::panic::resume_unwind(joined.into_panic()),
        Err(joined) => Err(PyRuntimeError::new_err(format!("postato's runtime dropped the call: {joined}"))),
    }
}

/// A spawned task that is cancelled when its waiter goes away (Ctrl-C).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
