"""``Publisher``, ``AsyncPublisher`` and the stores: skip what was published, record results,
defer or dead-letter failures, publish many posts as a resumable batch."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Dict, Iterable, List, Optional, Union

from . import _native, _telemetry
from ._bridge import running_loop
from ._client import AsyncClient, Client, Post, PostItem, _CallOptions, _given_call_options, _many_results, _many_wires
from ._wire import Content, PostType, ScheduledAt, Status, post_json, setting_number
from .errors import InvalidSettingError, PostatoError


def _utc(ms: Optional[int]) -> Optional[datetime]:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc) if ms is not None else None


@dataclass(frozen=True)
class StoreCounts:
    """How many posts a store holds; deferred posts (not dead letters) with when the first
    and the last are due."""

    published: int
    dead_letters: int
    dead_letters_by_kind: Dict[str, int] = field(default_factory=dict)
    deferred: int = 0
    next_due: Optional[datetime] = None
    deferred_until: Optional[datetime] = None


@dataclass(frozen=True)
class DueReport:
    """What :meth:`Publisher.publish_due` did: due posts published, failed (dead-lettered),
    posts still deferred, and when the next of them is due."""

    published: int
    failed: int
    deferred: int
    next_due: Optional[datetime]

    @classmethod
    def _from_native(cls, d: Dict[str, Any]) -> "DueReport":
        return cls(d["published"], d["failed"], d["deferred"], _utc(d["next_due_ms"]))


@dataclass(frozen=True)
class DeadLetter:
    """A post that could not be published, with its reason."""

    business_key: str
    kind: str
    status: Optional[int]
    message: str
    body: Optional[str]
    attempts: int
    failed_at_ms: int
    payload: Optional[str]
    line: Optional[int]


class _Store:
    _native: _native.NativeStore

    def counts(self) -> StoreCounts:
        d = self._native.counts()
        return StoreCounts(
            d["published"],
            d["dead_letters"],
            dict(d["dead_letters_by_kind"]),
            d["deferred"],
            _utc(d["next_due_ms"]),
            _utc(d["deferred_until_ms"]),
        )

    def dead_letters(self, limit: Optional[int] = None) -> List[DeadLetter]:
        """At most ``limit`` dead letters (``None``: the default, in docs/settings.md)."""
        letters = []
        for line in self._native.dead_letters_json(setting_number("limit", limit)):
            d: Dict[str, Any] = json.loads(line)
            letters.append(
                DeadLetter(
                    d["businessKey"],
                    d["kind"],
                    d.get("status"),
                    d["message"],
                    d.get("body"),
                    d["attempts"],
                    d["failedAtMs"],
                    d.get("payload"),
                    d.get("line"),
                )
            )
        return letters

    def published_id(self, business_key: str) -> Optional[str]:
        """The stored post id of ``business_key``, if it was published."""
        return self._native.published_id(business_key)


class SqliteStore(_Store):
    """Results in one SQLite file: a restarted process skips what was published."""

    def __init__(self, path: Union[str, "os.PathLike[str]"]) -> None:
        """``path``: the SQLite file (created if needed). An empty path (or ``":memory:"``) is
        refused: SQLite would take it for a temporary database, lost when the process ends."""
        if not isinstance(path, (str, os.PathLike)):
            raise InvalidSettingError(
                f"invalid setting: path: must be a file path (str or os.PathLike), got {type(path).__name__}: "
                "give a file such as 'posts.db', or use MemoryStore()",
                field="path",
            )
        self.path = os.fspath(path)
        if not isinstance(self.path, str):
            raise InvalidSettingError("invalid setting: path: must be a text path, not bytes", field="path")
        self._native = _native.NativeStore(self.path)

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"


class MemoryStore(_Store):
    """Results in memory, for tests and short-lived processes."""

    def __init__(self) -> None:
        self._native = _native.NativeStore(None)

    def __repr__(self) -> str:
        return "MemoryStore()"


def _redact(url: str) -> str:
    """The URL without its password, for repr."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class PostgresStore(_Store):
    """Results, dead letters and claims in PostgreSQL, shared by many workers: each post is
    claimed by one of them (with a lease, renewed while it publishes), so a campaign is
    published exactly once however many processes run it. Connects on first use."""

    def __init__(self, url: str, pool_size: Optional[int] = None) -> None:
        """``pool_size=None``: the default pool size."""
        if not isinstance(url, str) or not url.startswith(("postgres://", "postgresql://")):
            raise InvalidSettingError("invalid setting: url: give a postgres:// URL", field="url")
        self._display = _redact(url)
        self._native = _native.NativeStore.postgres(url, setting_number("poolSize", pool_size))

    def __repr__(self) -> str:
        return f"PostgresStore({self._display!r})"


