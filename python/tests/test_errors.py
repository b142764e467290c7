"""Exceptions: the hierarchy, their fields, pickling, and no API key anywhere."""

import logging
import pickle
from typing import Any, List

import pytest
from conftest import post_args

import postato
from postato.testing import Simulator

SECRET = "sk_live_python_secret_value"


@pytest.fixture(scope="module")
def secret_sim() -> Any:
    with Simulator(api_keys=[SECRET]) as simulator:
        yield simulator


def test_every_error_is_a_postato_error_and_pickles() -> None:
    errors: List[postato.PostatoError] = [
        postato.InvalidPostError("bad", field="content"),
        postato.PermanentPostError(400, {"error": "x"}),
        postato.IdempotencyConflictError("conflict", status=422),
        postato.BusinessKeyReusedError("reused"),
        postato.TransientPostError(503, "down", 5),
        postato.RateLimitedError(3600.0),
        postato.DeadlineExceededError("late", attempts=2),
        postato.InvalidResponseError("garbled", status=200),
        postato.PublishCancelledError("stop"),
    ]
    for error in errors:
        assert isinstance(error, postato.PostatoError)
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert (str(copy), copy.status, copy.body, copy.attempts, copy.retry_after, copy.field) == (
            str(error),
            error.status,
            error.body,
            error.attempts,
            error.retry_after,
            error.field,
        )
    assert errors[1].status == 400 and errors[1].body == {"error": "x"}
    assert (errors[4].status, errors[4].attempts) == (503, 5)
    assert errors[5].retry_after == 3600.0
    assert isinstance(errors[0], ValueError)


def test_errors_from_rust_carry_their_fields(secret_sim: Simulator, key: Any) -> None:
    client = postato.Client(api_key=SECRET, workspace_id="w", base_url=secret_sim.base_url, fast_forward_waits=True)
    k = key("transient")
    secret_sim.script(k, [{"action": "respond", "status": 503}] * 5)
    with pytest.raises(postato.TransientPostError) as raised:
        client.publish(**post_args(k))
    assert (raised.value.status, raised.value.attempts, raised.value.kind) == (503, 5, "transient")
    k = key("limited")
    secret_sim.script(k, [{"action": "respond", "status": 429, "headers": {"Retry-After": "7200"}}])
    with pytest.raises(postato.RateLimitedError) as limited:
        client.publish(**post_args(k))
    assert limited.value.retry_after == 7200.0
    assert pickle.loads(pickle.dumps(limited.value)).retry_after == 7200.0


def test_the_api_key_is_in_no_repr_error_or_log_record(secret_sim: Simulator, key: Any, caplog: Any) -> None:
    caplog.set_level(logging.DEBUG)
    client = postato.Client(api_key=SECRET, workspace_id="w", base_url=secret_sim.base_url, fast_forward_waits=True)
    wrong = postato.Client(api_key=SECRET + "_wrong", workspace_id="w", base_url=secret_sim.base_url)
    texts = [repr(client), str(client), repr(wrong), repr(postato.Publisher(client))]
    k = key("leak")
    secret_sim.script(
        k, [{"action": "respond", "status": 500}, {"action": "reset"}, {"action": "respond", "status": 400}]
    )
    for c, k in ((client, k), (wrong, key("wrong"))):
        with pytest.raises(postato.PostatoError) as raised:
            c.publish(**post_args(k))
        texts += [str(raised.value), repr(raised.value), repr(raised.value.body)]
    texts += [record.getMessage() + repr(record.__dict__) for record in caplog.records]
    assert any("retrying" in t for t in texts), "retries were logged"
    for text in texts:
        assert SECRET not in text


def test_a_server_that_echoes_the_api_key_never_puts_it_in_an_error_or_the_store(
    secret_sim: Simulator, key: Any, tmp_path: Any
) -> None:
    echo = {"message": f"bad request: Authorization: Bearer {SECRET}"}
    headers = {"X-Echo-Authorization": f"Bearer {SECRET}"}
    client = postato.Client(api_key=SECRET, workspace_id="w", base_url=secret_sim.base_url)
    publisher = postato.Publisher(client, store=postato.SqliteStore(str(tmp_path / "posts.db")))
    k = key("echo")
    secret_sim.script(k, [{"action": "respond", "status": 400, "headers": headers, "body": {"error": echo}}])
    with pytest.raises(postato.PermanentPostError) as raised:
        publisher.publish(**post_args(k))
    e = raised.value
    texts = [str(e), repr(e), repr(e.body), repr(e.headers), repr(publisher.store.dead_letters())]
    for text in texts:
        assert SECRET not in text, text
    assert e.headers["x-echo-authorization"] == "Bearer <redacted>"
    files = list(tmp_path.glob("posts.db*"))  # the database and its write-ahead log
    assert files and not any(SECRET.encode() in f.read_bytes() for f in files)
