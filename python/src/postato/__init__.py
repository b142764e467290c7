"""postato: retry-safe publishing to the Postato API. Never double-posts, never loses a post.

Every retry rule lives in the Rust core; this package converts types and errors.
"""

from __future__ import annotations

import atexit
import os

from . import _log, _native
from ._client import DEFAULTS, AsyncClient, Client, ClientDefaults, Post
from ._log import RetryEvent
from ._publisher import (
    AsyncPublisher,
    DeadLetter,
    DueReport,
    MemoryStore,
    PostgresStore,
    Publisher,
    SqliteStore,
    StoreCounts,
)
from ._wire import Content, MediaRef, PostType, Status, ThreadItem, _text
from .errors import (
    BusinessKeyReusedError,
    DeadlineExceededError,
    DeferredError,
    IdempotencyConflictError,
    InvalidPostError,
    InvalidResponseError,
    InvalidSettingError,
    OutcomeUnknownError,
    PermanentPostError,
    PostatoError,
    PublishCancelledError,
    RateLimitedError,
    TransientPostError,
)

__version__ = _native.version()
_log.configure_from_env()

__all__ = [
    "Client",
    "AsyncClient",
    "Publisher",
    "AsyncPublisher",
    "SqliteStore",
    "MemoryStore",
    "PostgresStore",
    "StoreCounts",
    "DueReport",
    "DeadLetter",
    "Post",
    "RetryEvent",
    "ThreadItem",
    "MediaRef",
    "Content",
    "Status",
    "PostType",
    "DEFAULTS",
    "ClientDefaults",
    "idempotency_key",
    "PostatoError",
    "InvalidPostError",
    "InvalidSettingError",
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


def idempotency_key(business_key: str) -> str:
    """The idempotency key of a business key: the first 32 hex characters of its SHA-256."""
    if not isinstance(business_key, str):
        raise InvalidPostError(
            f"invalid post: business_key (businessKey): must be a string, got {type(business_key).__name__}",
            field="businessKey",
        )
    return _native.idempotency_key(_text("businessKey", business_key))


# The extension's tokio runtime stops before the interpreter finalizes (so no Rust thread
# resolves an asyncio future during shutdown), and is rebuilt in forked children.
atexit.register(_native.shutdown)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_native.after_fork_in_child)
