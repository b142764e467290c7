"""The reference page's three test cases."""

from typing import Any

from conftest import post_args

from postato import Client, Publisher, SqliteStore
from postato.testing import Simulator


def test_normal_publish_returns_202_and_is_stored(client: Client, sim: Simulator, key: Any, tmp_path: Any) -> None:
    publisher = Publisher(client, store=SqliteStore(str(tmp_path / "posts.db")))
    k = key()
    post = publisher.publish(**post_args(k))
    assert (post.attempts, post.status, post.from_store) == (1, "published", False)
    assert publisher.store.published_id(k) == post.id
    assert sim.publishes(k) == 1


def test_500_twice_then_202_is_stored_once(client: Client, sim: Simulator, key: Any, tmp_path: Any) -> None:
    k = key()
    sim.script(k, [{"action": "respond", "status": 500}, {"action": "respond", "status": 500}, {"action": "ok"}])
    publisher = Publisher(client, store=SqliteStore(str(tmp_path / "posts.db")))
    post = publisher.publish(**post_args(k))
    assert post.attempts == 3
    assert publisher.store.counts().published == 1
    assert sim.publishes(k) == 1


def test_the_same_post_twice_gets_the_same_answer(client: Client, sim: Simulator, key: Any) -> None:
    k = key()
    first = client.publish(**post_args(k))
    second = client.publish(**post_args(k))
    assert (first.id, first.status) == (second.id, second.status)
    assert not first.replayed and second.replayed
    assert sim.publishes(k) == 1
