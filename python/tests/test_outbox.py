"""postato.outbox: an enqueue in the application's own transaction, through psycopg 3 (sync
and async) and SQLAlchemy (needs POSTATO_TEST_POSTGRES_URL)."""

import asyncio
import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Optional, Tuple

import psycopg
import pytest
import sqlalchemy
from sqlalchemy.orm import Session

import postato
from postato import outbox

URL = os.environ.get("POSTATO_TEST_POSTGRES_URL")
if URL is None and os.environ.get("CI"):
    raise RuntimeError("POSTATO_TEST_POSTGRES_URL is not set: CI must start PostgreSQL (scripts/postgres.sh)")
pytestmark = pytest.mark.skipif(URL is None, reason="set POSTATO_TEST_POSTGRES_URL (./scripts/postgres.sh)")


@pytest.fixture(scope="module", autouse=True)
def outbox_exists() -> None:
    # A PostgresStore creates postato's tables, the outbox among them, on first use.
    assert URL is not None
    postato.PostgresStore(URL).counts()
    with psycopg.connect(URL, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS app_orders (id TEXT PRIMARY KEY)")


def row(business_key: str) -> Optional[Tuple[str, str, int]]:
    with psycopg.connect(str(URL)) as conn:
        found = conn.execute(
            "SELECT state, payload, not_before_ms FROM postato_outbox WHERE business_key = %s", (business_key,)
        ).fetchone()
    return None if found is None else (found[0], found[1], found[2])


def test_psycopg_an_enqueue_exists_only_if_the_transaction_commits(key: Any) -> None:
    committed, rolled_back = key("py-outbox"), key("py-outbox-rb")
    with psycopg.connect(str(URL)) as conn:
        with conn.transaction():
            conn.execute("INSERT INTO app_orders (id) VALUES (%s)", (committed,))
            assert outbox.enqueue(conn, committed, "x", "acc_1", "hello") == "enqueued"
            assert row(committed) is None, "not visible before the commit"
        with pytest.raises(RuntimeError), conn.transaction():
            outbox.enqueue(conn, rolled_back, "x", "acc_1", "hello")
            raise RuntimeError("the application fails: its transaction rolls back")
    assert row(rolled_back) is None
    found = row(committed)
    assert found is not None and found[0] == "pending" and found[2] == 0
    assert json.loads(found[1])["businessKey"] == committed
    with psycopg.connect(str(URL)) as conn:
        assert outbox.enqueue(conn.cursor(), committed, "x", "acc_1", "hello") == "already_enqueued"


def test_another_post_under_an_enqueued_key_is_refused_and_aborts_the_transaction(key: Any) -> None:
    k = key("py-outbox-reused")
    with psycopg.connect(str(URL)) as conn:
        outbox.enqueue(conn, k, "x", "acc_1", "hello")
        conn.commit()
        with pytest.raises(postato.BusinessKeyReusedError) as raised:
            outbox.enqueue(conn, k, "x", "acc_1", "edited")
        assert raised.value.kind == "business_key_reused"
        with pytest.raises(psycopg.errors.InFailedSqlTransaction):
            conn.execute("INSERT INTO app_orders (id) VALUES (%s)", (k,))
        conn.rollback()


def test_sqlalchemy_sessions_enqueue_in_their_transaction(key: Any) -> None:
    engine = sqlalchemy.create_engine(str(URL).replace("postgres://", "postgresql+psycopg://", 1))
    committed, rolled_back = key("py-sa"), key("py-sa-rb")
    later = datetime.now(timezone.utc) + timedelta(hours=1)
    with Session(engine) as session, session.begin():
        session.execute(sqlalchemy.text("INSERT INTO app_orders (id) VALUES (:id)"), {"id": committed})
        assert outbox.enqueue(session, committed, "x", "acc_1", "hello", not_before=later) == "enqueued"
    with Session(engine) as session:
        outbox.enqueue(session, rolled_back, "x", "acc_1", "hello")
        session.rollback()
    found = row(committed)
    assert found is not None and abs(found[2] - later.timestamp() * 1000) < 2
    assert row(rolled_back) is None
    engine.dispose()


def test_psycopg_async(key: Any) -> None:
    k = key("py-outbox-async")

    async def run() -> None:
        async with await psycopg.AsyncConnection.connect(str(URL)) as conn:
            async with conn.transaction():
                assert await outbox.enqueue_async(conn, k, "x", "acc_1", "hello") == "enqueued"
            assert await outbox.enqueue_async(conn, k, "x", "acc_1", "hello") == "already_enqueued"

    asyncio.run(run())
    assert row(k) is not None


def test_an_invalid_post_is_refused_before_the_database_sees_it(key: Any) -> None:
    k = key("py-outbox-invalid")
    with psycopg.connect(str(URL)) as conn:
        with pytest.raises(postato.InvalidPostError) as raised:
            outbox.enqueue(conn, k, "x", "acc_1", " ")
        assert raised.value.field == "content"
        with pytest.raises(postato.InvalidPostError, match="aware datetime"):
            outbox.enqueue(conn, k, "x", "acc_1", "hi", not_before=datetime(2030, 1, 1))  # noqa: DTZ001
        conn.execute("SELECT 1")  # the transaction is untouched
    assert row(k) is None
