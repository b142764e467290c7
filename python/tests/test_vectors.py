"""The shared idempotency vectors, through the Python API."""

import json

import pytest
from conftest import REPO

import postato


def test_every_vector_matches_the_reference() -> None:
    cases = json.loads((REPO / "tests/vectors/idempotency-keys.json").read_text(encoding="utf-8"))["cases"]
    assert len(cases) >= 10
    for case in cases:
        assert postato.idempotency_key(case["businessKey"]) == case["idempotencyKey"]


def test_a_non_string_business_key_is_invalid() -> None:
    with pytest.raises(postato.InvalidPostError) as raised:
        postato.idempotency_key(42)  # type: ignore[arg-type]
    assert raised.value.field == "businessKey"


def test_a_client_left_at_its_defaults_uses_them() -> None:
    client = postato.Client(api_key="k", workspace_id="w")
    assert client.base_url == postato.DEFAULTS.base_url


def test_the_test_kit_is_its_own_package_and_postato_testing_re_exports_it() -> None:
    import postato_testing
    import postato_testing._native as kit

    import postato._native as production
    from postato.testing import Simulator

    assert Simulator is postato_testing.Simulator
    assert not hasattr(production, "NativeSimulator")
    assert kit.__file__ != production.__file__
