"""A broken proxy that sends a second, unrequested answer on a kept-open connection: the
client never takes it for the answer to a later post. The stray answer comes a few
milliseconds after the real one, once the next request was sent on the connection; the
echoed ``Idempotency-Key`` tells it apart (see docs/reliability.md)."""

import contextlib
import socket
import threading
import time
from typing import Dict, Iterator, Tuple

import pytest

import postato


def _serve(listener: socket.socket, given: Dict[str, str]) -> None:
    while True:
        try:
            connection, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_answer_twice, args=(connection, given), daemon=True).start()


def _answer_twice(connection: socket.socket, given: Dict[str, str]) -> None:
    pending = b""
    with connection, contextlib.suppress(OSError):  # the client may close it at any time
        while True:
            while b"\r\n\r\n" not in pending:
                chunk = connection.recv(65536)
                if not chunk:
                    return
                pending += chunk
            head, _, rest = pending.partition(b"\r\n\r\n")
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in head.decode().split("\r\n")[1:])
            }
            length = int(headers.get("content-length", "0"))
            while len(rest) < length:
                rest += connection.recv(65536)
            pending = rest[length:]
            key = headers["idempotency-key"]
            post_id = given.setdefault(key, f"post_{len(given)}")
            body = f'{{"id":"{post_id}","status":"published"}}'.encode()
            answer = (
                f"HTTP/1.1 201 Created\r\nIdempotency-Key: {key}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
            )
            connection.sendall(answer)
            time.sleep(0.005)
            connection.sendall(answer)  # the stray copy


@pytest.fixture
def server() -> Iterator[Tuple[str, Dict[str, str]]]:
    listener = socket.create_server(("127.0.0.1", 0))
    given: Dict[str, str] = {}
    threading.Thread(target=_serve, args=(listener, given), daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}", given
    listener.close()


def test_a_stray_answer_is_never_taken_for_the_answer_to_a_later_post(server: Tuple[str, Dict[str, str]]) -> None:
    base_url, given = server
    client = postato.Client(api_key="sk_test_stray", workspace_id="ws_py", base_url=base_url, fast_forward_waits=True)
    for i in range(10):
        business_key = f"stray-{i}"
        published = client.publish(business_key=business_key, platform="x", account_id="acc_1", content="hello")
        assert published.id == given.get(postato.idempotency_key(business_key)), (i, published, given)
