"""Metrics and spans through the OpenTelemetry API, when the application has it.

postato instruments as libraries do: through ``opentelemetry-api``, which records nothing until
the application installs an SDK (a ``MeterProvider``, a ``TracerProvider``). Without the
package nothing is imported and nothing is recorded.

Metrics are Rust's (``_native.metrics_table_json``): the same names, units and labels as the
Rust client and ``postato batch --metrics``. A client gathers them in Rust as it publishes (no
call into Python per request); they are added to the instruments whenever the application's
metric reader collects (the gauge's callback adds them first, so a collection sees every
publish that returned before it), and once a second besides (a daemon thread), so a long
``publish_many`` shows as it goes. The gauge ``postato.retry_budget.tokens`` is the sum over
the process's clients. Nothing is added on a publish's own path.

Spans, when the application has set a tracer provider: ``postato.publish`` around each publish, ``postato.publish_many`` and
``postato.publish_due`` around those calls, of kind CLIENT (the one span of the remote call
that Python traces get: the per-attempt spans are the Rust client's), under the caller's
current span, with the attributes of the Rust client's publish span: ``postato.business_key``,
``postato.workspace_id``, ``postato.attempts``, ``postato.outcome`` (``published``, the
error's kind, or ``cancelled``) and, on a failure, ``error.type``.

Telemetry never fails a publish: an SDK that raises is logged once on the ``postato`` logger
and the call goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol, Tuple

from . import _native
from .errors import PostatoError

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation

_SCOPE = "postato"
_VERSION = _native.version()
_TABLE: Dict[str, Any] = json.loads(_native.metrics_table_json())
_WAIT_DURATION = next(m for m in _TABLE["metrics"] if m["kind"] == "histogram")
# How often gathered metrics are added while calls run.
_FLUSH_EVERY = 1.0


def _installed() -> bool:
    """Whether the OpenTelemetry API can be imported, without importing it."""
    try:
        return importlib.util.find_spec("opentelemetry.metrics") is not None
    except (ImportError, ValueError):  # no such package, or one blocked in sys.modules
        return False


enabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() != "true" and _installed()
"""Whether the OpenTelemetry API is installed and not switched off (``OTEL_SDK_DISABLED=true``,
as for the SDK and the CLI): only then does a client gather metrics and open spans (the API
is imported when the first client is made)."""

_log = logging.getLogger("postato")
_warned = False


def _warn_once(what: str, error: BaseException) -> None:
    global _warned
    if not _warned:
        _warned = True
        _log.warning("postato: OpenTelemetry %s failed, and is skipped (the publish goes on): %r", what, error)


class _Budget(Protocol):
    """A client's native side, for the gauge: its retry budget's level."""

    def retry_budget_tokens(self) -> float: ...


class _Instruments:
    """A counter and a histogram for each of Rust's, on the ``postato`` meter of ``provider``
    (the application's: made once it has set one, and again if it sets another)."""

    def __init__(self, provider: Any) -> None:
        self.provider = provider
        meter = provider.get_meter(_SCOPE, _VERSION)
        self.labels: Dict[str, Optional[str]] = {}
        self.counters: Dict[str, Any] = {}
        self.histograms: Dict[str, Any] = {}
        for metric in _TABLE["metrics"]:
            name, unit, help_, kind = metric["name"], metric["unit"], metric["help"], metric["kind"]
            self.labels[name] = metric["label"]
            if kind == "counter":
                self.counters[name] = meter.create_counter(name, unit=unit, description=help_)
            elif kind == "histogram":
                try:
                    buckets = _TABLE["waitBuckets"]
                    histogram = meter.create_histogram(
                        name, unit=unit, description=help_, explicit_bucket_boundaries_advisory=buckets
                    )
                except TypeError:  # an API from before bucket advice (< 1.23)
                    histogram = meter.create_histogram(name, unit=unit, description=help_)
                self.histograms[name] = histogram

    def add(self, taken: Dict[str, Any]) -> None:
        for name, value, increase in taken["counts"]:
            label = self.labels.get(name)
            counter = self.counters.get(name)
            if counter is not None:
                counter.add(increase, {label: value} if label and value is not None else None)
        histogram = self.histograms.get(_WAIT_DURATION["name"])
        if histogram is not None:
            label = _WAIT_DURATION["label"]
            for reason, seconds in taken["waits"]:
                histogram.record(seconds, {label: reason})
        if taken["dropped"]:
            _log.warning(
                "postato: %d wait durations were not recorded in %s (more than %d gathered before they were taken)",
                taken["dropped"],
                _WAIT_DURATION["name"],
                len(taken["waits"]),
            )


_instruments: Optional[_Instruments] = None
# The gauge, on the proxy meter: it becomes the application's when it sets a provider.
_gauge: Optional[Any] = None
# The native clients that gather metrics, weakly, for the gauge (their metrics are the
# process's: `_native.take_metrics`).
_gathering: "weakref.WeakSet[Any]" = weakref.WeakSet()
_lock = threading.Lock()
_flusher: Optional[threading.Thread] = None
# A provider that failed to load (`OTEL_PYTHON_METER_PROVIDER`): not tried again.
_no_provider = False


def track(native: _Budget) -> None:
    """Counts ``native`` in the gauge; makes the gauge (once), whose callback adds the
    process's metrics at each collection, and starts the once-a-second flush."""
    global _gauge
    try:
        with _lock:
            _gathering.add(native)
            if _gauge is None:
                from opentelemetry import metrics

                gauge = next(m for m in _TABLE["metrics"] if m["name"] == "postato.retry_budget.tokens")
                _gauge = metrics.get_meter(_SCOPE, _VERSION).create_observable_gauge(
                    gauge["name"], callbacks=[_collected], unit=gauge["unit"], description=gauge["help"]
                )
        _keep_flushing()
    except Exception as error:  # an SDK that raises: no metrics, but the client works
        _warn_once("metrics", error)


def _current_instruments() -> Optional[_Instruments]:
    """The instruments of the application's meter provider; ``None`` until it sets one
    (what gathers until then is kept, and its first collection sees it)."""
    global _instruments, _no_provider
    if _no_provider:
        return None
    from opentelemetry import metrics

    try:
        provider = metrics.get_meter_provider()
    except Exception as error:  # a provider named by the environment that does not load
        _no_provider = True
        _warn_once("metrics", error)
        return None
    if isinstance(provider, metrics.NoOpMeterProvider) or type(provider).__name__ == "_ProxyMeterProvider":
        return None
    if _instruments is None or _instruments.provider is not provider:
        _instruments = _Instruments(provider)
    return _instruments


# Held from a take to the end of its adding: a collection waits for an add in flight, so that
# nothing taken before it reaches its reader after it.
_adding = threading.Lock()


def flush() -> None:
    """Adds what the process's clients gathered since it was last taken to the instruments."""
    try:
        with _adding:
            instruments = _current_instruments()
            if instruments is None:
                return
            taken = _native.take_metrics()
            if taken is not None:
                instruments.add(json.loads(taken))
    except Exception as error:
        _warn_once("metrics", error)


def _run() -> None:
    while True:
        time.sleep(_FLUSH_EVERY)
        flush()


def _keep_flushing() -> None:
    """Starts the flushing thread, unless it runs."""
    global _flusher
    with _lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_run, name="postato-metrics", daemon=True)
            _flusher.start()


