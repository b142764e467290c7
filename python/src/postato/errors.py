"""Exceptions raised by postato, all under :class:`PostatoError`.

They pickle, and their ``str()``/``repr()`` never contain the API key.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Type

__all__ = [
    "PostatoError",
    "InvalidPostError",
    "PermanentPostError",
    "IdempotencyConflictError",
    "BusinessKeyReusedError",
    "TransientPostError",
    "RateLimitedError",
    "DeadlineExceededError",
    "InvalidResponseError",
    "PublishCancelledError",
    "OutcomeUnknownError",
    "DeferredError",
]


def _parse_body(body: Any) -> Any:
    if isinstance(body, str):
        try:
            return json.loads(body)
        except ValueError:
            return body
    return body


def _restore(cls: Type[PostatoError], state: Dict[str, Any]) -> PostatoError:
    error = cls.__new__(cls)
    Exception.__init__(error, state["message"])
    error.__dict__.update(state)
    return error


class PostatoError(Exception):
    """A publish did not succeed. ``kind`` is the stable name shared by every language."""

    kind: str = "error"

    def __init__(
        self,
        message: Optional[str] = None,
        *,
        status: Optional[int] = None,
        body: Any = None,
        attempts: int = 0,
        retry_after: Optional[float] = None,
        field: Optional[str] = None,
        headers: Optional[Mapping[str, str]] = None,
        request_id: Optional[str] = None,
    ) -> None:
        self.message: str = message if message is not None else type(self).__name__
        super().__init__(self.message)
        self.status: Optional[int] = status
        self.body: Any = _parse_body(body)
        self.attempts: int = attempts
        self.retry_after: Optional[float] = retry_after
        self.field: Optional[str] = field
        self.headers: Dict[str, str] = dict(headers or {})
        """The headers of the answer the error is about (lowercase names; empty when no answer
        is behind it): the final answer, or the last retryable one."""
        self.request_id: Optional[str] = request_id
        """The server's id of that answer (``X-Request-Id``): quote it when reporting a problem."""

    def __reduce__(self) -> Any:
        return (_restore, (type(self), dict(self.__dict__)))

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        for name in ("status", "attempts", "retry_after", "field", "request_id"):
            value = getattr(self, name)
            if value not in (None, 0):
                parts.append(f"{name}={value!r}")
        return f"{type(self).__name__}({', '.join(parts)})"


class InvalidPostError(PostatoError, ValueError):
    """The post is invalid; nothing was sent. ``field`` names the culprit."""

    kind = "invalid_input"


class InvalidSettingError(PostatoError, ValueError):
    """A setting is missing or invalid (a client's, a store's or a call's option, such as the API
    key, or a server whose certificate is not trusted); nothing was sent. ``field`` names it.
    Of kind ``invalid_input``, as an invalid post is, but never an :class:`InvalidPostError`."""

    kind = "invalid_input"


class PermanentPostError(PostatoError):
    """The server rejected the request (4xx); retrying cannot help."""

    kind = "permanent"

    def __init__(
        self, status: Optional[int] = None, body: Any = None, message: Optional[str] = None, **fields: Any
    ) -> None:
        fields.setdefault("attempts", 1)
        super().__init__(
            message if message is not None else f"Permanent error {status}", status=status, body=body, **fields
        )


class IdempotencyConflictError(PostatoError):
    """The server holds different content under this business key's idempotency key."""

    kind = "idempotency_conflict"


class BusinessKeyReusedError(PostatoError):
    """The store holds this business key with a different payload: give edited content a new key."""

    kind = "business_key_reused"


class TransientPostError(PostatoError):
    """Every attempt failed with a retryable error; publishing later with the same key is safe."""

    kind = "transient"

    def __init__(
        self,
        status: Optional[int] = None,
        body: Any = None,
        attempts: int = 0,
        message: Optional[str] = None,
        **fields: Any,
    ) -> None:
        super().__init__(
            message if message is not None else f"Transient error {status}",
            status=status,
            body=body,
            attempts=attempts,
            **fields,
        )


class RateLimitedError(PostatoError):
    """The server asked to wait longer than allowed (``retry_after`` seconds): reschedule."""

    kind = "rate_limited"

    def __init__(self, retry_after: Optional[float] = None, message: Optional[str] = None, **fields: Any) -> None:
        fields.setdefault("status", 429)
        super().__init__(
            message if message is not None else f"Rate limited for {retry_after} s", retry_after=retry_after, **fields
        )


class DeadlineExceededError(PostatoError):
    """The deadline passed; the post may or may not exist, and retrying later is safe."""

    kind = "deadline"


class InvalidResponseError(PostatoError):
    """A 2xx whose body is not ``{id, status}``; the post may exist, and retrying is safe."""

    kind = "invalid_response"


class PublishCancelledError(PostatoError):
    """The publish was cancelled; nothing is retried after it."""

    kind = "cancelled"


class OutcomeUnknownError(PostatoError):
    """A Publisher found this business key sent longer ago than the server keeps idempotency
    keys, with no recorded outcome: it did not send it again. Check whether the post exists,
    then publish with ``force=True``."""

    kind = "outcome_unknown"


class DeferredError(PostatoError):
    """A Publisher's post whose rate limit holds longer than it waits: kept in the store as
    deferred until ``retry_at`` (a UTC ``datetime``; ``retry_after`` seconds from now), not
    dead-lettered, and nothing is sent for it before then. Publish it again after that time,
    or call ``Publisher.publish_due()``."""

    kind = "deferred"

    def __init__(self, message: Optional[str] = None, *, retry_at_ms: Optional[int] = None, **fields: Any) -> None:
        super().__init__(message, **fields)
        self.retry_at: Optional[datetime] = (
            datetime.fromtimestamp(retry_at_ms / 1000, tz=timezone.utc) if retry_at_ms is not None else None
        )
