"""#20's conventions: a retry hook that sees every retry, POSTATO_LOG, error metadata (headers
and request id), per-call options (keywords and ``with_options``), settings from the
environment, keyword-only signatures."""

from __future__ import annotations

import asyncio
import os
import pickle
import subprocess
import sys
from typing import Any, Callable, Dict, List

import pytest
from conftest import REPO, post_args

import postato
from postato.testing import Simulator


def _failing(sim: Simulator, k: str, n: int, status: int = 503) -> None:
    sim.script(k, [{"action": "respond", "status": status}] * n)


def _attempts_of_failure(publish: Any, error: type = postato.TransientPostError) -> int:
    """The attempts of the error ``publish()`` must raise."""
    with pytest.raises(error) as caught:
        publish()
    return int(caught.value.attempts)


def _client(sim: Simulator, **kwargs: Any) -> postato.Client:
    settings = {"timeout": 5.0, **kwargs}
    return postato.Client(sim.api_key, "ws_py", base_url=sim.base_url, fast_forward_waits=True, **settings)


# --- events -------------------------------------------------------------------------------


def test_a_published_post_carries_its_request_id(sim: Simulator, key: Any) -> None:
    published = _client(sim).publish(**post_args(key("py-request-id")))
    assert published.request_id is not None and published.request_id.startswith("req_"), published


def test_on_retry_sees_every_retry_with_its_fields(sim: Simulator, key: Any) -> None:
    seen: List[postato.RetryEvent] = []
    k = key("hook")
    sim.script(k, [{"action": "respond", "status": 503}, {"action": "reset"}, {"action": "ok"}])
    published = _client(sim, on_retry=seen.append).publish(**post_args(k))
    assert published.attempts == 3
    assert [(e.business_key, e.attempt, e.status) for e in seen] == [(k, 2, 503), (k, 3, None)]
    assert "503" in seen[0].reason and seen[0].delay > 0 and "transport" in seen[1].reason


def test_on_retry_sees_a_rate_limit_wait_with_its_429(sim: Simulator, key: Any) -> None:
    seen: List[postato.RetryEvent] = []
    k = key("hook-429")
    sim.script(k, [{"action": "respond", "status": 429, "headers": {"Retry-After": "2"}}, {"action": "ok"}])
    assert _client(sim, on_retry=seen.append).publish(**post_args(k)).attempts == 2
    assert [(e.attempt, e.status, e.delay) for e in seen] == [(2, 429, 2.0)]


def test_a_publisher_refuses_a_client_with_per_call_options(sim: Simulator) -> None:
    with pytest.raises(postato.InvalidSettingError, match="with_options"):
        postato.Publisher(_client(sim).with_options(deadline=5.0))


def test_postato_log_reads_the_cli_filter_syntax() -> None:
    from postato import _native

    assert _native.log_level("hyper=warn,postato=debug") == "debug"
    assert _native.log_level("info") == "info"
    assert _native.log_level("hyper=warn") == "warn"


def test_on_retry_is_called_for_async_publishes_too(sim: Simulator, key: Any) -> None:
    seen: List[postato.RetryEvent] = []
    k = key("hook-async")
    _failing(sim, k, 2)
    client = postato.AsyncClient(
        sim.api_key, "ws_py", base_url=sim.base_url, fast_forward_waits=True, on_retry=seen.append
    )
    asyncio.run(client.publish(**post_args(k)))
    assert [e.attempt for e in seen] == [2, 3]


def test_a_hook_that_raises_does_not_fail_the_publish(sim: Simulator, key: Any, caplog: Any) -> None:
    def broken(event: postato.RetryEvent) -> None:
        raise RuntimeError("hook bug")

    k = key("hook-raises")
    _failing(sim, k, 1)
    assert _client(sim, on_retry=broken).publish(**post_args(k)).attempts == 2
    assert any("on_retry hook raised" in r.getMessage() for r in caplog.records)


def test_on_retry_must_be_callable(sim: Simulator) -> None:
    with pytest.raises(postato.InvalidSettingError, match="on_retry"):
        _client(sim, on_retry="print")


