"""Metrics and spans through the OpenTelemetry API, read back with the SDK's in-memory reader
and exporter: the same names as Rust's metrics, a span per publish under the caller's."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import subprocess
import sys
import threading
import time
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

import postato
from postato import _native, _telemetry
from postato.testing import Simulator

READER = InMemoryMetricReader()
SPANS = InMemorySpanExporter()
metrics.set_meter_provider(MeterProvider(metric_readers=[READER]))
_tracing = TracerProvider()
_tracing.add_span_processor(SimpleSpanProcessor(SPANS))
trace.set_tracer_provider(_tracing)

Point = Tuple[str, Optional[str]]


def _points() -> Dict[Point, float]:
    """Every postato data point now: counters' sums and histograms' counts, by name and label
    value (cumulative)."""
    points: Dict[Point, float] = {}
    data = READER.get_metrics_data()
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            if scope.scope.name != "postato":
                continue
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    label = next(iter(point.attributes.values()), None) if point.attributes else None
                    # A histogram's count, a counter's sum, a gauge's value.
                    points[(metric.name, label)] = getattr(point, "count", None) or getattr(point, "value", 0)
    return points


def _increase(before: Dict[Point, float]) -> Dict[Point, float]:
    after = _points()
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def _postato_increase(before: Dict[Point, float], *names: str) -> Dict[Point, float]:
    """The increase of the metrics ``names`` only (other tests' clients may record others)."""
    return {k: v for k, v in _increase(before).items() if k[0] in names}


PUBLISH_METRICS = ("postato.attempts", "postato.retries", "postato.waits", "postato.wait.duration", "postato.publishes")


@pytest.fixture
def client(sim: Simulator) -> Iterator[postato.Client]:
    SPANS.clear()
    yield postato.Client(sim.api_key, "ws_py", base_url=sim.base_url, fast_forward_waits=True)


def test_a_publish_records_rust_s_metrics_under_their_names_when_it_returns(
    sim: Simulator, client: postato.Client, key: Any
) -> None:
    k = key("otel-retried")
    sim.script(k, [{"action": "respond", "status": 503}, {"action": "respond", "status": 503}, {"action": "ok"}])
    before = _points()
    assert client.publish(k, "x", "acc_1", "hello").attempts == 3
    assert _postato_increase(before, *PUBLISH_METRICS) == {
        ("postato.attempts", None): 3,
        ("postato.retries", "retryable_status"): 2,
        ("postato.waits", "retryable_status"): 2,
        ("postato.wait.duration", "retryable_status"): 2,
        ("postato.publishes", "published"): 1,
    }
    failed = key("otel-permanent")
    sim.script(failed, [{"action": "respond", "status": 400}])
    before = _points()
    with pytest.raises(postato.PermanentPostError):
        client.publish(failed, "x", "acc_1", "hello")
    assert _postato_increase(before, *PUBLISH_METRICS) == {
        ("postato.attempts", None): 1,
        ("postato.publishes", "permanent"): 1,
    }


def test_every_metric_is_rust_s_and_the_retry_budget_is_a_gauge(client: postato.Client) -> None:
    table = json.loads(_native.metrics_table_json())["metrics"]
    assert {m["name"] for m in table} == {
        "postato.attempts",
        "postato.retries",
        "postato.waits",
        "postato.wait.duration",
        "postato.publishes",
        "postato.dead_letters",
        "postato.retry_budget.tokens",
    }
    assert _points()[("postato.retry_budget.tokens", None)] > 0


def test_a_dead_letter_is_counted_by_kind(sim: Simulator, client: postato.Client, key: Any) -> None:
    publisher = postato.Publisher(client)
    k = key("otel-dead")
    sim.script(k, [{"action": "respond", "status": 422}])
    before = _points()
    with pytest.raises(postato.PermanentPostError):
        publisher.publish(k, "x", "acc_1", "hello")
    assert _increase(before)[("postato.dead_letters", "permanent")] == 1


def test_each_publish_is_a_client_span_under_the_caller_s(sim: Simulator, client: postato.Client, key: Any) -> None:
    k, failed = key("otel-span"), key("otel-span-failed")
    sim.script(k, [{"action": "respond", "status": 503}, {"action": "ok"}])
    sim.script(failed, [{"action": "respond", "status": 400}])
    with trace.get_tracer("app").start_as_current_span("campaign") as parent:
        client.publish(k, "x", "acc_1", "hello")
        with pytest.raises(postato.PermanentPostError):
            client.publish(failed, "x", "acc_1", "hello")
        client.publish_many([{"business_key": key("otel-many"), "platform": "x", "account_id": "a", "content": "c"}])
    spans = {
        span.name + ":" + str(span.attributes.get("postato.business_key")): span for span in SPANS.get_finished_spans()
    }
    published = spans[f"postato.publish:{k}"]
    assert published.kind == trace.SpanKind.CLIENT
    assert published.parent is not None and published.parent.span_id == parent.get_span_context().span_id
    assert dict(published.attributes or {}) == {
        "postato.workspace_id": "ws_py",
        "postato.business_key": k,
        "postato.outcome": "published",
        "postato.attempts": 2,
    }
    refused = spans[f"postato.publish:{failed}"]
    assert refused.status.status_code == StatusCode.ERROR
    assert (refused.attributes["postato.outcome"], refused.attributes["postato.attempts"]) == ("permanent", 1)
    many = spans["postato.publish_many:None"]
    assert (
        many.attributes["postato.posts"],
        many.attributes["postato.published"],
        many.attributes["postato.failed"],
    ) == (
        1,
        1,
        0,
    )
    assert not any("sk_" in json.dumps(dict(span.attributes)) for span in SPANS.get_finished_spans())


def test_metrics_of_a_call_still_running_are_recorded_within_seconds_even_by_a_copy(
    sim: Simulator, key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The attempt hangs for 60 s: only the once-a-second flush can record it while it runs.
    # The client is a with_options copy whose original is gone.
    client = postato.AsyncClient(sim.api_key, "ws_py", base_url=sim.base_url).with_options(timeout=120.0)
    gc.collect()
    k = key("otel-live")
    sim.script(k, [{"action": "hang", "ms": 60_000}])
    SPANS.clear()

    async def main() -> bool:
        before = _points()
        task = asyncio.ensure_future(client.publish(k, "x", "acc_1", "hello"))
        try:
            for _ in range(300):  # up to 30 s; the flush comes within about a second
                await asyncio.sleep(0.1)
                if _increase(before).get(("postato.attempts", None)) == 1:
                    return not task.done()
            return False
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    assert asyncio.run(main()), "the attempt was recorded while the publish ran"
    # The once-a-second flush adds what gathers with no collection asking, on its own thread.
    added_by: List[str] = []
    add = _telemetry._Instruments.add

    def spy(self: Any, taken: Dict[str, Any]) -> None:
        added_by.append(threading.current_thread().name)
        add(self, taken)

    monkeypatch.setattr(_telemetry._Instruments, "add", spy)
    postato.Client(sim.api_key, "ws_py", base_url=sim.base_url).publish(key("otel-flushed"), "x", "acc_1", "hello")
    for _ in range(50):  # up to 5 s; the flush comes within about a second
        if "postato-metrics" in added_by:
            break
        time.sleep(0.1)
    assert "postato-metrics" in added_by, added_by
    [cancelled] = [s for s in SPANS.get_finished_spans() if (s.attributes or {}).get("postato.business_key") == k]
    attributes = cancelled.attributes or {}
    assert (attributes["postato.outcome"], attributes["error.type"]) == ("cancelled", "cancelled")


def test_an_sdk_that_raises_never_fails_a_publish(
    sim: Simulator, client: postato.Client, key: Any, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a broken exporter")

    monkeypatch.setattr(_telemetry, "_warned", False)
    monkeypatch.setattr(_telemetry._Instruments, "add", broken)
    monkeypatch.setattr(trace.get_tracer_provider(), "get_tracer", broken)
    monkeypatch.setattr(_telemetry, "_tracer", (None, None))
    k = key("otel-broken")
    sim.script(k, [{"action": "respond", "status": 503}, {"action": "ok"}])
    assert client.publish(k, "x", "acc_1", "hello").attempts == 2
    with pytest.raises(postato.PermanentPostError):
        refused = key("otel-broken-refused")
        sim.script(refused, [{"action": "respond", "status": 400}])
        client.publish(refused, "x", "acc_1", "hello")
    warnings = [r for r in caplog.records if "OpenTelemetry" in r.getMessage()]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]


def test_without_opentelemetry_or_with_it_switched_off_nothing_is_imported_or_recorded(
    sim: Simulator, key: Any
) -> None:
    script = f"""
import sys
sys.modules["opentelemetry"] = None  # as if it were not installed
import postato
from postato import _telemetry
client = postato.Client({sim.api_key!r}, "ws_py", base_url={sim.base_url!r})
assert client.publish(sys.argv[1], "x", "acc_1", "hello").attempts == 1
assert not _telemetry.enabled and postato._native.take_metrics() is None
assert not [m for m, v in sys.modules.items() if m.startswith("opentelemetry") and v is not None], "imported"
print("ok")
"""
    run = subprocess.run([sys.executable, "-c", script, key("otel-absent")], capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "ok", run.stderr
    # Installed but switched off, as for the SDK: the same.
    switched_off = script.replace('sys.modules["opentelemetry"] = None  # as if it were not installed', "")
    env = {**os.environ, "OTEL_SDK_DISABLED": "true"}
    command = [sys.executable, "-c", switched_off, key("otel-off")]
    run = subprocess.run(command, capture_output=True, text=True, timeout=60, env=env)
    assert run.stdout.strip() == "ok", run.stderr
