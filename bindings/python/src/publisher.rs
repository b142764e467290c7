//! `NativePublisher` and its stores: `NativeMemoryStore`, `NativeSqliteStore` (reopened in a
//! forked child: a SQLite connection must not cross a fork).

use postato_bindings::{Publisher, ResultStore};
use postato_bindings::{StoreLocation, Units};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::{Arc, Mutex};

use crate::bridge::{self, Completions};
use crate::client::{call_options, many_list, parse_for_publish, published_dict, NativeClient, CALL};
use crate::errors::{other, to_py};
use crate::runtime;
use postato_bindings::{GivenCallOptions, PublishReport};

/// A result store.
#[pyclass(module = "postato._native", frozen)]
pub struct NativeStore {
    location: StoreLocation,
    current: Mutex<(u32, Arc<dyn ResultStore>)>,
}

impl NativeStore {
    /// Opens the store with the GIL released: opening SQLite may wait for another process's
    /// lock (up to its busy timeout), and other Python threads must run meanwhile.
    fn with_location(py: Python<'_>, location: StoreLocation) -> PyResult<Self> {
        location.check().map_err(|e| to_py(&e))?;
        let store = py.detach(|| location.open()).map_err(other)?;
        Ok(NativeStore { location, current: Mutex::new((runtime::pid(), store)) })
    }

    /// The store for this process (reopened after a fork: connections do not survive one).
    pub fn store(&self) -> PyResult<Arc<dyn ResultStore>> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.0 != runtime::pid() {
            if self.location == StoreLocation::Memory {
                return Err(other("a MemoryStore cannot be used in a forked process: create a new one there"));
            }
            *current = (runtime::pid(), self.location.open().map_err(other)?);
        }
        Ok(Arc::clone(&current.1))
    }
}

#[pymethods]
impl NativeStore {
    /// A SQLite store at `path`, or a memory store when `path` is None.
    #[new]
    #[pyo3(signature = (path=None))]
    fn new(py: Python<'_>, path: Option<String>) -> PyResult<Self> {
        Self::with_location(py, path.map_or(StoreLocation::Memory, StoreLocation::Sqlite))
    }

    /// A PostgreSQL store shared by many workers (connects on first use); `pool_size` None
    /// is the default.
    #[staticmethod]
    #[pyo3(signature = (url, pool_size=None))]
    fn postgres(py: Python<'_>, url: String, pool_size: Option<f64>) -> PyResult<Self> {
        let pool_size = pool_size.map(postato_bindings::pool_size).transpose().map_err(|e| to_py(&e))?;
        Self::with_location(py, StoreLocation::Postgres { url, pool_size })
    }

    /// Counts as a dict: published, dead_letters, dead_letters_by_kind.
    fn counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let store = self.store()?;
        let counts = runtime::block_on(py, async move { store.counts().await })?.map_err(|e| other(e.to_string()))?;
        let d = PyDict::new(py);
        d.set_item("published", counts.published)?;
        d.set_item("dead_letters", counts.dead_letters)?;
        d.set_item("dead_letters_by_kind", counts.dead_letters_by_kind.into_iter().collect::<Vec<_>>())?;
        d.set_item("deferred", counts.deferred)?;
        d.set_item("next_due_ms", counts.next_due_ms)?;
        d.set_item("deferred_until_ms", counts.deferred_until_ms)?;
        Ok(d)
    }

    /// Dead letters as JSON lines (camelCase, as the CLI prints them); `limit` (a number; absent:
    /// the default) within its bounds.
    #[pyo3(signature = (limit=None))]
    fn dead_letters_json(&self, py: Python<'_>, limit: Option<f64>) -> PyResult<Vec<String>> {
        let limit = postato_bindings::dead_letter_limit(limit).map_err(|e| to_py(&e))?;
        let store = self.store()?;
        let letters = runtime::block_on(py, async move { store.dead_letters(None, limit).await })?
            .map_err(|e| other(e.to_string()))?;
        Ok(letters.iter().map(|l| serde_json::to_string(l).unwrap_or_default()).collect())
    }

    /// The stored post id of a business key, if published.
    fn published_id(&self, py: Python<'_>, business_key: String) -> PyResult<Option<String>> {
        let store = self.store()?;
        let record = runtime::block_on(py, async move { store.published(&business_key).await })?
            .map_err(|e| other(e.to_string()))?;
        Ok(record.map(|r| r.post_id))
    }
}

/// A due-posts report as a dict: published, failed, deferred, next_due_ms.
fn due_dict<'py>(py: Python<'py>, report: &postato_bindings::DueReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("published", report.published)?;
    d.set_item("failed", report.failed)?;
    d.set_item("deferred", report.deferred)?;
    d.set_item("next_due_ms", report.next_due.map(|t| t.as_millis()))?;
    Ok(d)
}

/// A Publisher's result: its post, and whether it came from the store.
fn reported(report: &PublishReport) -> (&postato_bindings::Published, bool) {
    (&report.published, report.from_store)
}

/// A client with a store.
#[pyclass(module = "postato._native", frozen)]
pub struct NativePublisher {
    client: Py<NativeClient>,
    store: Py<NativeStore>,
    key_retention: Option<f64>,
}

