"""Summaries: operations read for lists at a cost that does not grow with the payload."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peft_studio_offline import OfflineQueueManager, OperationType
from peft_studio_offline.core.masking import MASK
from peft_studio_offline.core.queue._rows import PAYLOAD_HEAD_CHARS


def _big_payload(megabytes: int) -> dict[str, object]:
    return {
        "url": "https://user:hunter2@example.org/upload",
        "headers": {"Authorization": "Bearer sekrit"},
        "data": [{"key": f"k{i}", "value": i} for i in range(megabytes * 40_000)],
    }


@pytest.mark.parametrize("compress_threshold", [0, 256 * 1024], ids=["plain", "compressed"])
async def test_a_large_payload_is_summarised_by_its_start_and_size(
    db_path: Path, compress_threshold: int
) -> None:
    payload = _big_payload(10)
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    async with OfflineQueueManager(db_path, compress_threshold=compress_threshold) as queue:
        op_id = await queue.enqueue(OperationType.API_CALL, payload)
        summary = await queue.get_summary(op_id)
        assert summary is not None
        assert summary.payload_size == len(text.encode())
        assert not summary.payload_complete
        assert len(summary.payload_head) <= 4 * PAYLOAD_HEAD_CHARS
        assert text.startswith(summary.payload_head)
        assert summary.small_payload() is None
        preview = summary.payload_preview(1024)
        assert len(preview) <= 1030
        assert "hunter2" not in preview and "sekrit" not in preview and MASK in preview
        item = summary.to_dict()
        assert item["payload"] is None and item["payload_truncated"] is True
        assert len(json.dumps(item)) < 4096

        assert await queue.get_payload_text(op_id) == text
        assert await queue.get_payload_text(op_id + 1) is None
        assert await queue.wait_reason(op_id) == "Ready: waiting for the next sync."


async def test_a_small_payload_is_carried_whole(db_path: Path) -> None:
    payload = {"endpoint": "/api/models", "method": "GET", "token": "t0k", "n": 1.5}
    async with OfflineQueueManager(db_path) as queue:
        op_id = await queue.enqueue(OperationType.API_CALL, payload)
        [summary] = await queue.list_summaries()
        assert summary.id == op_id and summary.payload_complete
        assert summary.small_payload() == payload
        item = summary.to_dict()
        assert item["payload"] == payload and item["payload_truncated"] is False
        assert item["payload_size"] == len(json.dumps(payload, separators=(",", ":")))
        operation = await queue.get_operation(op_id)
        assert operation is not None
        full = operation.to_dict()
        assert {k: v for k, v in item.items() if k in full} == full


async def test_summaries_take_the_filters_and_ids(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        ids = [
            await queue.enqueue(OperationType.API_CALL, {"url": f"http://h/{i}"}) for i in range(5)
        ]
        await queue.enqueue(OperationType.METRIC_LOG, {"run_id": "r", "metrics": {"a": 1}})
        picked = await queue.list_summaries(ids=[ids[1], ids[3], 999])
        assert [s.id for s in picked] == [ids[1], ids[3]]
        typed = await queue.list_summaries(operation_type="metric_log")
        assert [s.operation_type for s in typed] == [OperationType.METRIC_LOG]
        searched = await queue.list_summaries(search="h/4", ids=ids)
        assert [s.id for s in searched] == [ids[4]]
        assert await queue.list_summaries(ids=[]) == []


async def test_a_summary_names_a_payload_it_cannot_read(db_path: Path) -> None:
    import sqlite3

    async with OfflineQueueManager(db_path) as queue:
        ids = [await queue.enqueue(OperationType.API_CALL, {"n": i}) for i in range(3)]
    with sqlite3.connect(db_path) as conn:
        conn.execute("UPDATE offline_operations SET payload = '[1, 2]' WHERE id = ?", (ids[0],))
        conn.execute("UPDATE offline_operations SET payload = ? WHERE id = ?", ("[" * 9000, ids[1]))
    conn.close()
    async with OfflineQueueManager(db_path) as queue:
        summaries = {s.id: s for s in await queue.list_summaries()}
        assert "cannot be read" in (summaries[ids[0]].problem or "")
        assert "not a JSON object" in (summaries[ids[1]].problem or "")
        assert summaries[ids[2]].readable
        assert (await queue.wait_reason(ids[0]) or "").startswith("Unreadable")


async def test_a_direction_override_is_described_as_its_escape(
    queue: OfflineQueueManager,
) -> None:
    """The window's What column: U+202E would reverse the rest of the row."""
    from peft_studio_offline.core.describe import describe_operation

    op_id = await queue.enqueue("metric_log", {"run_id": "r\u202eun", "metrics": {"loss": 1}})
    summary = await queue.get_summary(op_id)
    assert summary is not None
    text = describe_operation(summary).text
    assert "\u202e" not in text and "r\\u202eun" in text
