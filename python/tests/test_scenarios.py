"""Every shared scenario file, through the Python API against the simulator."""

from __future__ import annotations

import json
from typing import Any, Dict

import pytest
from conftest import REPO

import postato
from postato.testing import Simulator

SCENARIOS = sorted((REPO / "tests/scenarios").glob("*.json"))
DEFAULT_POST = {"platform": "x", "accountId": "acc_1", "postType": "post"}


def script_for(steps: list) -> list:
    """The simulator script that stages a scenario's steps (replays are automatic)."""
    actions = []
    for step in steps:
        if step.get("ok"):
            actions.append({"action": "ok"})
        elif "respond" in step:
            action: Dict[str, Any] = {
                "action": "respond",
                "status": step["respond"],
                "headers": step.get("headers", {}),
            }
            if "body" in step:
                action["body"] = step["body"]
            if "bodyText" in step:
                action["bodyText"] = step["bodyText"]
            actions.append(action)
        elif step.get("reset"):
            actions.append({"action": "reset"})
        elif step.get("dropAfterCommit"):
            actions.append({"action": "dropAfterCommit"})
        elif step.get("timeout"):
            actions.append({"action": "hang", "ms": 10_000})
    return actions


def test_there_are_scenarios() -> None:
    assert len(SCENARIOS) >= 25


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_scenario(path: Any, sim: Simulator, key: Any) -> None:
    scenario = json.loads(path.read_text(encoding="utf-8"))
    name = scenario["name"]
    fields = {
        **DEFAULT_POST,
        "businessKey": f"scenario-{name}",
        "content": f"hello from {name}",
        **scenario.get("post", {}),
    }
    if fields["businessKey"]:
        fields["businessKey"] = f"{key()}-{fields['businessKey']}"
    policy = scenario.get("policy", {})
    client = postato.Client(
        api_key=sim.api_key,
        workspace_id="ws_py",
        base_url=sim.base_url,
        max_attempts=policy.get("maxAttempts", 5),
        timeout=policy.get("timeoutMs", 30_000) / 1000,
        deadline=policy["deadlineMs"] / 1000 if "deadlineMs" in policy else None,
        max_rate_limit_waits=policy.get("maxRateLimitWaits", 20),
        fast_forward_waits=True,
    )
    if fields["businessKey"]:
        sim.script(fields["businessKey"], script_for(scenario["steps"]))
    expect = scenario["expect"]
    requests_before = sim.stats().requests
    try:
        post = client.publish(
            fields["businessKey"],
            fields["platform"],
            fields["accountId"],
            fields["content"],
            status=fields.get("status"),
            post_type=fields["postType"],
            scheduled_at=fields.get("scheduledAt"),
        )
        outcome, attempts, status = "published", post.attempts, None
        if "replayed" in expect:
            assert post.replayed == expect["replayed"]
    except postato.PostatoError as error:
        outcome, attempts, status = error.kind, error.attempts, error.status
    assert outcome == expect["result"], name
    assert attempts == expect["attempts"], name
    if outcome != "published":
        assert status == expect.get("status"), name
    if expect["result"] == "invalid_input":
        assert sim.stats().requests == requests_before, "no request for an invalid post"
    elif "platformPublishes" in expect:
        assert sim.publishes(fields["businessKey"]) == expect["platformPublishes"], name
