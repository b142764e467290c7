"""``default_headers`` and ``http_proxy``, as a server and a proxy see them: a stand-in that
keeps each request's line and headers and answers as the API would."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Tuple

import pytest

import postato


class _StandIn(BaseHTTPRequestHandler):
    seen: List[Tuple[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.seen.append((self.requestline, self.headers))
        body = json.dumps({"id": "post_standin", "status": "published"}).encode()
        self.send_response(202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def stand_in() -> Iterator[Tuple[str, List[Tuple[str, Any]]]]:
    seen: List[Tuple[str, Any]] = []
    handler = type("Handler", (_StandIn,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _publish(client: postato.Client, key: str) -> postato.Post:
    return client.publish(key, "x", "acc_1", "hello")


def test_default_headers_go_with_every_request_and_a_user_agent_before_postatos(stand_in: Any) -> None:
    address, seen = stand_in
    client = postato.Client(
        "sk_live_standin",
        "ws_py",
        base_url=f"http://{address}",
        default_headers={"X-Team": "growth", "User-Agent": "my-app/2.1"},
    )
    assert _publish(client, "headers-1").id == "post_standin"
    _publish(client, "headers-2")
    assert len(seen) == 2
    for _, headers in seen:
        assert headers["X-Team"] == "growth"
        assert headers["User-Agent"].startswith("my-app/2.1 postato/")
        assert headers["Authorization"] == "Bearer sk_live_standin"


@pytest.mark.parametrize("name", ["Authorization", "Idempotency-Key", "content-type", "Host"])
def test_the_headers_postato_sets_cannot_be_given(name: str) -> None:
    with pytest.raises(postato.InvalidSettingError) as refused:
        postato.Client("k", "ws_py", base_url="http://127.0.0.1:9", default_headers={name: "hunter2"})
    assert refused.value.field == "defaultHeaders"
    assert name in str(refused.value) and "hunter2" not in str(refused.value)
    assert "default_headers" in str(refused.value)


def test_default_headers_of_the_wrong_type_are_refused_by_name() -> None:
    for bad in (["X-Team", "growth"], {"X-Team": 3}):
        with pytest.raises(postato.InvalidSettingError, match="default_headers") as refused:
            postato.Client("k", "ws_py", base_url="http://127.0.0.1:9", default_headers=bad)  # type: ignore[arg-type]
        assert refused.value.field == "defaultHeaders"


def test_a_proxy_carries_every_request_with_its_credentials(stand_in: Any) -> None:
    address, seen = stand_in
    # Nothing listens at the base URL: only the proxy can answer.
    client = postato.Client(
        "sk_live_standin", "ws_py", base_url="http://127.0.0.1:9", http_proxy=f"http://team:hunter2@{address}"
    )
    assert _publish(client, "proxied").id == "post_standin"
    [(line, headers)] = seen
    assert line == "POST http://127.0.0.1:9/v1/workspaces/ws_py/posts HTTP/1.1"
    assert headers["Proxy-Authorization"] == "Basic " + base64.b64encode(b"team:hunter2").decode()
    assert "hunter2" not in repr(client)


def test_a_proxy_that_is_not_an_http_url_is_refused_without_its_credentials() -> None:
    with pytest.raises(postato.InvalidSettingError) as refused:
        postato.Client("k", "ws_py", base_url="http://127.0.0.1:9", http_proxy="socks5://team:hunter2@proxy:1080")
    assert refused.value.field == "httpProxy"
    assert "http_proxy" in str(refused.value) and "hunter2" not in str(refused.value)
    with pytest.raises(postato.InvalidSettingError, match="http_proxy"):
        postato.Client("k", "ws_py", base_url="http://127.0.0.1:9", http_proxy=3128)  # type: ignore[arg-type]
