"""Threads publish in parallel (the GIL is released); asyncio publishes concurrently; a
cancelled task cancels its publish."""

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import pytest
from conftest import post_args

import postato
from postato.testing import Simulator


def test_64_threads_publish_concurrently(client: postato.Client, sim: Simulator, key: Any) -> None:
    keys = [key("thread") for _ in range(64)]
    # Each publish takes 100 ms on the server: serialised by a GIL this would take 6.4 s.
    for k in keys:
        sim.script(k, [{"action": "latency", "ms": 100}])
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        posts = list(pool.map(lambda k: client.publish(**post_args(k)), keys))
    elapsed = time.monotonic() - started
    assert len({p.id for p in posts}) == 64
    assert all(sim.publishes(k) == 1 for k in keys)
    assert elapsed < 3.0, f"threads did not run in parallel: {elapsed:.2f} s"


def test_200_concurrent_asyncio_publishes(async_client: postato.AsyncClient, sim: Simulator, key: Any) -> None:
    keys = [key("async") for _ in range(200)]

    async def main() -> list:
        return await asyncio.gather(*(async_client.publish(**post_args(k)) for k in keys))

    posts = asyncio.run(main())
    assert len({p.id for p in posts}) == 200
    assert sim.stats().duplicate_keys == []


async def _until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Waits (polling) until ``condition()`` holds; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out after {timeout} s"
        await asyncio.sleep(0.005)


def test_cancelling_the_task_cancels_the_publish(async_client: postato.AsyncClient, sim: Simulator, key: Any) -> None:
    k = key("cancel")
    # The first request hangs 0.5 s, then the server closes the connection. The client fixture
    # fast-forwards its backoff, so a retry that survived the cancel would arrive as soon as the
    # hang ends and publish ("ok"); the checks run 2 s after the cancel, well past that moment.
    sim.script(k, [{"action": "hang", "ms": 500}, {"action": "ok"}])
    before = sim.stats().requests

    async def main() -> None:
        task = asyncio.ensure_future(async_client.publish(**post_args(k)))
        await _until(lambda: sim.stats().requests > before)  # the first request hangs at the server
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(2.0)

    asyncio.run(main())
    assert sim.stats().requests == before + 1, "exactly one request: nothing was retried after the cancel"
    assert sim.publishes(k) == 0


def test_a_sync_publish_in_a_thread_does_not_block_other_threads(
    client: postato.Client, sim: Simulator, key: Any
) -> None:
    k = key("slow")
    sim.script(k, [{"action": "latency", "ms": 500}])
    ticks = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.01)

    thread = threading.Thread(target=ticker)
    thread.start()
    client.publish(**post_args(k))
    stop.set()
    thread.join()
    assert len(ticks) > 20, "the GIL was released during the publish"
