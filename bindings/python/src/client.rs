//! `NativeClient`: the Rust client behind `postato.Client` and `postato.AsyncClient`. It
//! rebuilds its connection pool in a forked child, and forwards retries to Python logging.

use postato_bindings::{parse_post, GivenCallOptions, GivenOptions, Units};
use postato_bindings::{CallOptions, Client, ClientBuilder, HttpOptions, Notice, PublishError, Published};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use std::sync::{Arc, Mutex};

use crate::bridge::{self, Completions};
use crate::errors::to_py;
use crate::runtime;

/// A published post as a dict for the Python `Post`.
pub fn published_dict<'py>(py: Python<'py>, p: &Published, from_store: bool) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("id", &p.id)?;
    d.set_item("status", &p.status)?;
    d.set_item("idempotency_key", &p.idempotency_key)?;
    d.set_item("attempts", p.attempts)?;
    d.set_item("replayed", p.replayed)?;
    d.set_item("request_id", &p.request_id)?;
    d.set_item("from_store", from_store)?;
    Ok(d)
}

/// The results of `publish_many` for Python: a dict per published post (`published` tells
/// each result's post and whether it came from the store), the exception instance of each
/// failure, `None` where the wrapper keeps its own error.
pub fn many_list<'py, R>(
    py: Python<'py>,
    results: &[Option<Result<R, PublishError>>],
    published: impl Fn(&R) -> (&Published, bool),
) -> PyResult<Bound<'py, PyList>> {
    let list = PyList::empty(py);
    for result in results {
        match result {
            Some(Ok(result)) => {
                let (post, from_store) = published(result);
                list.append(published_dict(py, post, from_store)?)?
            }
            Some(Err(error)) => list.append(to_py(error).into_value(py))?,
            None => list.append(py.None())?,
        }
    }
    Ok(list)
}

/// A bare client's result: never from a store.
pub fn sent(published: &Published) -> (&Published, bool) {
    (published, false)
}

/// Sends a notice to `postato._log`, under the GIL: a schedule notice to `notice`, a retry or
/// failure to `emit` with the client's `on_retry` callable (which `emit` calls for each retry).
fn log_notice(notice: &Notice, on_retry: Option<&Py<PyAny>>) {
    // Once the interpreter is exiting, a worker must not take the GIL (it would be ended
    // inside our frames): the line is dropped.
    if runtime::stopping() {
        return;
    }
    if let Notice::PastSchedule { message, .. } = notice {
        Python::attach(|py| {
            let _ = py.import("postato._log").and_then(|m| m.getattr("notice")).and_then(|f| f.call1((message,)));
        });
        return;
    }
    let (what, business_key, attempt, status, reason, delay) = match notice {
        Notice::Retry(retry) => (
            "retry",
            &retry.business_key,
            retry.next_attempt,
            retry.reason.status(),
            retry.reason.to_string(),
            retry.delay.as_secs_f64(),
        ),
        Notice::Failed { business_key, attempts, kind } => {
            ("failed", business_key, *attempts, None, kind.as_str().to_owned(), 0.0)
        }
        _ => return,
    };
    Python::attach(|py| {
        let _ = py
            .import("postato._log")
            .and_then(|m| m.getattr("emit"))
            .and_then(|emit| emit.call1((what, business_key, attempt, status, reason, delay, on_retry)));
    });
}

/// The Python names and units of the per-call options.
pub const CALL: (Units, postato_bindings::Column) = (Units::Seconds, |n| n.python);

/// Per-call options as given, by their Python names (`call_settings`), in seconds; checked by
/// the client settings' rules.
pub fn call_options(call: Vec<(String, f64)>) -> PyResult<CallOptions> {
    GivenCallOptions(call).resolve(CALL.0, CALL.1).map_err(|e| to_py(&e))
}

/// An error about the proxy under the name Python's `Client` gives it (`http_proxy`).
fn proxy_as_python_names_it(error: PublishError) -> PublishError {
    match error {
        PublishError::InvalidInput(mut e) if e.field == postato_bindings::PROXY => {
            e.field = "httpProxy".into();
            PublishError::InvalidInput(e)
        }
        other => other,
    }
}

/// Parses a post for publishing (its schedule notice, if any, reaches the `postato` logger
/// through the client's notices).
pub fn parse_for_publish(post_json: &str) -> PyResult<postato_bindings::Post> {
    parse_post(post_json).map_err(|e| to_py(&e))
}

/// The Rust client for one workspace.
#[pyclass(module = "postato._native", frozen, weakref)]
pub struct NativeClient {
    builder: ClientBuilder,
    current: Mutex<(u32, Client)>,
}

impl NativeClient {
    /// The client for this process (rebuilt after a fork: sockets do not survive one).
    pub fn client(&self) -> PyResult<Client> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if current.0 != runtime::pid() {
            *current = (runtime::pid(), self.build()?);
        }
        Ok(current.1.clone())
    }

    fn build(&self) -> PyResult<Client> {
        // reqwest needs a runtime context to build its pool.
        let handle = runtime::handle()?;
        let _guard = handle.enter();
        self.builder.clone().build().map_err(|e| to_py(&e))
    }
}

