"""Rows go in many to a statement: every size stores every value in its own row."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from peft_studio_offline import OfflineQueueManager
from peft_studio_offline.core.queue._codec import decode_payload
from tests.support.sqlite_files import connected


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _item(n: int) -> dict[str, object]:
    """An operation whose every stored value tells which item it came from."""
    item: dict[str, object] = {
        "operation_type": ("api_call", "metric_log", "file_upload")[n % 3],
        "payload": {"n": n, "text": f"item {n}"},
        "priority": n % 7 - 3,
    }
    if n % 2:
        item |= {
            "max_attempts": n + 1,
            "not_before": 1_900_000_000.0 + n,
            "ttl": 10_000 + n,
            "conflict_strategy": "merge",
            "resource_key": f"run:{n}",
            "idempotency_key": f"key-{n}",
        }
    return item


@pytest.mark.parametrize("count", [1, 3, 4, 5, 16, 63, 64, 65, 85, 149])
async def test_every_batch_size_stores_each_row_as_given(db_path: Path, count: int) -> None:
    clock = Clock()
    async with OfflineQueueManager(db_path, clock=clock) as queue:
        await queue.enqueue("api_call", {"first": True})
        ids = await queue.enqueue_many([_item(n) for n in range(count)])
    assert ids == list(range(2, 2 + count))
    with connected(db_path) as conn:
        rows = conn.execute(
            "SELECT id, operation_type, payload, priority, max_attempts, next_attempt_at,"
            " expires_at, conflict_strategy, resource_key, idempotency_key, status,"
            " retry_count, created_at, updated_at, has_dependencies"
            " FROM offline_operations WHERE id >= 2 ORDER BY id"
        ).fetchall()
    assert len(rows) == count
    stamps = {row[12] for row in rows}
    assert len(stamps) == 1 and stamps == {row[13] for row in rows}
    for n, row in enumerate(rows):
        item = _item(n)
        (op_id, kind, payload, priority, max_attempts, due, expires, strategy, resource, key,
         status, retries, _, _, has_deps) = row  # fmt: skip
        assert op_id == ids[n]
        assert (kind, decode_payload(payload, None), priority) == (
            item["operation_type"],
            item["payload"],
            item["priority"],
        )
        assert (status, retries, has_deps) == ("pending", 0, 0)
        if n % 2:
            assert (max_attempts, due, expires) == (
                n + 1,
                1_900_000_000.0 + n,
                clock.now + 10_000 + n,
            )
            assert (strategy, resource, key) == ("merge", f"run:{n}", f"key-{n}")
        else:
            assert (max_attempts, due, expires, strategy, resource) == (
                5,
                clock.now,
                None,
                None,
                None,
            )
            assert len(key) == 32


@pytest.mark.parametrize("count", [1, 5, 64, 85, 149])
async def test_rows_without_options_get_defaults_and_ascending_keys(
    db_path: Path, count: int
) -> None:
    clock = Clock()
    async with OfflineQueueManager(db_path, clock=clock, max_attempts=7) as queue:
        first = await queue.enqueue("metric_log", {"first": True}, priority=2)
        ids = await queue.enqueue_many(
            [
                {"operation_type": "api_call", "payload": {"n": n}, "priority": n % 3}
                for n in range(count)
            ]
        )
    with connected(db_path) as conn:
        rows = conn.execute(
            "SELECT id, operation_type, payload, priority, max_attempts, next_attempt_at,"
            " idempotency_key, expires_at, resource_key, payload_blob, status"
            " FROM offline_operations ORDER BY id"
        ).fetchall()
    assert [row[0] for row in rows] == [first, *ids]
    assert rows[0][1:5] == ("metric_log", '{"first":true}', 2, 7)
    for n, row in enumerate(rows[1:]):
        assert (row[1], decode_payload(row[2], None), row[3]) == ("api_call", {"n": n}, n % 3)
        assert row[4:6] == (7, clock.now) and row[7:] == (None, None, None, "pending")
    keys = [row[6] for row in rows]
    assert all(len(key) == 32 and int(key, 16) >= 0 for key in keys)
    assert len(set(keys)) == len(keys)
    assert keys[1:] == sorted(keys[1:])  # one commit's keys ascend: appended to the index


async def test_concurrent_enqueues_get_distinct_ids_and_keys(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        ids = await asyncio.gather(*(queue.enqueue("api_call", {"n": n}) for n in range(300)))
        operations = [await queue.get_operation(op_id) for op_id in ids]
    assert sorted(ids) == list(range(1, 301))
    assert [op.payload["n"] for op in operations if op] == list(range(300))
    assert len({op.idempotency_key for op in operations if op}) == 300


async def test_two_files_give_their_first_operations_different_keys(tmp_path: Path) -> None:
    """Ids repeat from file to file; the random part of a made key tells the files apart."""
    clock = Clock()
    keys = []
    for name in ("a.db", "b.db"):
        async with OfflineQueueManager(tmp_path / name, clock=clock) as queue:
            op_id = await queue.enqueue("api_call", {"n": 1})
            operation = await queue.get_operation(op_id)
        assert op_id == 1 and operation is not None
        keys.append(operation.idempotency_key)
    assert keys[0][:22] == keys[1][:22]  # the same time and id ...
    assert keys[0] != keys[1]  # ... but not the same key


async def test_claims_skip_the_disk_wait_but_enqueues_never_do(db_path: Path) -> None:
    """A claim may commit without fsync; the next enqueue's commit must wait for the disk."""
    async with OfflineQueueManager(db_path) as queue:
        writer = queue._writer
        assert writer is not None and writer.conn is not None
        conn = writer.conn

        async def synchronous() -> int:
            return int(await writer.call(lambda: conn.execute("PRAGMA synchronous").fetchone()[0]))

        await queue.enqueue("api_call", {"n": 1})
        assert await synchronous() == 2  # FULL
        assert len(await queue.claim(10)) == 1
        assert await synchronous() == 1  # NORMAL, for the claim alone
        await queue.enqueue("api_call", {"n": 2})
        assert await synchronous() == 2