class _PublisherBase:
    """What ``Publisher`` and ``AsyncPublisher`` share: a client, a store, and the extension's
    publisher over them."""

    def __init__(
        self,
        client: Union[Client, AsyncClient],
        store: Union[SqliteStore, MemoryStore, PostgresStore, None] = None,
        *,
        key_retention: Optional[float] = None,
    ) -> None:
        """``key_retention`` (seconds; default in docs/settings.md): how long the API keeps
        idempotency keys. A post sent longer ago whose outcome was never recorded raises
        ``OutcomeUnknownError`` instead of being sent again."""
        if client._call:
            raise InvalidSettingError(
                "invalid setting: client: a Publisher publishes with its client's settings, and this client has "
                "per-call options (with_options): give the Publisher the client itself, and pass deadline=, "
                "max_attempts= and timeout= to publish()",
                field="client",
            )
        self.client = client
        self.store: Union[SqliteStore, MemoryStore, PostgresStore] = store if store is not None else MemoryStore()
        self._native = _native.NativePublisher(
            client._native, self.store._native, setting_number("keyRetention", key_retention)
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.client!r}, store={self.store!r})"


class Publisher(_PublisherBase):
    """A client with a result store: the thing most programs call. It publishes
    synchronously; :class:`AsyncPublisher` is the same as asyncio awaitables. Either works
    with a ``Client`` or an ``AsyncClient``."""

    def publish(
        self,
        business_key: str,
        platform: str,
        account_id: str,
        content: Content,
        *,
        status: Optional[Status] = None,
        post_type: PostType = "post",
        scheduled_at: ScheduledAt = None,
        force: bool = False,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Post:
        """Publishes unless the store has it (then ``from_store`` is true and nothing is sent).

        ``force=True`` sends a post whose earlier send's outcome is unknown
        (:class:`OutcomeUnknownError`): only after checking that the post does not exist.
        ``deadline`` and ``timeout`` (seconds) and ``max_attempts`` are this publish's own, over
        the client's."""
        call = _given_call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout)
        wire = post_json(business_key, platform, account_id, content, status, post_type, scheduled_at)
        with self.client._observed("postato.publish", {"postato.business_key": business_key}) as span:
            post = Post._from_native(self._native.publish(wire, force, list(call.items())))
            _telemetry.published(span, post.attempts)
        return post

    def publish_many(
        self,
        posts: Iterable[PostItem],
        *,
        concurrency: Optional[int] = None,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> List[Union[Post, PostatoError]]:
        """Publishes every post through the store, ``concurrency`` at once (default
        ``DEFAULTS.concurrency``), each as :meth:`publish` would: claimed, then recorded,
        deferred (:class:`DeferredError`) or dead-lettered.

        Returns one entry per post, in input order: its ``Post`` or the ``PostatoError`` it
        ended with (never raised). Running the same posts again resumes: what was published
        comes from the store (``from_store``) and nothing is sent for it. The first post of a
        business key wins: the same post again shares its outcome, another post under its key
        is :class:`BusinessKeyReusedError`. Only an invalid ``concurrency``, ``deadline``,
        ``max_attempts`` or ``timeout`` raises; Ctrl-C cancels the posts in flight."""
        call = _given_call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout)
        wires, errors = _many_wires(posts)
        with self.client._observed("postato.publish_many", {"postato.posts": len(wires)}) as span:
            native = self._native.publish_many(wires, setting_number("concurrency", concurrency), list(call.items()))
            results = _many_results(native, errors)
            _telemetry.many_done(span, results)
        return results

    def publish_due(self, *, concurrency: Optional[int] = None) -> DueReport:
        """Publishes the store's deferred posts whose time has come (at most ``concurrency`` at
        once, default ``DEFAULTS.concurrency``); the others stay deferred and nothing is sent
        for them. Call it from a timer, or at the report's ``next_due``."""
        with self.client._observed("postato.publish_due", {}):
            return DueReport._from_native(self._native.publish_due(setting_number("concurrency", concurrency)))

    async def publish_async(
        self,
        business_key: str,
        platform: str,
        account_id: str,
        content: Content,
        *,
        status: Optional[Status] = None,
        post_type: PostType = "post",
        scheduled_at: ScheduledAt = None,
        force: bool = False,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Post:
        """:meth:`AsyncPublisher.publish`, kept for programs written before it."""
        return await _publish_async(
            self, business_key, platform, account_id, content, status, post_type, scheduled_at, force,
            _given_call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout),
        )  # fmt: skip

    async def publish_due_async(self, *, concurrency: Optional[int] = None) -> DueReport:
        """:meth:`AsyncPublisher.publish_due`, kept for programs written before it."""
        return await _publish_due_async(self, concurrency)


