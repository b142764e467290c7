"""Retries are logged through the `postato` logger with attempt, status, reason and delay."""

import logging
from typing import Any

from conftest import post_args

import postato
from postato.testing import Simulator


def test_retries_are_logged_with_their_fields(client: postato.Client, sim: Simulator, key: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="postato")
    k = key("log")
    sim.script(k, [{"action": "respond", "status": 503}, {"action": "reset"}, {"action": "ok"}])
    client.publish(**post_args(k))
    retries = [r for r in caplog.records if r.name == "postato" and r.getMessage().startswith("retrying")]
    assert len(retries) == 2
    first: Any = retries[0]
    assert (first.business_key, first.attempt, first.status) == (k, 2, 503)
    assert "503" in first.reason and first.delay >= 1.0
    second: Any = retries[1]
    assert second.status is None and "transport" in second.reason


def test_failures_are_logged_as_warnings(client: postato.Client, sim: Simulator, key: Any, caplog: Any) -> None:
    caplog.set_level(logging.INFO, logger="postato")
    k = key("logfail")
    sim.script(k, [{"action": "respond", "status": 403}])
    try:
        client.publish(**post_args(k))
    except postato.PermanentPostError:
        pass
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and r.name == "postato"]
    assert warnings and "permanent" in warnings[0].getMessage()
