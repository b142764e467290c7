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
