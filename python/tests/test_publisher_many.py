"""Store-backed batches: ``Publisher.publish_many`` and ``AsyncPublisher``, with the guarantees
of ``postato batch`` (one implementation in Rust under both)."""

import asyncio
import threading
import time
from typing import Any, List, Union

import pytest
from conftest import post_args

import postato
from postato.testing import Simulator


def _client(sim: Simulator) -> postato.Client:
    return postato.Client(
        api_key=sim.api_key, workspace_id="ws_py", base_url=sim.base_url, fast_forward_waits=True, timeout=5.0
    )


def _kinds(results: List[Union[postato.Post, postato.PostatoError]]) -> List[str]:
    return ["published" if isinstance(r, postato.Post) else r.kind for r in results]


def test_each_post_has_its_outcome_in_order_and_in_the_store(sim: Simulator, key: Any, tmp_path: Any) -> None:
    store = postato.SqliteStore(tmp_path / "batch.db")
    publisher = postato.Publisher(_client(sim), store)
    keys = [key("batch") for _ in range(5)]
    sim.script(keys[1], [{"action": "respond", "status": 422}])
    posts: List[Any] = [post_args(k) for k in keys]
    posts[3] = {**post_args(keys[3]), "platform": ""}
    results = publisher.publish_many(posts, concurrency=2)
    assert _kinds(results) == ["published", "permanent", "published", "invalid_input", "published"]
    for index in (0, 2, 4):
        post = results[index]
        assert isinstance(post, postato.Post) and not post.from_store
        assert post.idempotency_key == postato.idempotency_key(keys[index])
    counts = store.counts()
    assert (counts.published, counts.dead_letters) == (3, 1)
    assert [(d.business_key, d.kind) for d in store.dead_letters()] == [(keys[1], "permanent")]


def test_running_it_again_resumes_and_sends_nothing_for_what_was_published(
    sim: Simulator, key: Any, tmp_path: Any
) -> None:
    path = tmp_path / "resume.db"
    keys = [key("resume") for _ in range(6)]
    first = postato.Publisher(_client(sim), postato.SqliteStore(path))
    first.publish_many([post_args(k) for k in keys[:3]])
    before = sim.stats().requests
    # Another process, the whole batch: the first three come from the store.
    again = postato.Publisher(_client(sim), postato.SqliteStore(path))
    results = again.publish_many([post_args(k) for k in keys])
    assert [isinstance(r, postato.Post) and r.from_store for r in results] == [True] * 3 + [False] * 3
    assert sim.stats().requests == before + 3
    assert all(sim.publishes(k) == 1 for k in keys)


def test_the_first_post_of_a_business_key_wins(sim: Simulator, key: Any) -> None:
    publisher = postato.Publisher(_client(sim), postato.MemoryStore())
    same, edited = key("same"), key("edited")
    before = sim.stats().requests
    results = publisher.publish_many(
        [post_args(same), post_args(edited), post_args(same), post_args(edited, content="edited")]
    )
    assert _kinds(results) == ["published", "published", "published", "business_key_reused"]
    first, repeat = results[0], results[2]
    assert isinstance(first, postato.Post) and isinstance(repeat, postato.Post)
    assert (repeat.id, repeat.from_store, first.from_store) == (first.id, True, False)
    assert sim.stats().requests == before + 2
    assert isinstance(results[3], postato.BusinessKeyReusedError)


def test_a_spent_accounts_posts_are_deferred_and_the_rest_published(key: Any) -> None:
    with Simulator(spent_accounts={"x/acc_spent": 60}) as spent:
        client = postato.Client(
            api_key=spent.api_key, workspace_id="ws_py", base_url=spent.base_url, max_retry_after=0.2
        )
        publisher = postato.Publisher(client, postato.MemoryStore())
        posts = [{**post_args(key("spent")), "account_id": "acc_spent" if i % 2 else "acc_1"} for i in range(4)]
        results = publisher.publish_many(posts, concurrency=2)
        assert _kinds(results) == ["published", "deferred"] * 2
        deferred = results[1]
        assert isinstance(deferred, postato.DeferredError) and deferred.retry_at is not None
        counts = publisher.store.counts()
        assert (counts.published, counts.deferred, counts.dead_letters) == (2, 2, 0)


