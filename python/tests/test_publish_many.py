"""publish_many: one entry per post in input order (a failure is the post's entry, never an
exception for the call), the same in asyncio, and its options checked before anything is sent."""

import asyncio
from typing import Any, List

import pytest
from conftest import post_args

import postato
from postato.testing import Simulator


def _check(results: List[Any], keys: List[str], sim: Simulator) -> None:
    assert len(results) == len(keys) + 1
    for i, result in enumerate(results):
        if i == 2:
            assert isinstance(result, postato.PermanentPostError), result
            assert result.status == 400
        elif i == 4:
            assert isinstance(result, postato.InvalidPostError), result
            assert "posts[4]" in str(result)
        else:
            k = keys[i if i < 4 else i - 1]
            assert isinstance(result, postato.Post), result
            assert result.idempotency_key == postato.idempotency_key(k), f"entry {i} is not its post's"
            assert sim.publishes(k) == 1


def _posts(keys: List[str], sim: Simulator) -> List[Any]:
    sim.script(keys[2], [{"action": "respond", "status": 400}])
    posts: List[Any] = [post_args(k) for k in keys]
    posts.insert(4, {"business_key": "x", "platform": "x"})  # missing fields: its own error
    return posts


def test_every_post_gets_its_own_entry_in_input_order(client: postato.Client, sim: Simulator, key: Any) -> None:
    keys = [key("many") for _ in range(10)]
    _check(client.publish_many(_posts(keys, sim), concurrency=3), keys, sim)


def test_the_async_call_gives_the_same_entries(async_client: postato.AsyncClient, sim: Simulator, key: Any) -> None:
    keys = [key("many-async") for _ in range(10)]
    posts = _posts(keys, sim)
    _check(asyncio.run(async_client.publish_many(posts, concurrency=3)), keys, sim)


def test_an_unknown_field_is_that_posts_error(client: postato.Client, key: Any) -> None:
    (result,) = client.publish_many([{**post_args(key("field")), "scheduledAt": "2030-01-01T00:00:00Z"}])
    assert isinstance(result, postato.InvalidPostError)
    assert "scheduledAt" in str(result)


@pytest.mark.parametrize("concurrency", [0, 1025, 2.5, 2**64])
def test_a_concurrency_out_of_bounds_raises_before_anything_is_sent(
    client: postato.Client, sim: Simulator, key: Any, concurrency: Any
) -> None:
    before = sim.stats().requests
    with pytest.raises(postato.InvalidSettingError, match="concurrency"):
        client.publish_many([post_args(key("never"))], concurrency=concurrency)
    assert sim.stats().requests == before


def test_cancelling_the_awaiting_task_stops_the_posts(
    async_client: postato.AsyncClient, sim: Simulator, key: Any
) -> None:
    keys = [key("many-cancel") for _ in range(8)]
    for k in keys:
        sim.script(k, [{"action": "latency", "ms": 400}])
    before = sim.stats().requests

    async def main() -> None:
        task = asyncio.ensure_future(async_client.publish_many([post_args(k) for k in keys], concurrency=2))
        await asyncio.sleep(0.2)  # the first two are at the server
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await asyncio.sleep(1.0)  # any post still going would have been sent by now

    asyncio.run(main())
    # Without the cancel all 8 would be sent; with it, the two in flight at most.
    assert sim.stats().requests - before <= 2
