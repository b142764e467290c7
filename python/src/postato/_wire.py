"""Converts Python arguments to the post's wire JSON, naming the field of any wrong type.

Only types are checked here; the rules (empty values, scheduled posts, …) are the core's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Dict, List, Optional, Union

from .errors import InvalidPostError

Content = Union[str, Sequence[Mapping[str, Any]]]
ScheduledAt = Union[datetime, str, None]


def _text(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise InvalidPostError(f"invalid post: {field}: must be a string, got {type(value).__name__}", field=field)
    return value


def _content(content: Any) -> Union[str, List[Dict[str, Any]]]:
    if isinstance(content, str):
        return content
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
            converted["media"] = [
                {"id": _text(f"content[{i}].media[{j}].id", m.get("id") if isinstance(m, Mapping) else m)}
                for j, m in enumerate(media)
            ]
        items.append(converted)
    return items


def _scheduled_at(value: Any) -> Optional[str]:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise InvalidPostError(
                "invalid post: scheduledAt: is a naive datetime: give a timezone-aware one, such as datetime(..., tzinfo=timezone.utc)",
                field="scheduledAt",
            )
        return value.astimezone(timezone.utc).isoformat()
    raise InvalidPostError(
        f"invalid post: scheduledAt: must be a datetime or an ISO string, got {type(value).__name__}",
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
        "status": _text("status", status),
        "postType": _text("postType", post_type),
        "content": _content(content),
    }
    at = _scheduled_at(scheduled_at)
    if at is not None:
        post["scheduledAt"] = at
    return json.dumps(post)
