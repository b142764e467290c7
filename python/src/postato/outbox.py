"""The transactional outbox: enqueue a post in your own database transaction, and
``postato worker`` publishes it once that transaction commits (never if it rolls back).

``enqueue`` runs one statement on the connection you give it, inside the transaction you are
in: a psycopg 3 ``Connection`` or ``Cursor``, or a SQLAlchemy ``Session`` or ``Connection``
(``enqueue_async`` takes their asyncio forms). The post is validated and keyed in Rust, as a
publish validates and keys it. The same post enqueued again is a no-op (``"already_enqueued"``);
another post under an enqueued business key raises :class:`BusinessKeyReusedError`, and the
database aborts your transaction. On a connection in autocommit mode (no transaction), the
enqueue commits at once. The outbox lives in the database ``postato worker --store
URL`` drains, which creates it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Literal, Optional, Tuple, cast

from . import _native
from ._wire import Content, PostType, ScheduledAt, Status, post_json
from .errors import InvalidPostError

__all__ = ["enqueue", "enqueue_async", "Enqueued"]

Enqueued = Literal["enqueued", "already_enqueued"]
"""What an enqueue did."""

_Values = Tuple[str, str, str, int]


def _not_before_ms(not_before: Optional[datetime]) -> Optional[float]:
    if not_before is None:
        return None
    if not isinstance(not_before, datetime) or not_before.tzinfo is None:
        raise InvalidPostError(
            "invalid post: not_before (notBefore): must be an aware datetime (with a time zone), "
            f"got {not_before!r}",
            field="notBefore",
        )
    return not_before.timestamp() * 1000.0


def _is_sqlalchemy(connection: Any) -> bool:
    """A SQLAlchemy session or connection (or one built on them: SQLModel, Flask-SQLAlchemy),
    which takes ``text()`` statements; psycopg's take strings."""
    return not type(connection).__module__.startswith("psycopg")


def _first(row: Any) -> Any:
    """The first column of a row, whatever the row factory (tuple, dict, namedtuple)."""
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def _statement(connection: Any, wire: str, not_before: Optional[datetime]) -> Tuple[Any, Any, _Values]:
    """The statement for this driver, its parameters as the driver takes them, and the values."""
    named = _is_sqlalchemy(connection)
    sql, values = _native.outbox_statement(wire, _not_before_ms(not_before), "named" if named else "format")
    if named:
        from sqlalchemy import text

        return text(sql), dict(zip(_native.OUTBOX_PARAMETERS, values)), values
    return sql, values, values


def _answer(result: Any, connection: Any) -> Enqueued:
    row = result.scalar_one() if _is_sqlalchemy(connection) else _first(result.fetchone())
    return cast(Enqueued, row)


def _raise_as_postato(error: Exception, values: _Values) -> None:
    """Raises postato's error for the driver's, read by its SQLSTATE (psycopg's ``sqlstate``,
    under SQLAlchemy's ``orig``)."""
    driver = getattr(error, "orig", None) or error
    sqlstate = getattr(driver, "sqlstate", None)
    diag = getattr(driver, "diag", None)
    detail = getattr(diag, "message_detail", None) if diag is not None else None
    mapped = _native.outbox_error(sqlstate, detail, values[0], values[1])
    if mapped is not None:
        raise mapped from error


def _post(
    business_key: str,
    platform: str,
    account_id: str,
    content: Content,
    status: Optional[Status],
    post_type: PostType,
    scheduled_at: ScheduledAt,
) -> str:
    return post_json(business_key, platform, account_id, content, status, post_type, scheduled_at)


def enqueue(
    connection: Any,
    business_key: str,
    platform: str,
    account_id: str,
    content: Content,
    *,
    status: Optional[Status] = None,
    post_type: PostType = "post",
    scheduled_at: ScheduledAt = None,
    not_before: Optional[datetime] = None,
) -> Enqueued:
    """Enqueues a post in the transaction ``connection`` is in; published once it commits.

    The post's arguments are :meth:`Client.publish`'s; ``not_before`` (an aware ``datetime``)
    holds it until then (``scheduled_at`` still tells the server when it goes out)."""
    wire = _post(business_key, platform, account_id, content, status, post_type, scheduled_at)
    sql, parameters, values = _statement(connection, wire, not_before)
    execute: Callable[..., Any] = connection.execute
    try:
        return _answer(execute(sql, parameters), connection)
    except Exception as error:
        _raise_as_postato(error, values)
        raise


async def enqueue_async(
    connection: Any,
    business_key: str,
    platform: str,
    account_id: str,
    content: Content,
    *,
    status: Optional[Status] = None,
    post_type: PostType = "post",
    scheduled_at: ScheduledAt = None,
    not_before: Optional[datetime] = None,
) -> Enqueued:
    """:func:`enqueue` on a psycopg ``AsyncConnection`` or ``AsyncCursor``, or a SQLAlchemy
    ``AsyncSession`` or ``AsyncConnection``."""
    wire = _post(business_key, platform, account_id, content, status, post_type, scheduled_at)
    sql, parameters, values = _statement(connection, wire, not_before)
    try:
        result = await connection.execute(sql, parameters)
        if _is_sqlalchemy(connection):
            return cast(Enqueued, result.scalar_one())
        return cast(Enqueued, _first(await result.fetchone()))
    except Exception as error:
        _raise_as_postato(error, values)
        raise
