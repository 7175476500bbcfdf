"""A text search of the queue matches what is shown (secrets masked), wildcards taken literally."""

from __future__ import annotations

import string
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from peft_studio_offline.core.queue import OfflineQueueManager

HIDDEN = "zq81xv73wk55"


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    async with OfflineQueueManager(tmp_path / "q.db") as q:
        yield q


async def found(queue: OfflineQueueManager, text: str) -> list[int]:
    ids = [op.id for op in await queue.list_operations(search=text)]
    assert await queue.count_operations(search=text) == len(ids)
    return ids


async def test_a_masked_value_cannot_be_read_back_through_the_search(
    queue: OfflineQueueManager,
) -> None:
    secret_header = await queue.enqueue(
        "api_call", {"endpoint": "/m", "headers": {"X-Api-Key": HIDDEN}}
    )
    in_url = await queue.enqueue("api_call", {"url": f"https://h/x?access_token={HIDDEN}"})
    failed = await queue.enqueue("api_call", {"endpoint": "/n"})
    await queue.mark_failed(failed, f"The server said: Authorization: Bearer {HIDDEN}")
    # Guessing the hidden value one character at a time finds nothing...
    for guess in (HIDDEN[:2], HIDDEN[:4], HIDDEN, '"X-Api-Key":"z', "access_token=z"):
        assert await found(queue, guess) == [], guess
    # ...while what is shown is found, the mask included.
    assert await found(queue, '"X-Api-Key":"***"') == [secret_header]
    assert await found(queue, "access_token=***") == [in_url]
    assert await found(queue, "Bearer ***") == [failed]
    assert await found(queue, "x-api-key") == [secret_header]


async def test_like_wildcards_are_taken_literally(queue: OfflineQueueManager) -> None:
    plain = await queue.enqueue("api_call", {"endpoint": "/models", "data": {"name": "lora"}})
    percent = await queue.enqueue("api_call", {"endpoint": "/m", "data": {"share": "50%"}})
    underscore = await queue.enqueue("api_call", {"endpoint": "/m", "data": {"run_id": "r"}})
    assert await found(queue, "%") == [percent]
    assert await found(queue, "un_i") == [underscore]
    assert await found(queue, "m_dels") == []
    assert await found(queue, "0%") == [percent]
    assert await found(queue, "\\") == []
    assert plain in await found(queue, "lora")


_TEXT = st.text(alphabet=string.ascii_letters + string.digits + '*"%_ :=-/@', max_size=12)


@settings(max_examples=300, deadline=None)
@given(
    value=_TEXT,
    key=st.sampled_from(["note", "token", "url", "password", "message"]),
    scheme=st.sampled_from(["", "Bearer ", "https://me:"]),
    needle=_TEXT.filter(lambda s: s.strip() != ""),
)
def test_the_sql_search_matches_exactly_the_shown_text(
    value: str, key: str, scheme: str, needle: str
) -> None:
    """The SQL side (narrowing, then ``shown_has``) finds what the shown text holds, only that."""
    import json

    from peft_studio_offline.core.masking import shown_payload_text
    from peft_studio_offline.core.queue._search import _MASK_CHARACTERS, shown_has

    payload = {key: value, "other": f"{scheme}{value}"}
    stored = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    shown = needle.casefold() in shown_payload_text(payload).casefold()
    assert shown_has(stored, None, None, needle.casefold()) is shown
    if shown:  # every piece the SQL narrows on is in the stored text
        for piece in _MASK_CHARACTERS.split(needle):
            assert piece.casefold() in stored.casefold()
