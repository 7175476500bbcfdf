"""Payload encoding: every shape of plain JSON is written fast and read back the same; every
refusal keeps its sentence, however deep in the payload the bad value sits."""

from __future__ import annotations

import dataclasses
import json
import math
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.queue._codec import decode_payload, encode_payload

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
plain_json = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(st.text(), plain_json, max_size=6))
def test_plain_json_of_any_shape_reads_back_the_same(payload: dict[str, Any]) -> None:
    try:
        text, blob = encode_payload(payload, 0)
    except InvalidOperationError as exc:  # only text Python holds and UTF-8 cannot
        assert "lone surrogate" in str(exc)
        return
    assert blob is None
    assert decode_payload(text, None) == payload
    assert json.loads(text) == payload


@dataclasses.dataclass
class Point:
    x: int


def _nested(value: object) -> dict[str, Any]:
    return {"run_id": "r", "metrics": {"loss": [1.0, {"deep": value}]}}


@pytest.mark.parametrize(
    ("value", "sentence"),
    [
        (math.nan, "cannot be stored as JSON: Out of range float values"),
        (math.inf, "cannot be stored as JSON: Out of range float values"),
        ("\ud800", "not valid Unicode (a lone surrogate)"),
        (uuid.UUID(int=1), "cannot be stored as JSON: Object of type UUID"),
        (Point(1), "cannot be stored as JSON: Object of type Point"),
        ({1: "a"}, "Payload keys must be strings; 1 is a int."),
    ],
)
def test_a_bad_value_deep_inside_is_refused_with_its_sentence(value: object, sentence: str) -> None:
    with pytest.raises(InvalidOperationError) as caught:
        encode_payload(_nested(value), 0)
    assert sentence in str(caught.value)


def test_an_integer_beyond_64_bits_is_kept_exactly() -> None:
    payload = _nested(2**70 + 1)
    text, _ = encode_payload(payload, 0)
    assert decode_payload(text, None) == payload


def test_deep_but_storable_nesting_is_kept_and_a_payload_holding_itself_refused() -> None:
    deep: dict[str, Any] = {}
    cursor = deep
    for _ in range(600):  # deeper than orjson goes, within what the queue keeps
        cursor["a"] = {}
        cursor = cursor["a"]
    text, _ = encode_payload(deep, 0)
    assert decode_payload(text, None) == deep
    looped: dict[str, Any] = {"a": [1]}
    looped["a"].append(looped)
    with pytest.raises(InvalidOperationError, match="nested too deeply"):
        encode_payload(looped, 0)


def test_tuples_and_subclasses_are_written_as_json_writes_them() -> None:
    class Name(str):
        pass

    payload = {"pair": (1, 2), "name": Name("x"), "inner": {"t": (True, None)}}
    text, _ = encode_payload(payload, 0)
    assert json.loads(text) == {"pair": [1, 2], "name": "x", "inner": {"t": [True, None]}}
