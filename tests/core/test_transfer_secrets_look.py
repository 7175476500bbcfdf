"""The export's quick look for secrets never says "none" where the full checks find one."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from peft_studio_offline.core.masking import SEALED, SHOWN, payload_secrets
from peft_studio_offline.core.sealing import holds_sealed
from peft_studio_offline.core.transfer._export import _may_hold_secrets

KEYS = st.sampled_from(
    ["url", "data", "n", "headers", "Authorization", "api_key", "password", "x-Token",
     "cookie", "note", SEALED, SHOWN, "step"]
)  # fmt: skip
TEXT = st.sampled_from(
    ["", "abc", "plain words", "https://user:hunter22@example.org/x", "a@b", "s3cr3t-value"]
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
ENVELOPE = st.builds(lambda t: {SEALED: f"v1.k1.{t}", SHOWN: "***"}, st.text(max_size=5))
VALUES = st.recursive(
    st.one_of(SCALARS, ENVELOPE),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=5))
def test_whatever_the_full_checks_find_the_quick_look_sees(payload: dict[str, Any]) -> None:
    if payload_secrets(payload) or holds_sealed(payload):
        assert _may_hold_secrets(payload)


def test_a_plain_payload_needs_no_full_check_and_odd_values_get_one() -> None:
    assert not _may_hold_secrets({"url": "http://127.0.0.1/x", "data": {"n": [1, 2.5, None]}})
    assert _may_hold_secrets({"url": "http://127.0.0.1/x", "data": (1, 2)})
    assert _may_hold_secrets({"headers": {"Authorization": "Bearer abcdef"}})
    assert _may_hold_secrets({"nested": [{SEALED: "v1.k.x"}]})
