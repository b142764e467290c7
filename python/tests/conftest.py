"""Fixtures: one simulator per test module, clients pointed at it, unique business keys."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from postato import AsyncClient, Client
from postato.testing import Simulator

REPO = Path(__file__).resolve().parents[2]
# The tests give every setting themselves: the machine's POSTATO_* variables must not change them.
for _name in ("POSTATO_API_KEY", "POSTATO_WORKSPACE_ID", "POSTATO_BASE_URL", "POSTATO_CA_BUNDLE", "POSTATO_LOG"):
    os.environ.pop(_name, None)
_counter = itertools.count()
# Distinguishes runs: stores such as PostgreSQL keep records between runs on one machine.
_RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as simulator:
        yield simulator


@pytest.fixture
def key() -> KeyFactory:
    return KeyFactory()


class KeyFactory:
    def __call__(self, prefix: str = "py") -> str:
        return f"{prefix}-{os.getpid()}-{_RUN}-{next(_counter)}"


@pytest.fixture
def client(sim: Simulator) -> Client:
    return Client(
        api_key=sim.api_key, workspace_id="ws_py", base_url=sim.base_url, fast_forward_waits=True, timeout=5.0
    )


@pytest.fixture
def async_client(sim: Simulator) -> AsyncClient:
    return AsyncClient(
        api_key=sim.api_key, workspace_id="ws_py", base_url=sim.base_url, fast_forward_waits=True, timeout=5.0
    )


def post_args(business_key: str, content: str = "hello") -> dict:
    return {"business_key": business_key, "platform": "x", "account_id": "acc_1", "content": content}
