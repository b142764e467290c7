"""Metrics and spans through the OpenTelemetry API, when the application has it.

postato instruments as libraries do: through ``opentelemetry-api``, which records nothing until
the application installs an SDK (a ``MeterProvider``, a ``TracerProvider``). Without the
package nothing is imported and nothing is recorded.

Metrics are Rust's (``_native.metrics_table_json``): the same names, units and labels as the
Rust client and ``postato batch --metrics``. A client gathers them in Rust as it publishes (no
call into Python per request); they are added to the instruments when each call returns, and
once a second while calls run (a daemon thread), so a long ``publish_many`` shows as it goes.

Spans: ``postato.publish`` around each publish and ``postato.publish_many`` around each
``publish_many``, of kind CLIENT, under the caller's current span, with the attributes of the
Rust client's publish span (``postato.business_key``, ``postato.workspace_id``,
``postato.attempts``, ``postato.outcome``: ``published`` or the error's kind).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
import weakref
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Protocol

from . import _native
from .errors import PostatoError

try:
    from opentelemetry import metrics as _metrics
    from opentelemetry import trace as _trace
except ImportError:  # the application does not use OpenTelemetry
    _metrics = None  # type: ignore[assignment]
    _trace = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from opentelemetry.metrics import CallbackOptions, Observation

_SCOPE = "postato"
_VERSION = _native.version()
_TABLE: Dict[str, Any] = json.loads(_native.metrics_table_json())
# How often gathered metrics are added while calls run.
_FLUSH_EVERY = 1.0

enabled = _metrics is not None
"""Whether the OpenTelemetry API is installed: only then does a client gather metrics."""


class _Gathering(Protocol):
    """What a client's native side offers: the metrics gathered since the last take, its
    retry budget's level."""

    def take_metrics(self) -> Optional[str]: ...
    def retry_budget_tokens(self) -> float: ...


class _Instruments:
    """An instrument for each of Rust's metrics, on the global meter provider's ``postato``
    meter (a proxy until the application sets a provider, then its)."""

    def __init__(self) -> None:
        assert _metrics is not None
        meter = _metrics.get_meter(_SCOPE, _VERSION)
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
            else:
                meter.create_observable_gauge(name, callbacks=[_observe_budgets], unit=unit, description=help_)

    def add(self, taken: Dict[str, Any]) -> None:
        for name, value, increase in taken["counts"]:
            label = self.labels.get(name)
            counter = self.counters.get(name)
            if counter is not None:
                counter.add(increase, {label: value} if label and value is not None else None)
        [(histogram_name, histogram)] = self.histograms.items()
        label = self.labels[histogram_name] or "reason"
        for reason, seconds in taken["waits"]:
            histogram.record(seconds, {label: reason})
        if taken["dropped"]:
            logging.getLogger("postato").warning(
                "postato: %d wait durations were not recorded in %s (more than %d gathered between two flushes)",
                taken["dropped"],
                histogram_name,
                len(taken["waits"]),
            )


_instruments: Optional[_Instruments] = None
# The clients that gather metrics, by the id of their native side (copies from with_options
# share one).
_gathering: "weakref.WeakValueDictionary[int, Any]" = weakref.WeakValueDictionary()
_lock = threading.Lock()
_flusher: Optional[threading.Thread] = None


def track(owner: Any, native: _Gathering) -> None:
    """Makes the instruments (once) and adds ``owner``'s metrics to them from now on: when its
    calls return (``flush``) and once a second. ``owner`` is the Python client, kept weakly."""
    global _instruments
    with _lock:
        if _instruments is None:
            _instruments = _Instruments()
        _gathering[id(native)] = owner
    _keep_flushing()


def flush(native: _Gathering) -> None:
    """Adds what ``native`` gathered since it was last taken to the instruments."""
    taken = native.take_metrics()
    if taken is not None and _instruments is not None:
        _instruments.add(json.loads(taken))


def _flush_all() -> None:
    for owner in list(_gathering.values()):
        with contextlib.suppress(Exception):  # a client being collected; the next pass skips it
            flush(owner._native)


def _run() -> None:
    while True:
        time.sleep(_FLUSH_EVERY)
        _flush_all()


def _keep_flushing() -> None:
    """Starts the flushing thread, unless it runs (a fork's child has none of its parent's)."""
    global _flusher
    with _lock:
        if _flusher is None or not _flusher.is_alive():
            _flusher = threading.Thread(target=_run, name="postato-metrics", daemon=True)
            _flusher.start()


def _forget_flusher() -> None:
    global _flusher
    _flusher = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_flusher)


def _observe_budgets(_options: "CallbackOptions") -> Iterator["Observation"]:
    """The gauge ``postato.retry_budget.tokens``: the tokens left in the retry budgets of the
    process's clients, together."""
    from opentelemetry.metrics import Observation

    owners = list(_gathering.values())
    if owners:
        yield Observation(sum(owner._native.retry_budget_tokens() for owner in owners))


@contextlib.contextmanager
def span(name: str, attributes: Dict[str, Any]) -> Iterator[Optional[Any]]:
    """A CLIENT span ``name`` around a call, current while it runs; ``None`` without the
    API. A ``PostatoError`` sets ``postato.outcome`` and ``postato.attempts`` and marks the
    span failed; any other exception marks it failed with its type."""
    if _trace is None:
        yield None
        return
    from opentelemetry.trace import SpanKind, Status, StatusCode

    tracer = _trace.get_tracer(_SCOPE, _VERSION)
    with tracer.start_as_current_span(
        name, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False, set_status_on_exception=False
    ) as current:
        try:
            yield current
        except PostatoError as error:
            current.set_attribute("postato.outcome", error.kind)
            current.set_attribute("postato.attempts", error.attempts)
            current.set_status(Status(StatusCode.ERROR, error.kind))
            raise
        except BaseException as error:
            current.set_attribute("error.type", type(error).__qualname__)
            current.set_status(Status(StatusCode.ERROR, type(error).__qualname__))
            raise


def published(current: Optional[Any], attempts: int) -> None:
    """Marks a publish span published after ``attempts`` requests."""
    if current is not None:
        current.set_attribute("postato.outcome", "published")
        current.set_attribute("postato.attempts", attempts)


def many_done(current: Optional[Any], results: List[Any]) -> None:
    """Marks a ``publish_many`` span with how many of its posts were published and failed."""
    if current is not None:
        published_count = sum(1 for result in results if not isinstance(result, PostatoError))
        current.set_attribute("postato.published", published_count)
        current.set_attribute("postato.failed", len(results) - published_count)