#[pymethods]
impl NativeClient {
    /// `settings`: each bounded client setting given, by its Python name (`client_settings`),
    /// in seconds; one absent takes its default (`client_defaults_json`). `default_headers`
    /// are `(name, value)` pairs sent with every request; `http_proxy` a proxy for every
    /// request.
    #[new]
    #[pyo3(signature = (api_key, workspace_id, language, settings, base_url=None, ca_bundle=None, fast_forward_waits=None, on_retry=None, default_headers=Vec::new(), http_proxy=None, metrics=false))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        api_key: Option<String>,
        workspace_id: Option<String>,
        language: String,
        settings: Vec<(String, f64)>,
        base_url: Option<String>,
        ca_bundle: Option<String>,
        fast_forward_waits: Option<bool>,
        on_retry: Option<Py<PyAny>>,
        default_headers: Vec<(String, String)>,
        http_proxy: Option<String>,
        metrics: bool,
    ) -> PyResult<Self> {
        let http = HttpOptions::new(default_headers, http_proxy);
        let tally = metrics.then(postato_bindings::process_tally);
        let given = GivenOptions { base_url, ca_bundle, settings, fast_forward_waits, http, tally };
        let on_retry = on_retry.map(Arc::new);
        let python = (Units::Seconds, (|n| n.python) as postato_bindings::Column);
        let builder = postato_bindings::client_builder(api_key, workspace_id, given, python, &language)
            .map_err(|e| to_py(&e))?
            .on_notice(move |notice: &Notice| log_notice(notice, on_retry.as_deref()));
        let client = {
            let handle = runtime::handle()?;
            let _guard = handle.enter();
            builder.clone().build().map_err(|e| to_py(&proxy_as_python_names_it(e)))?
        };
        Ok(NativeClient { builder, current: Mutex::new((runtime::pid(), client)) })
    }

    /// Publishes synchronously, with the GIL released; `call` holds this publish's own
    /// options (`call_options`; absent ones are the client's).
    #[pyo3(signature = (post_json, call=Vec::new()))]
    fn publish<'py>(&self, py: Python<'py>, post_json: &str, call: Vec<(String, f64)>) -> PyResult<Bound<'py, PyDict>> {
        let options = call_options(call)?;
        let post = parse_for_publish(post_json)?;
        let client = self.client()?;
        let published = runtime::block_on(py, async move { client.publish_with(&post).options(options).await })?
            .map_err(|e| to_py(&e))?;
        published_dict(py, &published, false)
    }

    /// Publishes as a future of `event_loop`; cancelling it cancels the publish.
    #[pyo3(signature = (post_json, event_loop, completions, call=Vec::new()))]
    fn publish_async<'py>(
        &self,
        post_json: &str,
        event_loop: &Bound<'py, PyAny>,
        completions: &Bound<'py, Completions>,
        call: Vec<(String, f64)>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let options = call_options(call)?;
        let post = parse_for_publish(post_json)?;
        let client = self.client()?;
        let work = async move { client.publish_with(&post).options(options).await };
        bridge::spawn(event_loop, completions, work, |py, result| {
            Ok(published_dict(py, &result.map_err(|e| to_py(&e))?, false)?.into_any().unbind())
        })
    }

    /// Publishes many posts synchronously, with the GIL released: one dict or exception per
    /// post, in input order (`None` for a `None` post: one the wrapper could not convert).
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
        let client = self.client()?;
        let results = runtime::block_on(py, async move {
            postato_bindings::publish_many(&client, postato_bindings::parse_many(posts_json), &options).await
        })?
        .map_err(|e| to_py(&e))?;
        many_list(py, &results, sent)
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
        let client = self.client()?;
        let work = async move {
            postato_bindings::publish_many(&client, postato_bindings::parse_many(posts_json), &options).await
        };
        bridge::spawn(event_loop, completions, work, |py, results| {
            Ok(many_list(py, &results.map_err(|e| to_py(&e))?, sent)?.into_any().unbind())
        })
    }

    /// Checks per-call options as `publish` would (`with_options` checks them when given).
    #[staticmethod]
    fn check_call_options(call: Vec<(String, f64)>) -> PyResult<()> {
        call_options(call).map(drop)
    }

    /// Tokens left in the client's shared retry budget (`postato.retry_budget.tokens`).
    fn retry_budget_tokens(&self) -> PyResult<f64> {
        Ok(self.client()?.retry_budget_tokens())
    }

    /// The workspace id.
    #[getter]
    fn workspace_id(&self) -> PyResult<String> {
        Ok(self.client()?.workspace_id().to_owned())
    }

    /// The base URL.
    #[getter]
    fn base_url(&self) -> PyResult<String> {
        Ok(self.client()?.base_url().to_owned())
    }
}
