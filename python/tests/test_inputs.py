"""Bad inputs raise InvalidPostError naming the field (InvalidSettingError for a setting), and make no request."""

from datetime import datetime, timezone
from typing import Any, Dict

import pytest
from conftest import post_args

import postato
from postato.testing import Simulator

CASES = [
    ({"business_key": ""}, "businessKey"),
    ({"business_key": 7}, "businessKey"),
    ({"platform": None}, "platform"),
    ({"account_id": ""}, "accountId"),
    ({"content": ""}, "content"),
    ({"content": 12}, "content"),
    ({"content": []}, "content"),
    ({"content": [{"text": "a"}, {"text": ""}]}, "content[1].text"),
    ({"content": [{"text": "a", "media": [{"id": ""}]}]}, "content[0].media[0].id"),
    ({"content": [{"txt": "a"}]}, "content[0].text"),
    ({"status": "now"}, "status"),
    ({"status": "scheduled"}, "scheduledAt"),
    ({"status": "scheduled", "scheduled_at": datetime(2026, 12, 1, 9, 0)}, "scheduledAt"),
    ({"status": "scheduled", "scheduled_at": "next tuesday"}, "scheduledAt"),
    ({"scheduled_at": 1234}, "scheduledAt"),
    ({"post_type": ""}, "postType"),
]


@pytest.mark.parametrize("change,field", CASES, ids=[f for _, f in CASES])
def test_bad_input_names_the_field_and_sends_nothing(
    client: postato.Client, sim: Simulator, key: Any, change: Dict[str, Any], field: str
) -> None:
    before = sim.stats().requests
    with pytest.raises(postato.InvalidPostError) as raised:
        client.publish(**{**post_args(key()), **change})
    assert raised.value.field == field, str(raised.value)
    assert field in str(raised.value)
    assert isinstance(raised.value, ValueError)
    assert raised.value.kind == "invalid_input"
    assert sim.stats().requests == before


def test_aware_datetimes_and_iso_strings_are_scheduled_in_utc(client: postato.Client, sim: Simulator, key: Any) -> None:
    from datetime import timedelta

    tz = timezone(timedelta(hours=-3))
    post = client.publish(**post_args(key()), status="scheduled", scheduled_at=datetime(2026, 12, 1, 6, 0, tzinfo=tz))
    assert post.status == "scheduled"
    post = client.publish(**post_args(key()), status="scheduled", scheduled_at="2026-12-01T09:00:00Z")
    assert post.status == "scheduled"


def test_invalid_client_settings_are_invalid_setting_errors(sim: Simulator) -> None:
    with pytest.raises(postato.InvalidSettingError) as raised:
        postato.Client(api_key="k", workspace_id="w", base_url="http://example.com")
    assert raised.value.field == "baseUrl"
    with pytest.raises(postato.InvalidSettingError) as raised:
        postato.Client(api_key="k", workspace_id="w", max_attempts=0)
    assert raised.value.field == "maxAttempts"
    with pytest.raises(postato.InvalidSettingError) as raised:
        postato.Client(api_key="k", workspace_id="w", timeout=-1)
    assert raised.value.field == "timeout"
