"""The Publisher with stores: skip, guard, dead letters, two clients on one SQLite file."""

from typing import Any

import pytest
from conftest import post_args

import postato
from postato.testing import Simulator


def _client(sim: Simulator) -> postato.Client:
    return postato.Client(api_key=sim.api_key, workspace_id="ws_py", base_url=sim.base_url, fast_forward_waits=True)


def test_sqlite_across_two_client_instances_skips_what_was_published(sim: Simulator, key: Any, tmp_path: Any) -> None:
    path = str(tmp_path / "shared.db")
    keys = [key("shared") for _ in range(3)]
    first = postato.Publisher(_client(sim), store=postato.SqliteStore(path))
    ids = [first.publish(**post_args(k)).id for k in keys]
    before = sim.stats().requests
    second = postato.Publisher(_client(sim), store=postato.SqliteStore(path))
    posts = [second.publish(**post_args(k)) for k in keys]
    assert [p.id for p in posts] == ids
    assert all(p.from_store and p.attempts == 0 for p in posts)
    assert sim.stats().requests == before


def test_edited_content_under_the_same_business_key_is_refused(sim: Simulator, key: Any) -> None:
    publisher = postato.Publisher(_client(sim), store=postato.MemoryStore())
    k = key("edit")
    publisher.publish(**post_args(k))
    with pytest.raises(postato.BusinessKeyReusedError) as raised:
        publisher.publish(**post_args(k, content="edited"))
    assert raised.value.kind == "business_key_reused"
    assert sim.publishes(k) == 1


def test_failures_are_dead_lettered_with_their_reason(sim: Simulator, key: Any) -> None:
    store = postato.MemoryStore()
    publisher = postato.Publisher(_client(sim), store=store)
    k = key("dead")
    sim.script(k, [{"action": "respond", "status": 400, "body": {"error": {"code": "bad", "message": "no"}}}])
    with pytest.raises(postato.PermanentPostError) as raised:
        publisher.publish(**post_args(k))
    assert (raised.value.status, raised.value.attempts) == (400, 1)
    assert raised.value.body == {"error": {"code": "bad", "message": "no"}}
    letters = store.dead_letters()
    assert [(d.business_key, d.kind, d.status) for d in letters] == [(k, "permanent", 400)]
    assert store.counts() == postato.StoreCounts(0, 1, {"permanent": 1})


def test_the_async_publisher_path(sim: Simulator, key: Any) -> None:
    import asyncio

    client = postato.AsyncClient(api_key=sim.api_key, workspace_id="ws_py", base_url=sim.base_url)
    publisher = postato.Publisher(client)
    k = key("apub")
    first = asyncio.run(publisher.publish_async(**post_args(k)))
    again = asyncio.run(publisher.publish_async(**post_args(k)))
    assert (again.id, again.from_store) == (first.id, True)
