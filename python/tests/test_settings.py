"""Every Python setting against the table all languages share (tests/vectors/settings.json,
written from ``postato_core::settings``): its name, its range and its default."""

from __future__ import annotations

import dataclasses
import inspect
import json
from typing import Any, Callable, Dict, List

import pytest
from conftest import REPO

import postato
from postato import _native

VECTOR = json.loads((REPO / "tests/vectors/settings.json").read_text(encoding="utf-8"))
PYTHON_SETTINGS: List[Dict[str, Any]] = [s for s in VECTOR["settings"] if s["python"]]

# Every public call that takes a setting.
CALLS: List[Callable[..., Any]] = [
    postato.Client.__init__,
    postato.Client.with_options,
    postato.Client.publish,
    postato.Client.publish_many,
    postato.AsyncClient.publish,
    postato.AsyncClient.publish_many,
    postato.Publisher.__init__,
    postato.Publisher.publish_due,
    postato.PostgresStore.__init__,
    postato.SqliteStore.dead_letters,
]


def in_seconds(setting: Dict[str, Any], value: float) -> float:
    return value / 1000 if setting["unit"] == "ms" else value


def test_every_setting_is_taken_under_the_tables_name_and_left_to_rust_when_not_given() -> None:
    parameters: Dict[str, List[inspect.Parameter]] = {}
    for call in CALLS:
        for parameter in inspect.signature(call).parameters.values():
            parameters.setdefault(parameter.name, []).append(parameter)
    for setting in PYTHON_SETTINGS:
        taken = parameters.get(setting["python"])
        assert taken, f"no call takes {setting['python']}, the Python name of {setting['name']}"
        for parameter in taken:
            # The default lives in Rust: a literal default here would drift from the table.
            assert parameter.default is None, f"{setting['python']} defaults to {parameter.default!r}"


def test_defaults_reports_each_setting_with_the_tables_default() -> None:
    reported = dataclasses.asdict(postato.DEFAULTS)
    assert reported.pop("base_url") == VECTOR["baseUrl"]
    client_settings = {name for name, _ in _native.client_settings()}
    assert set(reported) == client_settings | {"concurrency"}, "DEFAULTS reports every client setting"
    assert client_settings <= set(inspect.signature(postato.Client).parameters), "Client takes every one"
    by_python_name = {s["python"]: s for s in PYTHON_SETTINGS}
    for name, value in reported.items():
        setting = by_python_name[name]
        default = setting["default"]
        assert value == (None if default is None else in_seconds(setting, default)), name


@pytest.mark.parametrize(
    "setting", [s for s in PYTHON_SETTINGS if s["python"] in inspect.signature(postato.Client).parameters]
)
def test_a_client_setting_outside_the_tables_range_is_refused_naming_it(setting: Dict[str, Any]) -> None:
    too_big = in_seconds(setting, setting["max"] + 1)
    with pytest.raises(postato.InvalidSettingError) as raised:
        postato.Client(api_key="k", workspace_id="w", **{setting["python"]: too_big})
    assert raised.value.field == setting["name"]
    assert "give" in str(raised.value)


def test_every_publish_call_takes_every_per_call_option_left_to_rust_when_not_given() -> None:
    publishes = [
        postato.Client.with_options,
        postato.Client.publish,
        postato.Client.publish_many,
        postato.AsyncClient.publish,
        postato.AsyncClient.publish_many,
        postato.Publisher.publish,
        postato.Publisher.publish_many,
        postato.Publisher.publish_async,
        postato.AsyncPublisher.publish,
        postato.AsyncPublisher.publish_many,
    ]
    per_call = [name for name, _ in _native.call_settings()]
    assert per_call == ["deadline", "max_attempts", "timeout"]
    for call in publishes:
        parameters = inspect.signature(call).parameters
        for name in per_call:
            assert parameters[name].default is None, f"{call.__qualname__} takes {name}"
