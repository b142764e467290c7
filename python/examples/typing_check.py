"""Uses every public name of the package; `mypy --strict` must pass on it (CI runs it)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone
from typing import Dict, List, Optional, Union

import postato
from postato import (
    AsyncClient,
    AsyncPublisher,
    BusinessKeyReusedError,
    Client,
    DeadLetter,
    DeadlineExceededError,
    DueReport,
    IdempotencyConflictError,
    InvalidPostError,
    InvalidResponseError,
    MemoryStore,
    PermanentPostError,
    Post,
    PostatoError,
    PostgresStore,
    PublishCancelledError,
    Publisher,
    RateLimitedError,
    RetryEvent,
    SqliteStore,
    Status,
    StoreCounts,
    ThreadItem,
    TransientPostError,
    idempotency_key,
)
from postato.outbox import Enqueued, enqueue
from postato.testing import DEFAULT_API_KEY, Simulator, SimulatorStats


def describe(error: PostatoError) -> str:
    status: Optional[int] = error.status
    retry_after: Optional[float] = error.retry_after
    headers: Dict[str, str] = error.headers
    request_id: Optional[str] = error.request_id
    return f"{error.kind} {status} {error.attempts} {retry_after} {error.field} {error.body!r} {headers} {request_id}"


def on_retry(event: RetryEvent) -> None:
    status: Optional[int] = event.status
    print(event.business_key, event.attempt, event.delay, event.reason, status)


def main() -> None:
    key: str = idempotency_key("draft-1")
    assert postato.__version__
    with Simulator(faults={"server_error": 0.1}, rate_limit=(100.0, 10), seed=1, api_keys=[DEFAULT_API_KEY]) as sim:
        sim.script("draft-1", [{"action": "respond", "status": 500}, {"action": "ok"}])
        client = Client(
            api_key=sim.api_key,
            workspace_id="ws",
            base_url=sim.base_url,
            max_attempts=5,
            timeout=30.0,
            backoff_base=0.5,
            backoff_cap=30.0,
            deadline=None,
            fast_forward_waits=True,
            on_retry=on_retry,
        )
        from_env = Client()  # POSTATO_API_KEY, POSTATO_WORKSPACE_ID and POSTATO_BASE_URL
        urgent: Client = client.with_options(deadline=5.0, max_attempts=2)
        scheduled: Status = "scheduled"
        thread: List[ThreadItem] = [{"text": "one", "media": [{"id": "m1"}]}, {"text": "two"}]
        # mypy --strict reports an unused ignore: were these types loosened, these lines would fail.
        wrong_item: ThreadItem = {"text": "x", "alt": "y"}  # type: ignore[typeddict-unknown-key]
        wrong_status: Status = "now"  # type: ignore[assignment]
        print(wrong_item, wrong_status)
        urgent.publish("draft-u", "x", "acc", thread, status=scheduled, deadline=1.0, max_attempts=1)
        print(from_env)
        post: Post = client.publish(
            business_key="draft-1",
            platform="x",
            account_id="acc",
            content="hello",
            status="scheduled",
            post_type="post",
            scheduled_at=datetime(2026, 12, 1, tzinfo=timezone.utc),
        )
        ids: List[str] = [post.id, post.status, post.idempotency_key]
        attempts: int = post.attempts
        replayed: bool = post.replayed or post.from_store
        publisher = Publisher(client, store=SqliteStore("posts.db"))
        again: Post = publisher.publish("draft-1-thread", "x", "acc", [{"text": "one", "media": [{"id": "m1"}]}])
        counts: StoreCounts = publisher.store.counts()
        batch: List[Union[Post, PostatoError]] = publisher.publish_many(
            [{"business_key": "draft-4", "platform": "x", "account_id": "acc", "content": "hi"}],
            concurrency=2,
            timeout=5.0,
        )
        letters: List[DeadLetter] = MemoryStore().dead_letters(limit=10)
        shared = Publisher(client, store=PostgresStore("postgres://postato@127.0.0.1:5432/postato", pool_size=4))
        print(repr(shared.store))

        async def run() -> Post:
            async with AsyncClient(api_key=sim.api_key, workspace_id="ws", base_url=sim.base_url) as async_client:
                first = await async_client.publish(business_key="draft-2", platform="x", account_id="acc", content="hi")
                await Publisher(async_client, store=MemoryStore()).publish_async("draft-3", "x", "acc", "hi")
                async_publisher = AsyncPublisher(async_client, store=MemoryStore())
                await async_publisher.publish("draft-5", "x", "acc", "hi", deadline=5.0)
                many: List[Union[Post, PostatoError]] = await async_publisher.publish_many([], concurrency=1)
                due: DueReport = await async_publisher.publish_due()
                print(many, due)
                return first

        asyncio.run(run())
        stats: SimulatorStats = sim.stats()
        published: int = sim.publishes("draft-1") + stats.platform_publishes
        sim.set_faults(server_error=0.0)
        sim.set_rate_limit(None)
        sim.outage(duration=0.0)
        sim.reset()
        print(key, ids, attempts, replayed, again, counts, batch, letters, published)
    errors: List[PostatoError] = [
        InvalidPostError("bad", field="content"),
        PermanentPostError(400, {}),
        IdempotencyConflictError("x"),
        BusinessKeyReusedError("x"),
        TransientPostError(503, None, 5),
        RateLimitedError(60.0),
        DeadlineExceededError("x"),
        InvalidResponseError("x"),
        PublishCancelledError("x"),
    ]
    print([describe(e) for e in errors])


if __name__ == "__main__":
    main()


def enqueue_in(connection: object) -> Enqueued:
    """The outbox's enqueue as an application calls it (on its own connection)."""
    return enqueue(connection, "order-1", "x", "acc", "shipped", not_before=datetime(2030, 1, 1, tzinfo=timezone.utc))
