"""TLS as users meet it: a server whose certificate is not trusted is a setting to fix (never
retried, the API key never sent); the company CA given as ``ca_bundle``, or ``SSL_CERT_FILE``,
is trusted. The server's certificate is the fixture in tests/tls (localhost, valid 2000-2125)."""

import http.server
import ssl
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

import postato

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "tls"
CERTIFICATE = FIXTURE / "localhost.pem"


class _Published(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 (the name http.server calls)
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        body = b'{"id":"post_tls","status":"published"}'
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    """Counts the connections it accepts (a refused handshake included)."""

    connections = 0

    def get_request(self) -> Any:
        _Server.connections += 1
        return super().get_request()


@pytest.fixture
def base_url() -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), _Published)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(CERTIFICATE, FIXTURE / "localhost.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    _Server.connections = 0
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _client(base_url: str, **settings: Any) -> postato.Client:
    return postato.Client(api_key="sk_test_tls", workspace_id="ws_py", base_url=base_url, **settings)


def _publish(client: postato.Client, key: str) -> postato.Post:
    return client.publish(business_key=key, platform="x", account_id="acc_1", content="hello")


def test_an_untrusted_certificate_is_a_setting_to_fix_never_retried(base_url: str) -> None:
    with pytest.raises(postato.InvalidSettingError) as raised:
        _publish(_client(base_url, max_attempts=3, fast_forward_waits=True), "tls-untrusted")
    assert raised.value.field == "caBundle", str(raised.value)
    for said in ("not trusted", "caBundle", "SSL_CERT_FILE", "retrying cannot help"):
        assert said in str(raised.value), str(raised.value)
    assert _Server.connections == 1, "one attempt of the three allowed"


def test_the_company_ca_given_as_ca_bundle_is_trusted(base_url: str) -> None:
    published = _publish(_client(base_url, ca_bundle=CERTIFICATE), "tls-bundle")
    assert (published.id, published.attempts) == ("post_tls", 1)


def test_ssl_cert_file_is_trusted_as_openssl_and_curl_trust_it(base_url: str, monkeypatch: Any) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(CERTIFICATE))
    assert _publish(_client(base_url), "tls-env").id == "post_tls"