def test_two_threads_on_one_store_publish_each_post_once(sim: Simulator, key: Any, tmp_path: Any) -> None:
    path = tmp_path / "shared.db"
    keys = [key("shared") for _ in range(30)]
    for k in keys:
        sim.script(k, [{"action": "latency", "ms": 20}])
    posts = [post_args(k) for k in keys]
    outcomes: List[List[Union[postato.Post, postato.PostatoError]]] = []
    before = sim.stats().requests

    def run() -> None:
        outcomes.append(postato.Publisher(_client(sim), postato.SqliteStore(path)).publish_many(posts, concurrency=8))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a, b = outcomes
    assert [p.id for p in a if isinstance(p, postato.Post)] == [p.id for p in b if isinstance(p, postato.Post)]
    assert len([p for p in a if isinstance(p, postato.Post)]) == 30
    # One worker sent each post and the other found it in the store: each was sent once.
    assert all(
        x.from_store != y.from_store
        for x, y in zip(a, b)
        if isinstance(x, postato.Post) and isinstance(y, postato.Post)
    )
    assert sim.stats().requests - before == 30


def test_invalid_options_raise_before_anything_is_sent(sim: Simulator, key: Any) -> None:
    publisher = postato.Publisher(_client(sim), postato.MemoryStore())
    before = sim.stats().requests
    with pytest.raises(postato.InvalidSettingError, match="concurrency"):
        publisher.publish_many([post_args(key("never"))], concurrency=0)
    with pytest.raises(postato.InvalidSettingError, match="timeout"):
        publisher.publish_many([post_args(key("never"))], timeout=-1)
    assert sim.stats().requests == before


def test_the_async_publisher(sim: Simulator, key: Any) -> None:
    async def run() -> None:
        client = postato.AsyncClient(
            api_key=sim.api_key, workspace_id="ws_py", base_url=sim.base_url, fast_forward_waits=True
        )
        publisher = postato.AsyncPublisher(client, postato.MemoryStore())
        assert repr(publisher).startswith("AsyncPublisher(AsyncClient(")
        one = key("async-one")
        post = await publisher.publish(**post_args(one))
        assert not post.from_store
        keys = [one] + [key("async-many") for _ in range(3)]
        results = await publisher.publish_many([post_args(k) for k in keys], concurrency=2)
        assert [isinstance(r, postato.Post) and r.from_store for r in results] == [True, False, False, False]
        report = await publisher.publish_due()
        assert (report.published, report.deferred) == (0, 0)
        assert all(sim.publishes(k) == 1 for k in keys)

    asyncio.run(run())


def test_cancelling_the_async_batch_sends_nothing_more_and_a_later_run_finishes_it(
    sim: Simulator, key: Any, tmp_path: Any
) -> None:
    path = tmp_path / "cancel.db"
    keys = [key("cancel") for _ in range(8)]
    for k in keys:
        sim.script(k, [{"action": "slowCommit", "ms": 400}])
    before = sim.stats().requests

    async def first_run() -> None:
        publisher = postato.AsyncPublisher(_client(sim), postato.SqliteStore(path))
        batch = asyncio.ensure_future(publisher.publish_many([post_args(k) for k in keys], concurrency=2))
        deadline = time.monotonic() + 10
        while sim.stats().requests - before < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.005)
        batch.cancel()
        with pytest.raises(asyncio.CancelledError):
            await batch

    asyncio.run(first_run())
    time.sleep(0.2)
    assert sim.stats().requests - before == 2, "two in flight when cancelled, none after"
    # No claim is left behind, and a later run finishes the batch: with real waits, it retries
    # the 409s the server answers while it finishes the commits it began.
    waits = postato.Client(api_key=sim.api_key, workspace_id="ws_py", base_url=sim.base_url)
    results = postato.Publisher(waits, postato.SqliteStore(path)).publish_many([post_args(k) for k in keys])
    assert all(isinstance(r, postato.Post) for r in results), results
    assert all(sim.publishes(k) == 1 for k in keys)
