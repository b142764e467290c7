"""The Publisher with stores: skip, guard, dead letters, two clients on one SQLite file."""

import os
import sqlite3
import subprocess
import sys
import threading
import time
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


def test_opening_a_locked_sqlite_store_lets_other_threads_run(tmp_path: Any) -> None:
    # Opening switches the file to WAL, which waits (up to the busy timeout) while another
    # process holds the lock; the GIL must be released meanwhile. (A process, not a thread:
    # SQLite's file locks do not exclude connections of one process.)
    path = str(tmp_path / "locked.db")
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
            # One of a store's own tables (another program's would be refused).
            "c.execute('CREATE TABLE intents (business_key TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, "
            "first_sent_at_ms INTEGER NOT NULL)'); c.execute('BEGIN EXCLUSIVE'); "
            "print('locked', flush=True); time.sleep(1.0); c.execute('ROLLBACK')",
            path,
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    opened = threading.Event()

    def open_store() -> None:
        postato.SqliteStore(path)
        opened.set()

    opener = threading.Thread(target=open_store)
    started = time.monotonic()
    opener.start()
    ticks = 0
    while time.monotonic() < started + 0.5:
        ticks += 1
        time.sleep(0.01)
    assert not opened.is_set(), "the store waited for the lock"
    opener.join(15)
    holder.wait(15)
    assert opened.is_set(), "the store opened once the lock was released"
    assert ticks > 10, f"the main thread ran only {ticks} times while the store was opening"


def test_an_outcome_unknown_post_is_not_sent_until_forced(sim: Simulator, key: Any, tmp_path: Any) -> None:
    # A crash between the send and the record, three days ago (longer than the server keeps
    # idempotency keys): the store holds the intent, no outcome.
    path = str(tmp_path / "unknown.db")
    store = postato.SqliteStore(path)
    k = key("unknown")
    db = sqlite3.connect(path)
    db.execute("INSERT INTO intents VALUES (?, 'fingerprint', ?)", (k, int((time.time() - 3 * 86_400) * 1000)))
    db.commit()
    db.close()
    publisher = postato.Publisher(_client(sim), store=store)
    with pytest.raises(postato.OutcomeUnknownError) as raised:
        publisher.publish(**post_args(k))
    assert raised.value.kind == "outcome_unknown"
    assert "--force" in str(raised.value)
    assert sim.publishes(k) == 0
    assert [letter.kind for letter in store.dead_letters()] == ["outcome_unknown"]
    post = publisher.publish(**post_args(k), force=True)
    assert sim.publishes(k) == 1
    assert store.published_id(k) == post.id


def test_the_key_retention_is_a_setting_checked_up_front(sim: Simulator) -> None:
    with pytest.raises(postato.InvalidSettingError) as raised:
        postato.Publisher(_client(sim), store=postato.MemoryStore(), key_retention=-1)
    assert raised.value.field == "keyRetention"
    postato.Publisher(_client(sim), store=postato.MemoryStore(), key_retention=3600)


def test_the_kits_per_account_limits_are_kept_per_account_in_their_units(key: Any) -> None:
    # One request per account per hour, then one request per account per 1,000 s: an
    # account's second post is refused with the wait its limit gives (seconds, not ms), and
    # another account's post still publishes.
    for limits, least in (({"account_quota": (1, 3600)}, 3000.0), ({"account_rate_limit": (0.001, 1)}, 900.0)):
        with Simulator(**limits) as limited:  # type: ignore[arg-type]
            client = postato.Client(api_key=limited.api_key, workspace_id="ws_py", base_url=limited.base_url)
            client.publish(key("kit"), "x", "acc_1", "first")
            with pytest.raises(postato.RateLimitedError) as caught:
                client.publish(key("kit"), "x", "acc_1", "second")
            assert caught.value.retry_after is not None and caught.value.retry_after > least, limits
            client.publish(key("kit"), "x", "acc_2", "another account")
            assert limited.stats().published_keys == 2


