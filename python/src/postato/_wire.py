"""Converts Python arguments to the post's wire JSON, naming the field of any wrong type.

Only types are checked here; the rules (empty values, scheduled posts, …) are the core's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Dict, List, Literal, Optional, TypedDict, Union

from ._native import python_name as _python_name
from .errors import InvalidPostError, InvalidSettingError


class MediaRef(TypedDict):
    """A media item of a thread item: its id at Postato."""

    id: str


class _ThreadItemText(TypedDict):
    text: str


class ThreadItem(_ThreadItemText, total=False):
    """One item of a thread: ``{"text": ..., "media": [{"id": ...}]}`` (``media`` optional)."""

    media: List[MediaRef]


Content = Union[str, Sequence[ThreadItem]]
"""A text, or a thread: a list of :class:`ThreadItem`."""
Status = Literal["publish", "scheduled", "draft"]
PostType = Union[Literal["post", "thread", "story", "reel", "article"], str]
"""The kind of post on the network: the usual ones spelled out, any other the network knows."""
ScheduledAt = Union[datetime, str, None]


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidPostError(
            f"invalid post: {_python_name(field)}: must be a string, got {type(value).__name__}", field=field
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # A lone surrogate (such as "\ud800") is not text: JSON would carry it as an escape that
        # no API reads back as the same string.
        raise InvalidPostError(
            f"invalid post: {_python_name(field)}: holds a lone surrogate (\\ud800-\\udfff), which is not text: "
            "remove it",
            field=field,
        ) from None
    return value


def setting_number(field: str, value: Any) -> Optional[float]:
    """A numeric setting as the extension takes it (a float; ``None`` for the default). Only
    the type is checked here: the bounds are the Rust client's. A huge int becomes infinity,
    which the bounds refuse by name."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidSettingError(
            f"invalid setting: {_python_name(field)}: must be a number, got {type(value).__name__}", field=field
        )
    try:
        return float(value)
    except OverflowError:
        return float("inf") if value > 0 else float("-inf")


def _content(content: Any) -> Union[str, List[Dict[str, Any]]]:
    if isinstance(content, str):
        return _text("content", content)
    if not isinstance(content, (list, tuple)):
        raise InvalidPostError(
            f"invalid post: content: must be a string or a list of thread items, got {type(content).__name__}",
            field="content",
        )
    items: List[Dict[str, Any]] = []
    for i, item in enumerate(content):
        if not isinstance(item, Mapping):
            raise InvalidPostError(
                f"invalid post: content[{i}]: must be a dict with 'text', got {type(item).__name__}",
                field=f"content[{i}]",
            )
        converted: Dict[str, Any] = {"text": _text(f"content[{i}].text", item.get("text"))}
        unknown = set(item) - {"text", "media"}
        if unknown:
            raise InvalidPostError(
                f"invalid post: content[{i}]: unknown keys {sorted(unknown)}: use 'text' and 'media'",
                field=f"content[{i}]",
            )
        media = item.get("media")
        if media is not None:
            if not isinstance(media, (list, tuple)):
                raise InvalidPostError(
                    f"invalid post: content[{i}].media: must be a list of {{'id': ...}}", field=f"content[{i}].media"
                )
            converted["media"] = [_media(f"content[{i}].media[{j}]", m) for j, m in enumerate(media)]
        items.append(converted)
    return items


def _media(field: str, media: Any) -> Dict[str, str]:
    """A media reference: ``{"id": ...}`` (or the id alone); any other key is refused."""
    if isinstance(media, Mapping):
        unknown = set(media) - {"id"}
        if unknown:
            raise InvalidPostError(f"invalid post: {field}: unknown keys {sorted(unknown)}: use 'id'", field=field)
        media = media.get("id")
    return {"id": _text(f"{field}.id", media)}


def _scheduled_at(value: Any) -> Optional[str]:
    if value is None:
        return None
    if isinstance(value, str):
        return _text("scheduledAt", value)
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise InvalidPostError(
                "invalid post: scheduled_at (scheduledAt): is a naive datetime: give a timezone-aware one, such as "
                "datetime(..., tzinfo=timezone.utc)",
                field="scheduledAt",
            )
        return value.astimezone(timezone.utc).isoformat()
    raise InvalidPostError(
        f"invalid post: scheduled_at (scheduledAt): must be a datetime or an ISO string, got {type(value).__name__}",
        field="scheduledAt",
    )


def post_json(
    business_key: Any,
    platform: Any,
    account_id: Any,
    content: Any,
    status: Any,
    post_type: Any,
    scheduled_at: Any,
) -> str:
    """The post as the campaign-line JSON the Rust client reads."""
    post: Dict[str, Any] = {
        "businessKey": _text("businessKey", business_key),
        "platform": _text("platform", platform),
        "accountId": _text("accountId", account_id),
        "postType": _text("postType", post_type),
        "content": _content(content),
    }
    # No status: the core reads it from scheduled_at ("scheduled" with one, else "publish").
    if status is not None:
        post["status"] = _text("status", status)
    at = _scheduled_at(scheduled_at)
    if at is not None:
        post["scheduledAt"] = at
    return json.dumps(post)


_ITEM_FIELDS = ("business_key", "platform", "account_id", "content", "status", "post_type", "scheduled_at")
_REQUIRED_ITEM_FIELDS = ("business_key", "platform", "account_id", "content")


def item_json(index: int, item: Any) -> str:
    """One post of ``publish_many``: a mapping of ``publish``'s keyword arguments."""
    if not isinstance(item, Mapping):
        raise InvalidPostError(
            f"invalid post: posts[{index}]: must be a mapping of publish's keyword arguments, "
            f"got {type(item).__name__}",
            field="",
        )
    unknown = sorted(str(name) for name in item if name not in _ITEM_FIELDS)
    if unknown:
        raise InvalidPostError(
            f"invalid post: posts[{index}]: unknown field(s) {unknown}: use {list(_ITEM_FIELDS)}", field=unknown[0]
        )
    missing = [name for name in _REQUIRED_ITEM_FIELDS if name not in item]
    if missing:
        raise InvalidPostError(f"invalid post: posts[{index}]: missing {missing}", field=missing[0])
    return post_json(
        item["business_key"],
        item["platform"],
        item["account_id"],
        item["content"],
        item.get("status"),
        item.get("post_type", "post"),
        item.get("scheduled_at"),
    )
