"""Publishes/s of the Python Client (64 threads) and AsyncClient (64 tasks) with telemetry as
MODE says: `off` (the harness sets OTEL_SDK_DISABLED=true: nothing loaded), `api` (the
OpenTelemetry API installed, no SDK: what most applications have), `sdk` (the SDK's metrics,
read every second into an exporter that drops them, and spans through a batch processor into
one that drops them). Prints JSON lines {name, perSecond}.
Usage: bench_telemetry.py BASE_URL API_KEY N MODE"""
import asyncio
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import postato

BASE, KEY, N, MODE = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
CONCURRENCY = 64

if MODE == "sdk":
    from opentelemetry import metrics, trace
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Dropping(SpanExporter):
        def export(self, spans):  # type: ignore[no-untyped-def]
            return SpanExportResult.SUCCESS

    devnull = open(os.devnull, "w")  # noqa: SIM115 (open for the process's life)
    reader = PeriodicExportingMetricReader(ConsoleMetricExporter(out=devnull), export_interval_millis=1000)
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    tracing = TracerProvider()
    tracing.add_span_processor(BatchSpanProcessor(Dropping()))
    trace.set_tracer_provider(tracing)


def report(name: str, seconds: float) -> None:
    print(json.dumps({"name": name, "perSecond": N / seconds}), flush=True)


def post(prefix: str, i: int) -> dict:
    return {"business_key": f"{prefix}-{i}", "platform": "x", "account_id": "acc_1", "content": f"benchmark post {i}"}


def threads() -> None:
    client = postato.Client(api_key=KEY, workspace_id="ws_bench", base_url=BASE)
    with ThreadPoolExecutor(CONCURRENCY) as pool:
        started = time.perf_counter()
        list(pool.map(lambda i: client.publish(**post(f"py-otel-{MODE}-{os.getpid()}", i)), range(N)))
        report("threads", time.perf_counter() - started)


async def with_asyncio() -> None:
    gate = asyncio.Semaphore(CONCURRENCY)
    client = postato.AsyncClient(api_key=KEY, workspace_id="ws_bench", base_url=BASE)

    async def ours(i: int) -> None:
        async with gate:
            await client.publish(**post(f"py-otel-async-{MODE}-{os.getpid()}", i))

    started = time.perf_counter()
    await asyncio.gather(*(ours(i) for i in range(N)))
    report("asyncio", time.perf_counter() - started)


threads()
asyncio.run(with_asyncio())
