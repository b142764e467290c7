"""Issue #17 through the Python API: each bad input is refused naming the parameter (and
nothing is sent), or does what it says; random posts are refused by name or reach the wire
exactly as given."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime, timezone
from typing import Any, Dict, Optional

import pytest
from conftest import post_args
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import postato
from postato.testing import Simulator


def received(sim: Simulator, business_key: str) -> Optional[Dict[str, Any]]:
    """The post as the simulator stored it (the request body as it arrived), or None."""
    url = f"{sim.base_url}/_sim/posts/{postato.idempotency_key(business_key)}"
    try:
        with urllib.request.urlopen(url) as answer:
            stored: Dict[str, Any] = json.loads(answer.read())
            return stored
    except urllib.error.HTTPError as e:
        assert e.code == 404
        return None


def refused(sim: Simulator, call: Any, field: str, *words: str) -> postato.PostatoError:
    """An invalid post raises InvalidPostError, an invalid setting InvalidSettingError (never the other)."""
    before = sim.stats().requests
    with pytest.raises((postato.InvalidPostError, postato.InvalidSettingError)) as raised:
        call()
    setting = str(raised.value).startswith("invalid setting")
    expected = postato.InvalidSettingError if setting else postato.InvalidPostError
    assert type(raised.value) is expected, (type(raised.value), str(raised.value))
    assert raised.value.field == field, str(raised.value)
    for word in words:
        assert word in str(raised.value), str(raised.value)
    assert len(str(raised.value)) < 300, "never a number in 300 digits"
    assert sim.stats().requests == before, "nothing may reach the server"
    return raised.value


def client_with(sim: Simulator, **settings: Any) -> postato.Client:
    return postato.Client(**{"api_key": sim.api_key, "workspace_id": "ws_py", "base_url": sim.base_url, **settings})


def test_case_1_a_schedule_time_without_a_status_schedules_and_publish_with_one_is_refused(
    client: postato.Client, sim: Simulator, key: Any
) -> None:
    at = datetime(2027, 1, 1, tzinfo=timezone.utc)
    business_key = key()
    post = client.publish(**post_args(business_key), scheduled_at=at)
    assert post.status == "scheduled"
    body = received(sim, business_key)
    assert body is not None
    assert (body["body"]["status"], body["body"]["scheduledAt"]) == ("scheduled", "2027-01-01T00:00:00.000Z")
    refused(
        sim,
        lambda: client.publish(**post_args(key()), status="publish", scheduled_at=at),
        "scheduledAt",
        "scheduled_at",
        'status "publish"',
    )


def test_case_3_an_empty_base_url_is_refused(sim: Simulator) -> None:
    refused(sim, lambda: client_with(sim, base_url=""), "baseUrl", "base_url", "is empty")


def test_a_ca_bundle_that_cannot_be_read_or_is_not_a_path_is_refused_by_name(sim: Simulator, tmp_path: Any) -> None:
    missing = tmp_path / "company-ca.pem"
    for path in (missing, str(missing)):
        refused(sim, lambda: client_with(sim, ca_bundle=path), "caBundle", str(missing), "cannot be read")
    refused(sim, lambda: client_with(sim, ca_bundle=5), "caBundle", "must be a path")


@pytest.mark.parametrize(
    "setting,value,field",
    [
        ("backoff_base", 1e9, "backoffBase"),
        ("backoff_cap", float("inf"), "backoffCap"),
        ("timeout", 1e300, "timeout"),
        ("deadline", -1, "deadline"),
        ("max_retry_after", float("nan"), "maxRetryAfter"),
        ("max_attempts", 2**32 + 3, "maxAttempts"),
        ("max_attempts", 10**400, "maxAttempts"),
        ("max_attempts", 2.5, "maxAttempts"),
        ("max_attempts", 0, "maxAttempts"),
        ("max_attempts", "3", "maxAttempts"),
        ("max_attempts", True, "maxAttempts"),
        ("max_rate_limit_waits", -1, "maxRateLimitWaits"),
    ],
)
def test_case_4_every_setting_has_bounds_and_a_named_error(
    sim: Simulator, setting: str, value: Any, field: str
) -> None:
    error = refused(sim, lambda: client_with(sim, **{setting: value}), field, setting)
    assert str(error).startswith("invalid setting: "), str(error)


def test_case_6_and_12_a_sqlite_store_needs_a_real_path(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for path, says in [("", "is empty"), ("  ", "is empty"), (":memory:", "lost when the process ends")]:
        with pytest.raises(postato.InvalidSettingError, match=says) as empty:
            postato.SqliteStore(path)
        assert empty.value.field == "path"
    with pytest.raises(postato.InvalidSettingError, match="got NoneType") as raised:
        postato.SqliteStore(None)  # type: ignore[arg-type]
    assert raised.value.field == "path"
    assert not (tmp_path / "None").exists(), "a file named None was created"
    assert postato.SqliteStore(tmp_path / "posts.db").path.endswith("posts.db"), "a PathLike is a path"
    foreign = tmp_path / "foreign.db"
    import sqlite3

    sqlite3.connect(foreign).execute("CREATE TABLE users (id INTEGER)").connection.commit()
    with pytest.raises(postato.PostatoError, match="another program's SQLite database"):
        postato.SqliteStore(str(foreign))


def test_case_8_an_unreachable_postgres_store_fails_loudly_and_sends_nothing(
    client: postato.Client, sim: Simulator, key: Any
) -> None:
    store = postato.PostgresStore("postgres://postato:secret@127.0.0.1:1/postato")
    publisher = postato.Publisher(client, store)
    before = sim.stats().requests
    started = time.monotonic()
    with pytest.raises(postato.TransientPostError) as raised:
        publisher.publish(**post_args(key()))
    assert "127.0.0.1:1/postato" in str(raised.value), str(raised.value)
    assert "secret" not in str(raised.value)
    assert time.monotonic() - started < 15, "a store never reached fails at once, not after an outage"
    assert sim.stats().requests == before, "nothing is published without the store's answer"


def test_unclear_inputs_name_the_parameter(client: postato.Client, sim: Simulator, key: Any) -> None:
    refused(sim, lambda: postato.idempotency_key(""), "businessKey", "business_key", "is empty")
    refused(sim, lambda: client.publish(**post_args("  ")), "businessKey", "business_key", "only whitespace")
    refused(sim, lambda: client.publish(**post_args(key(), content="a\ud800")), "content", "lone surrogate")
    refused(sim, lambda: client.publish(**post_args("\ud800")), "businessKey", "lone surrogate")
    refused(sim, lambda: postato.idempotency_key("\udc00"), "businessKey", "lone surrogate")
    refused(sim, lambda: client.publish(**post_args(key()), scheduled_at="\ud800"), "scheduledAt", "lone surrogate")
    media = [{"text": "a", "media": [{"id": "m", "alt": "x"}]}]
    refused(sim, lambda: client.publish(**post_args(key(), content=media)), "content[0].media[0]", "alt")  # type: ignore[arg-type]
    refused(sim, lambda: postato.PostgresStore("postgres://u@h/db", pool_size=0), "poolSize", "pool_size")
    refused(sim, lambda: postato.Publisher(client, key_retention=-1), "keyRetention", "key_retention")


TEXT = st.one_of(st.just(""), st.just("  "), st.text(min_size=1, max_size=12))
CONTENT = st.one_of(
    TEXT,
    st.lists(st.fixed_dictionaries({"text": TEXT}), max_size=3),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    business_key=TEXT,
    platform=TEXT,
    content=CONTENT,
    status=st.sampled_from([None, "publish", "scheduled", "draft", "now"]),
    scheduled_at=st.sampled_from([None, "2027-01-01T00:00:00Z", datetime(2027, 1, 1, 9, tzinfo=timezone.utc)]),
)
def test_a_random_post_is_refused_by_name_or_reaches_the_wire_as_given(
    client: postato.Client,
    sim: Simulator,
    key: Any,
    business_key: str,
    platform: str,
    content: Any,
    status: Optional[str],
    scheduled_at: Any,
) -> None:
    # A unique prefix keeps examples apart (a key reused with other content is its own error).
    unique = business_key if business_key in ("", "  ") else f"{key()}{business_key}"
    before = sim.stats().requests
    try:
        post = client.publish(
            business_key=unique,
            platform=platform,
            account_id="acc_1",
            content=content,
            status=status,  # type: ignore[arg-type]
            scheduled_at=scheduled_at,
        )
    except postato.InvalidPostError as e:
        assert e.field, str(e)
        assert str(e).startswith("invalid post: "), str(e)
        assert sim.stats().requests == before
        return
    wire = received(sim, unique)
    assert wire is not None
    body = wire["body"]
    assert not (status == "publish" and scheduled_at is not None), "publish with a schedule time went out"
    expected_status = status or ("scheduled" if scheduled_at is not None else "publish")
    assert body["status"] == expected_status
    assert post.idempotency_key == postato.idempotency_key(unique)
    assert body["platform"] == platform
    assert body["content"] == content
    if scheduled_at is None:
        assert "scheduledAt" not in body
    else:
        sent = datetime.fromisoformat(body["scheduledAt"].replace("Z", "+00:00"))
        if isinstance(scheduled_at, str):
            scheduled_at = datetime.fromisoformat(scheduled_at.replace("Z", "+00:00"))
        assert sent == scheduled_at


def test_a_schedule_time_in_the_past_is_published_with_a_word_on_the_logger(
    client: postato.Client, key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="postato"):
        post = client.publish(**post_args(key()), scheduled_at="2020-01-01T00:00:00Z")
    assert post.status == "scheduled"
    notices = [record for record in caplog.records if "is in the past" in record.getMessage()]
    assert len(notices) == 1, caplog.records


def test_a_post_over_a_mebibyte_an_invisible_business_key_and_an_async_hook_are_refused(
    client: postato.Client, sim: Simulator, key: Any
) -> None:
    huge = "x" * (10 * 1024 * 1024)
    refused(sim, lambda: client.publish(key(), "x", "acc_1", huge), "post", "1 MiB")
    refused(sim, lambda: client.publish("\u200b", "x", "acc_1", "c"), "businessKey", "invisible")

    async def on_retry(event: postato.RetryEvent) -> None:
        pass

    refused(sim, lambda: client_with(sim, on_retry=on_retry), "onRetry", "async")