def test_postato_log_logs_retries_to_stderr(sim: Simulator, key: Any) -> None:
    k = key("postato-log")
    _failing(sim, k, 1)
    script = (
        "import postato\n"
        f"c = postato.Client({sim.api_key!r}, 'ws_py', base_url={sim.base_url!r}, fast_forward_waits=True)\n"
        f"c.publish({k!r}, 'x', 'acc_1', 'hello')\n"
    )
    env = {**os.environ, "POSTATO_LOG": "info"}
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert f"retrying {k}: attempt 2" in run.stderr
    quiet = subprocess.run(
        [sys.executable, "-c", "import postato, logging; print(logging.getLogger('postato').handlers)"],
        env={k: v for k, v in os.environ.items() if k != "POSTATO_LOG"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert quiet.stdout.strip() == "[]", "no handler unless POSTATO_LOG asks for one"


# --- error metadata ------------------------------------------------------------------------


def test_errors_carry_the_answer_s_headers_and_request_id(sim: Simulator, key: Any) -> None:
    k = key("meta")
    sim.script(k, [{"action": "respond", "status": 400, "headers": {"X-Trace": "t-1"}}])
    with pytest.raises(postato.PermanentPostError) as caught:
        _client(sim).publish(**post_args(k))
    error = caught.value
    assert error.headers["x-trace"] == "t-1"
    assert error.request_id is not None and error.request_id.startswith("req_")
    assert error.headers["x-request-id"] == error.request_id
    again = pickle.loads(pickle.dumps(error))
    assert (again.headers, again.request_id) == (error.headers, error.request_id)
    assert "request_id=" in repr(error)


def test_a_transient_error_carries_the_last_answer_s_request_id(sim: Simulator, key: Any) -> None:
    k = key("meta-transient")
    _failing(sim, k, 2)
    with pytest.raises(postato.TransientPostError) as caught:
        _client(sim, max_attempts=2).publish(**post_args(k))
    assert caught.value.request_id is not None and caught.value.headers


def test_an_invalid_post_has_no_metadata(sim: Simulator, key: Any) -> None:
    with pytest.raises(postato.InvalidPostError) as caught:
        _client(sim).publish(key("meta-invalid"), "", "acc_1", "hello")
    assert (caught.value.headers, caught.value.request_id) == ({}, None)


# --- per-call options ----------------------------------------------------------------------


def test_per_call_max_attempts_changes_one_publish(sim: Simulator, key: Any) -> None:
    client = _client(sim, max_attempts=5)
    k = key("call-attempts")
    _failing(sim, k, 5)
    assert _attempts_of_failure(lambda: client.publish(**post_args(k), max_attempts=2)) == 2
    k = key("call-usual")
    _failing(sim, k, 5)
    assert _attempts_of_failure(lambda: client.publish(**post_args(k))) == 5


def test_a_publishers_publish_takes_its_own_options_checked_before_the_store(sim: Simulator, key: Any) -> None:
    publisher = postato.Publisher(_client(sim, max_attempts=5))
    recorded = key("publisher-call-recorded")
    publisher.publish(**post_args(recorded))
    with pytest.raises(postato.InvalidSettingError) as refused:
        publisher.publish(**post_args(recorded), max_attempts=0)  # refused, not answered from the store
    assert refused.value.field == "maxAttempts"
    k = key("publisher-call-attempts")
    _failing(sim, k, 5)
    assert _attempts_of_failure(lambda: publisher.publish(**post_args(k), max_attempts=2)) == 2

    async def main() -> None:
        k = key("publisher-call-attempts-async")
        _failing(sim, k, 5)
        with pytest.raises(postato.TransientPostError) as failed:
            await publisher.publish_async(**post_args(k), max_attempts=1)
        assert failed.value.attempts == 1

    asyncio.run(main())


def test_with_options_applies_to_every_publish_of_the_copy_and_keywords_win(sim: Simulator, key: Any) -> None:
    client = _client(sim, max_attempts=5, backoff_base=0.1, backoff_cap=1.0)
    urgent = client.with_options(max_attempts=3)
    assert urgent.workspace_id == client.workspace_id
    k = key("with-options")
    _failing(sim, k, 5)
    assert _attempts_of_failure(lambda: urgent.publish(**post_args(k))) == 3
    k = key("with-options-keyword")
    _failing(sim, k, 5)
    assert _attempts_of_failure(lambda: urgent.publish(**post_args(k), max_attempts=1)) == 1
    k = key("with-options-deadline")
    _failing(sim, k, 5)
    late = client.with_options(deadline=0.05)
    assert _attempts_of_failure(lambda: late.publish(**post_args(k)), postato.DeadlineExceededError) == 1


def test_per_call_options_are_checked_by_the_client_settings_rules(sim: Simulator, key: Any) -> None:
    client = _client(sim)
    before = sim.stats().requests
    for bad in (0, 101, 2**32 + 3, 2.5):
        with pytest.raises(postato.InvalidSettingError, match=r"max_attempts \(maxAttempts\)"):
            client.publish(**post_args(key("call-bad")), max_attempts=bad)
    with pytest.raises(postato.InvalidSettingError, match="deadline"):
        client.with_options(deadline=0)
    with pytest.raises(postato.InvalidSettingError, match="max_attempts"):
        client.with_options(max_attempts="3")  # type: ignore[arg-type]
    assert sim.stats().requests == before


def test_async_per_call_options_and_publish_many(sim: Simulator, key: Any) -> None:
    client = postato.AsyncClient(sim.api_key, "ws_py", base_url=sim.base_url, fast_forward_waits=True, max_attempts=5)
    k = key("call-async")
    _failing(sim, k, 5)
    with pytest.raises(postato.TransientPostError) as caught:
        asyncio.run(client.publish(**post_args(k), max_attempts=2))
    assert caught.value.attempts == 2
    keys = [key("call-many"), key("call-many")]
    for k in keys:
        _failing(sim, k, 5)
    results = _client(sim, max_attempts=5).with_options(max_attempts=2).publish_many([post_args(k) for k in keys])
    assert [r.attempts for r in results] == [2, 2]


def test_a_per_call_timeout_ends_each_attempt_of_every_kind_of_publish_as_a_timeout(sim: Simulator, key: Any) -> None:
    # Each attempt hangs for 60 s and then loses its connection: only the per-call timeout ends
    # it as a timeout (an ignored one would end it as a lost connection, a minute later).
    settings: Dict[str, Any] = {"max_attempts": 1, "timeout": 120.0}
    client = postato.Client(sim.api_key, "ws_py", base_url=sim.base_url, **settings)
    async_client = postato.AsyncClient(sim.api_key, "ws_py", base_url=sim.base_url, **settings)

    def hanging(prefix: str) -> Dict[str, Any]:
        k = key(prefix)
        sim.script(k, [{"action": "hang", "ms": 60_000}])
        return post_args(k)

    def timed_out(error: BaseException) -> None:
        assert isinstance(error, postato.TransientPostError) and error.attempts == 1, error
        assert "timed out" in str(error) or "timeout" in str(error), error

    calls: List[Callable[[], Any]] = [
        lambda: client.publish(**hanging("call-timeout"), timeout=1.0),
        lambda: client.with_options(timeout=1.0).publish(**hanging("call-timeout-copy")),
        lambda: postato.Publisher(client).publish(**hanging("call-timeout-publisher"), timeout=1.0),
        lambda: asyncio.run(async_client.publish(**hanging("call-timeout-async"), timeout=1.0)),
        lambda: asyncio.run(postato.Publisher(async_client).publish_async(**hanging("call-timeout-pa"), timeout=1.0)),
    ]
    for call in calls:
        with pytest.raises(postato.TransientPostError) as caught:
            call()
        timed_out(caught.value)
    [entry] = client.publish_many([hanging("call-timeout-many")], timeout=1.0)
    timed_out(entry)  # type: ignore[arg-type]
    [entry] = asyncio.run(async_client.publish_many([hanging("call-timeout-many-async")], timeout=1.0))
    timed_out(entry)  # type: ignore[arg-type]
    for bad in (0, 3600):
        with pytest.raises(postato.InvalidSettingError, match="timeout"):
            client.publish(**post_args(key("call-timeout-bad")), timeout=bad)


# --- settings from the environment -----------------------------------------------------------


def test_settings_come_from_the_environment_and_arguments_win(
    sim: Simulator, key: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POSTATO_API_KEY", sim.api_key)
    monkeypatch.setenv("POSTATO_WORKSPACE_ID", "ws_env")
    monkeypatch.setenv("POSTATO_BASE_URL", sim.base_url)
    client = postato.Client(fast_forward_waits=True)
    assert (client.workspace_id, client.base_url) == ("ws_env", sim.base_url)
    assert client.publish(**post_args(key("env"))).attempts == 1
    assert sim.api_key not in repr(client)
    assert postato.Client(workspace_id="ws_arg").workspace_id == "ws_arg"
    for variable in ("POSTATO_BASE_URL", "POSTATO_API_KEY"):
        monkeypatch.setenv(variable, "")
        with pytest.raises(postato.InvalidSettingError) as empty:
            postato.Client()
        # Named as it is set, never as a keyword argument would be.
        assert str(empty.value).startswith(f"invalid setting: {variable}: is set but empty"), str(empty.value)
        monkeypatch.setenv(variable, sim.base_url if variable == "POSTATO_BASE_URL" else sim.api_key)
    monkeypatch.delenv("POSTATO_BASE_URL")
    monkeypatch.delenv("POSTATO_API_KEY")
    # A missing API key is a setting to give, never an invalid post.
    with pytest.raises(postato.InvalidSettingError, match="POSTATO_API_KEY") as missing:
        postato.Client()
    assert sim.api_key not in str(missing.value)
    assert not isinstance(missing.value, postato.InvalidPostError)


# --- signatures -----------------------------------------------------------------------------


def test_settings_and_post_options_are_keyword_only(sim: Simulator) -> None:
    with pytest.raises(TypeError):
        postato.Client(sim.api_key, "ws_py", sim.base_url)  # type: ignore[misc]
    with pytest.raises(TypeError):
        _client(sim).publish("k", "x", "acc_1", "hello", "publish")  # type: ignore[misc]


def test_the_typing_check_example_uses_the_literal_and_typed_dict_types() -> None:
    source = (REPO / "python" / "examples" / "typing_check.py").read_text()
    assert "ThreadItem" in source and "with_options" in source