def test_a_spent_accounts_post_is_deferred_then_published_once_due(key: Any, tmp_path: Any) -> None:
    with Simulator(spent_accounts={"x/acc_spent": 4}) as spent:
        client = postato.Client(
            api_key=spent.api_key, workspace_id="ws_py", base_url=spent.base_url, max_retry_after=0.5
        )
        publisher = postato.Publisher(client, postato.SqliteStore(str(tmp_path / "deferred.db")))
        k = key("deferred")
        with pytest.raises(postato.DeferredError) as caught:
            publisher.publish(k, "x", "acc_spent", "hello")
        error = caught.value
        assert error.kind == "deferred" and error.retry_at is not None and error.retry_after is not None
        assert 0.5 < error.retry_after <= 4.0
        counts = publisher.store.counts()
        assert (counts.deferred, counts.dead_letters, counts.published) == (1, 0, 0)
        assert counts.next_due == error.retry_at
        assert publisher.store.dead_letters() == []
        assert publisher.publish_due().deferred == 1, "not due yet: nothing sent"
        assert spent.stats().requests == 1
        time.sleep(max(0.0, error.retry_at.timestamp() - time.time()) + 0.05)
        report = publisher.publish_due()
        assert (report.published, report.failed, report.deferred, report.next_due) == (1, 0, 0, None)
        assert publisher.store.counts().deferred == 0
        assert spent.publishes(k) == 1
        assert publisher.publish(k, "x", "acc_spent", "hello").from_store


def test_the_async_publisher_defers_and_publishes_the_due_posts(key: Any) -> None:
    import asyncio

    async def run(spent: Simulator) -> None:
        client = postato.AsyncClient(
            api_key=spent.api_key, workspace_id="ws_py", base_url=spent.base_url, max_retry_after=0.5
        )
        publisher = postato.Publisher(client, postato.MemoryStore())
        k = key("deferred-async")
        with pytest.raises(postato.DeferredError) as caught:
            await publisher.publish_async(k, "x", "acc_spent", "hello")
        retry_at = caught.value.retry_at
        assert retry_at is not None
        early = await publisher.publish_due_async()
        assert (early.published, early.deferred, early.next_due) == (0, 1, retry_at)
        await asyncio.sleep(max(0.0, retry_at.timestamp() - time.time()) + 0.05)
        report = await publisher.publish_due_async(concurrency=2)
        assert (report.published, report.failed, report.deferred) == (1, 0, 0)
        assert spent.publishes(k) == 1

    with Simulator(spent_accounts={"x/acc_spent": 4}) as spent:
        asyncio.run(run(spent))


def test_a_sqlite_store_another_process_publishes_through_is_refused_naming_it(
    sim: Simulator, key: Any, tmp_path: Any
) -> None:
    path = str(tmp_path / "in-use.db")
    publisher = postato.Publisher(_client(sim), store=postato.SqliteStore(path))
    publisher.publish(**post_args(key("first")))
    before = sim.stats().requests
    child = (
        "import sys, postato\n"
        "client = postato.Client(api_key=sys.argv[2], workspace_id='ws_py', base_url=sys.argv[3])\n"
        "publisher = postato.Publisher(client, store=postato.SqliteStore(sys.argv[1]))\n"
        "try:\n"
        "    publisher.publish(business_key='second', platform='x', account_id='a', content='c')\n"
        "except postato.PostatoError as e:\n"
        "    print(e.kind, e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child, path, sim.api_key, sim.base_url], capture_output=True, text=True, timeout=60
    )
    assert f"is in use by pid {os.getpid()}" in done.stdout, done
    assert sim.stats().requests == before, "the second process sent nothing"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_process_forked_from_the_publisher_is_refused_while_its_parent_holds_the_store(
    sim: Simulator, key: Any, tmp_path: Any
) -> None:
    publisher = postato.Publisher(_client(sim), store=postato.SqliteStore(str(tmp_path / "forked.db")))
    publisher.publish(**post_args(key("parent")))
    before = sim.stats().requests
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its copy of the parent's lock is not a lock of its own
        os.close(read)
        try:
            publisher.publish(**post_args(key("child")))
            said = "published"
        except postato.PostatoError as e:
            said = str(e)
        os.write(write, said.encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        said = pipe.read()
    assert f"is in use by pid {os.getpid()}" in said, said
    assert sim.stats().requests == before, "the child sent nothing"
