"""A panic inside Rust arrives as a Python exception; the interpreter lives on."""

import asyncio
from typing import Any

import pytest

import postato
from postato import _native
from postato._bridge import running_loop


def test_a_sync_panic_is_an_exception(monkeypatch: Any) -> None:
    monkeypatch.setenv("POSTATO_TEST_PANIC", "1")
    with pytest.raises(BaseException) as raised:
        _native.test_panic()
    assert "deliberate test panic" in str(raised.value)
    assert postato.idempotency_key("still alive") == postato.idempotency_key("still alive")


def test_an_async_panic_is_an_exception(monkeypatch: Any) -> None:
    monkeypatch.setenv("POSTATO_TEST_PANIC", "1")

    async def main() -> None:
        await _native.test_panic_async(*running_loop())

    with pytest.raises(RuntimeError) as raised:
        asyncio.run(main())
    assert "a panic" in str(raised.value)
    assert len(postato.idempotency_key("alive")) == 32


def test_panics_are_off_unless_switched_on(monkeypatch: Any) -> None:
    monkeypatch.delenv("POSTATO_TEST_PANIC", raising=False)
    with pytest.raises(RuntimeError):
        _native.test_panic()
