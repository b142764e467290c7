"""PostgresStore: many clients share one campaign's results (needs POSTATO_TEST_POSTGRES_URL)."""

import os
from typing import Any

import pytest
from conftest import post_args

import postato
from postato.testing import Simulator

URL = os.environ.get("POSTATO_TEST_POSTGRES_URL")
if URL is None and os.environ.get("CI"):
    raise RuntimeError("POSTATO_TEST_POSTGRES_URL is not set: CI must start PostgreSQL (scripts/postgres.sh)")
pytestmark = pytest.mark.skipif(URL is None, reason="set POSTATO_TEST_POSTGRES_URL (./scripts/postgres.sh)")


def test_two_publishers_share_results_through_postgres(sim: Simulator, key: Any) -> None:
    assert URL is not None
    client = postato.Client(api_key=sim.api_key, workspace_id="ws_py", base_url=sim.base_url, fast_forward_waits=True)
    first = postato.Publisher(client, store=postato.PostgresStore(URL))
    second = postato.Publisher(client, store=postato.PostgresStore(URL, pool_size=2))
    k = key("pg")
    post = first.publish(**post_args(k))
    again = second.publish(**post_args(k))
    assert (again.id, again.from_store) == (post.id, True)
    assert second.store.published_id(k) == post.id
    assert sim.publishes(k) == 1


def test_the_password_is_not_in_the_repr() -> None:
    store = postato.PostgresStore("postgres://postato:hunter2@127.0.0.1:1/db")
    assert "hunter2" not in repr(store)
    with pytest.raises(postato.InvalidSettingError):
        postato.PostgresStore("mysql://nope")
