"""Bounded previews of payloads: exact when small, bounded when large, never a half secret."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peft_studio_offline.core.masking import MASK, mask_secrets
from peft_studio_offline.core.payload_preview import (
    CUT,
    format_whole,
    preview,
    read_prefix,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=30,
)
payloads = st.dictionaries(st.text(max_size=8), json_values, max_size=6)


@given(payloads, st.sampled_from([None, 2]))
@settings(max_examples=200, deadline=None)
def test_a_whole_text_reads_back_exactly(payload: dict[str, Any], indent: int | None) -> None:
    text = json.dumps(payload, indent=indent, ensure_ascii=indent is None)
    assert read_prefix(text, None) == (payload, False)


@given(payloads)
@settings(max_examples=100, deadline=None)
def test_any_start_of_a_text_reads_without_error_and_shows_no_half_value(
    payload: dict[str, Any],
) -> None:
    text = json.dumps(payload, ensure_ascii=False)
    whole_strings = _strings(payload) | {CUT}
    for end in range(len(text) + 1):
        value, cut = read_prefix(text[:end], None, complete=False)
        assert cut or end == len(text)
        assert _strings(value) <= whole_strings


def _strings(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set(value) | {s for item in value.values() for s in _strings(item)}
    if isinstance(value, list):
        return {s for item in value for s in _strings(item)}
    return set()


def test_a_large_payload_gives_a_bounded_masked_preview() -> None:
    payload = {
        "headers": {"Authorization": "Bearer sekrit"},
        "url": "https://user:hunter2@example.org/x",
        "metrics": [{"key": "loss", "value": i / 7, "step": i} for i in range(200_000)],
    }
    text = json.dumps(payload)
    shown = preview(text, 64 * 1024)
    assert shown.truncated
    assert shown.size == len(text)
    assert len(shown.text) <= 64 * 1024 + 2
    assert "sekrit" not in shown.text and "hunter2" not in shown.text
    assert MASK in shown.text
    assert shown.text.endswith(CUT)


def test_one_huge_string_is_masked_whole_then_cut() -> None:
    secret_url = "https://me:pa55word@host/" + "p" * 5_000_000
    text = json.dumps({"url": secret_url, "note": "after"})
    shown = preview(text, 1024, indent=None)
    assert shown.truncated and len(shown.text) <= 1030
    assert "pa55word" not in shown.text and "https://me:***@host/ppp" in shown.text


def test_a_string_cut_by_the_end_of_a_partial_text_is_left_out() -> None:
    text = json.dumps({"a": 1, "url": "https://me:pa55word@host/x"})
    cut_inside_password = text[: text.index("55word")]
    shown = preview(cut_inside_password, 1024, complete=False, size=len(text), indent=None)
    assert shown.text == '{"a": 1, "…": "…"}'
    assert shown.truncated and shown.size == len(text)


def test_a_small_payload_is_shown_exactly_and_whole() -> None:
    payload = {"endpoint": "/api/models", "method": "GET", "token": "t0k", "n": [1, 2.5, None]}
    shown = preview(json.dumps(payload), 64 * 1024)
    assert not shown.truncated
    assert json.loads(shown.text) == mask_secrets(payload)


def test_the_whole_view_masks_and_breaks_long_lines() -> None:
    payload = {"password": "pw", "data": "x" * 10_000, "n": 1}
    out = format_whole(json.dumps(payload), line_limit=1000)
    assert max(len(line) for line in out.split("\n")) <= 1000
    assert '"password": "***"' in out
    assert out.replace("\n", "").count("x") == 10_000


def test_a_small_text_keeps_huge_integers_exact_and_refuses_what_is_not_json() -> None:
    """Small texts take the C decoder: it must read as the careful reader does."""
    from peft_studio_offline.core.payload_preview import read_prefix

    assert read_prefix('{"n": 1000000000000000000000000000000}', None) == ({"n": 10**30}, False)
    with pytest.raises(ValueError):
        read_prefix('{"n": NaN}', None)