def _after_fork_in_child() -> None:
    """The child has none of its parent's threads, and a lock held at the fork stays held (the
    extension forgets what the parent gathered: the parent reports it)."""
    global _flusher, _lock, _adding
    _flusher = None
    _lock = threading.Lock()
    _adding = threading.Lock()
    if _gathering:
        with contextlib.suppress(Exception):
            _keep_flushing()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _collected(_options: "CallbackOptions") -> Iterator["Observation"]:
    """A collection by the application's reader: the process's metrics are added first (the
    SDK collects the other instruments after their callbacks), then the gauge
    ``postato.retry_budget.tokens``: the tokens left in the retry budgets of the process's
    clients, together."""
    from opentelemetry.metrics import Observation

    flush()
    with _lock:
        natives = list(_gathering)
    if natives:
        yield Observation(sum(native.retry_budget_tokens() for native in natives))


def tracing() -> bool:
    """Whether the application has set a tracer provider (spans would otherwise record
    nothing, and are not opened); ``False`` when asking fails."""
    try:
        from opentelemetry import trace

        provider = trace.get_tracer_provider()
        return not isinstance(provider, (trace.ProxyTracerProvider, trace.NoOpTracerProvider))
    except Exception as error:
        _warn_once("tracing", error)
        return False


def _failed(current: Any, kind: str) -> None:
    from opentelemetry.trace import Status, StatusCode

    current.set_attribute("postato.outcome", kind)
    current.set_attribute("error.type", kind)
    current.set_status(Status(StatusCode.ERROR, kind))


# The application's tracer provider, and postato's tracer of it (a provider's get_tracer costs
# about as much as a third of a span: made again only when the application sets another).
_tracer: Tuple[Any, Any] = (None, None)


def _current_tracer() -> Any:
    global _tracer
    from opentelemetry import trace

    provider = trace.get_tracer_provider()
    if _tracer[0] is not provider:
        _tracer = (provider, provider.get_tracer(_SCOPE, _VERSION))
    return _tracer[1]


@contextlib.contextmanager
def span(name: str, attributes: Dict[str, Any]) -> Iterator[Optional[Any]]:
    """A CLIENT span ``name`` around a call, current while it runs (``None`` without the API):
    a ``PostatoError`` sets ``postato.outcome``, ``error.type`` (its kind) and
    ``postato.attempts``, a cancelled task ``cancelled``, and any other exception ``error.type``
    (its class)."""
    try:
        from opentelemetry.trace import SpanKind

        opened = _current_tracer().start_as_current_span(
            name, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False, set_status_on_exception=False
        )
        current = opened.__enter__()
    except Exception as error:  # a tracer that raises: no span, the publish goes on
        _warn_once("tracing", error)
        yield None
        return
    try:
        yield current
    except PostatoError as error:
        with contextlib.suppress(Exception):
            _failed(current, error.kind)
            current.set_attribute("postato.attempts", error.attempts)
        raise
    except (asyncio.CancelledError, KeyboardInterrupt):
        with contextlib.suppress(Exception):
            _failed(current, "cancelled")
        raise
    except BaseException as error:
        with contextlib.suppress(Exception):
            _failed(current, type(error).__qualname__)
            current.set_attribute("postato.outcome", "error")
        raise
    finally:
        try:
            opened.__exit__(None, None, None)
        except Exception as error:
            _warn_once("tracing", error)


def published(current: Optional[Any], attempts: int) -> None:
    """Marks a publish span published after ``attempts`` requests."""
    if current is not None:
        with contextlib.suppress(Exception):
            current.set_attribute("postato.outcome", "published")
            current.set_attribute("postato.attempts", attempts)


def many_done(current: Optional[Any], results: List[Any]) -> None:
    """Marks a ``publish_many`` span with how many of its posts were published and failed."""
    if current is not None:
        published_count = sum(1 for result in results if not isinstance(result, PostatoError))
        with contextlib.suppress(Exception):
            current.set_attribute("postato.published", published_count)
            current.set_attribute("postato.failed", len(results) - published_count)