class AsyncPublisher(_PublisherBase):
    """:class:`Publisher` as asyncio awaitables, beside :class:`AsyncClient`: cancelling the
    awaiting task cancels the publishes in flight (their claims are released)."""

    async def publish(
        self,
        business_key: str,
        platform: str,
        account_id: str,
        content: Content,
        *,
        status: Optional[Status] = None,
        post_type: PostType = "post",
        scheduled_at: ScheduledAt = None,
        force: bool = False,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> Post:
        """:meth:`Publisher.publish` as an awaitable; the keywords are its own."""
        return await _publish_async(
            self, business_key, platform, account_id, content, status, post_type, scheduled_at, force,
            _given_call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout),
        )  # fmt: skip

    async def publish_many(
        self,
        posts: Iterable[PostItem],
        *,
        concurrency: Optional[int] = None,
        deadline: Optional[float] = None,
        max_attempts: Optional[int] = None,
        timeout: Optional[float] = None,
    ) -> List[Union[Post, PostatoError]]:
        """:meth:`Publisher.publish_many` as one awaitable."""
        call = _given_call_options(deadline=deadline, max_attempts=max_attempts, timeout=timeout)
        wires, errors = _many_wires(posts)
        with self.client._observed("postato.publish_many", {"postato.posts": len(wires)}) as span:
            native = await self._native.publish_many_async(
                wires, setting_number("concurrency", concurrency), *running_loop(), list(call.items())
            )
            results = _many_results(native, errors)
            _telemetry.many_done(span, results)
        return results

    async def publish_due(self, *, concurrency: Optional[int] = None) -> DueReport:
        """:meth:`Publisher.publish_due` as an awaitable."""
        return await _publish_due_async(self, concurrency)


async def _publish_async(
    publisher: _PublisherBase,
    business_key: str,
    platform: str,
    account_id: str,
    content: Content,
    status: Optional[Status],
    post_type: PostType,
    scheduled_at: ScheduledAt,
    force: bool,
    call: _CallOptions,
) -> Post:
    wire = post_json(business_key, platform, account_id, content, status, post_type, scheduled_at)
    with publisher.client._observed("postato.publish", {"postato.business_key": business_key}) as span:
        native = await publisher._native.publish_async(wire, *running_loop(), force, list(call.items()))
        post = Post._from_native(native)
        _telemetry.published(span, post.attempts)
    return post


async def _publish_due_async(publisher: _PublisherBase, concurrency: Optional[int]) -> DueReport:
    with publisher.client._observed("postato.publish_due", {}):
        native = await publisher._native.publish_due_async(*running_loop(), setting_number("concurrency", concurrency))
    return DueReport._from_native(native)