impl NativePublisher {
    fn publisher(&self) -> PyResult<Publisher> {
        let client = self.client.get().client()?;
        postato_bindings::publisher(client, self.store.get().store()?, self.key_retention, Units::Seconds)
            .map_err(|e| to_py(&e))
    }
}

#[pymethods]
impl NativePublisher {
    /// `key_retention` (seconds): how long the server keeps idempotency keys; None is the
    /// default. Checked here, so a bad value fails the constructor.
    #[new]
    #[pyo3(signature = (client, store, key_retention=None))]
    fn new(client: Py<NativeClient>, store: Py<NativeStore>, key_retention: Option<f64>) -> PyResult<Self> {
        let publisher = NativePublisher { client, store, key_retention };
        publisher.publisher()?;
        Ok(publisher)
    }

    /// Publishes unless the store has it, synchronously with the GIL released; `force` sends
    /// a post whose earlier send's outcome is unknown.
    #[pyo3(signature = (post_json, force=false, call=Vec::new()))]
    fn publish<'py>(
        &self,
        py: Python<'py>,
        post_json: &str,
        force: bool,
        call: Vec<(String, f64)>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let options = call_options(call)?;
        let post = parse_for_publish(post_json)?;
        let publisher = self.publisher()?;
        let report = runtime::block_on(py, async move {
            let cancel = postato_bindings::CancellationToken::new();
            postato_bindings::publish(&publisher, &post, (options, &cancel), force).await
        })?
        .map_err(|e| to_py(&e))?;
        published_dict(py, &report.published, report.from_store)
    }

    /// Publishes every post through the store (see `Publisher::publish_many` in Rust),
    /// synchronously with the GIL released; one entry per post, in order.
    #[pyo3(signature = (posts_json, concurrency=None, call=Vec::new()))]
    fn publish_many<'py>(
        &self,
        py: Python<'py>,
        posts_json: Vec<Option<String>>,
        concurrency: Option<f64>,
        call: Vec<(String, f64)>,
    ) -> PyResult<Bound<'py, PyList>> {
        let options =
            postato_bindings::many_options(concurrency, GivenCallOptions(call), CALL).map_err(|e| to_py(&e))?;
        let publisher = self.publisher()?;
        let results = runtime::block_on(py, async move {
            postato_bindings::publisher_many(&publisher, postato_bindings::parse_many(posts_json), &options).await
        })?
        .map_err(|e| to_py(&e))?;
        many_list(py, &results, reported)
    }

    /// `publish_many` as a future of `event_loop`; cancelling it cancels the posts in flight.
    #[pyo3(signature = (posts_json, concurrency, event_loop, completions, call=Vec::new()))]
    fn publish_many_async<'py>(
        &self,
        posts_json: Vec<Option<String>>,
        concurrency: Option<f64>,
        event_loop: &Bound<'py, PyAny>,
        completions: &Bound<'py, Completions>,
        call: Vec<(String, f64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options =
            postato_bindings::many_options(concurrency, GivenCallOptions(call), CALL).map_err(|e| to_py(&e))?;
        let publisher = self.publisher()?;
        let work = async move {
            postato_bindings::publisher_many(&publisher, postato_bindings::parse_many(posts_json), &options).await
        };
        bridge::spawn(event_loop, completions, work, |py, results| {
            Ok(many_list(py, &results.map_err(|e| to_py(&e))?, reported)?.into_any().unbind())
        })
    }

    /// Publishes the store's due deferred posts, synchronously with the GIL released.
    #[pyo3(signature = (concurrency=None))]
    fn publish_due<'py>(&self, py: Python<'py>, concurrency: Option<f64>) -> PyResult<Bound<'py, PyDict>> {
        let publisher = self.publisher()?;
        let report =
            runtime::block_on(py, async move { postato_bindings::publish_due(&publisher, concurrency).await })?
                .map_err(|e| to_py(&e))?;
        due_dict(py, &report)
    }

    /// Publishes the store's due deferred posts, as a future of `event_loop`.
    #[pyo3(signature = (event_loop, completions, concurrency=None))]
    fn publish_due_async<'py>(
        &self,
        event_loop: &Bound<'py, PyAny>,
        completions: &Bound<'py, Completions>,
        concurrency: Option<f64>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let publisher = self.publisher()?;
        let work = async move { postato_bindings::publish_due(&publisher, concurrency).await };
        bridge::spawn(event_loop, completions, work, |py, report| {
            let report = report.map_err(|e| to_py(&e))?;
            Ok(due_dict(py, &report)?.into_any().unbind())
        })
    }

    /// Publishes unless the store has it, as a future of `event_loop`.
    #[pyo3(signature = (post_json, event_loop, completions, force=false, call=Vec::new()))]
    fn publish_async<'py>(
        &self,
        post_json: &str,
        event_loop: &Bound<'py, PyAny>,
        completions: &Bound<'py, Completions>,
        force: bool,
        call: Vec<(String, f64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = call_options(call)?;
        let post = parse_for_publish(post_json)?;
        let publisher = self.publisher()?;
        let work = async move {
            let cancel = postato_bindings::CancellationToken::new();
            postato_bindings::publish(&publisher, &post, (options, &cancel), force).await
        };
        bridge::spawn(event_loop, completions, work, |py, report| {
            let report = report.map_err(|e| to_py(&e))?;
            Ok(published_dict(py, &report.published, report.from_store)?.into_any().unbind())
        })
    }
}
