"""The queue file under faults: corrupt, foreign, locked, full, old, or holding odd rows."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from peft_studio_offline import OfflineQueueManager, OperationStatus, OperationType
from peft_studio_offline.core.errors import (
    CorruptDatabaseError,
    QueueError,
    QueueLockedError,
    StorageFullError,
)
from tests.support.sqlite_files import connected


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def make_queue_file(path: Path, count: int = 200) -> None:
    async with OfflineQueueManager(path) as queue:
        await queue.enqueue_many(
            [
                {"operation_type": "api_call", "payload": {"n": n, "pad": "x" * 500}}
                for n in range(count)
            ]
        )
    # Fold the WAL into the main file so that damaging the file damages the data.
    with connected(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@pytest.mark.parametrize(
    "content",
    [b"this is a text file, not a queue\n", os.urandom(8192), b"\x00" * 4096],
    ids=["text", "random-bytes", "zeros"],
)
async def test_foreign_file_is_named_and_left_untouched(db_path: Path, content: bytes) -> None:
    db_path.write_bytes(content)
    before = digest(db_path)
    queue = OfflineQueueManager(db_path)
    with pytest.raises(CorruptDatabaseError) as caught:
        await queue.enqueue("api_call", {})
    assert str(db_path) in str(caught.value)
    assert digest(db_path) == before
    assert sorted(p.name for p in db_path.parent.iterdir()) == [db_path.name]


async def test_truncated_database_is_named_and_left_untouched(db_path: Path) -> None:
    await make_queue_file(db_path)
    data = db_path.read_bytes()
    db_path.write_bytes(data[: len(data) // 2])
    before = digest(db_path)
    with pytest.raises(CorruptDatabaseError, match="truncated"):
        await OfflineQueueManager(db_path).get_queue_stats()
    assert digest(db_path) == before


async def test_damaged_pages_are_reported_as_corrupt(db_path: Path) -> None:
    await make_queue_file(db_path, count=2000)
    data = bytearray(db_path.read_bytes())
    page_size = int.from_bytes(data[16:18], "big")
    # Overwrite every page after the first (the schema) with noise.
    for offset in range(page_size, len(data), page_size):
        data[offset : offset + 64] = os.urandom(64)
    db_path.write_bytes(bytes(data))
    with pytest.raises(QueueError) as caught:
        async with OfflineQueueManager(db_path) as queue:
            await queue.list_operations(limit=None)
    assert str(db_path) in str(caught.value)


async def test_database_from_a_newer_version_is_refused(db_path: Path) -> None:
    with connected(db_path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(QueueError, match="newer version"):
        await OfflineQueueManager(db_path).get_queue_stats()


async def test_spec_schema_database_is_migrated_with_every_row(db_path: Path) -> None:
    # The original design's table, as its version wrote it.
    with connected(db_path) as conn:
        conn.execute(
            """CREATE TABLE offline_operations (
                id INTEGER PRIMARY KEY,
                operation_type TEXT NOT NULL,
                payload TEXT NOT NULL,
                status TEXT DEFAULT 'pending',
                created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
                retry_count INTEGER DEFAULT 0,
                error_message TEXT,
                priority INTEGER DEFAULT 0)"""
        )
        conn.execute(
            "INSERT INTO offline_operations (operation_type, payload, priority) VALUES (?, ?, ?)",
            ("api_call", '{"endpoint": "/api/models", "method": "GET"}', 5),
        )
        conn.execute(
            "INSERT INTO offline_operations (operation_type, payload, status, retry_count,"
            " error_message) VALUES ('metric_log', '{\"run_id\": \"r\"}', 'failed', 3, 'timeout')"
        )
    async with OfflineQueueManager(db_path) as queue:
        first = await queue.get_operation(1)
        second = await queue.get_operation(2)
        stats = await queue.get_queue_stats()
        new_id = await queue.enqueue("api_call", {})
    assert first is not None and second is not None
    assert first.payload == {"endpoint": "/api/models", "method": "GET"}
    assert first.priority == 5 and first.status is OperationStatus.PENDING
    assert second.status is OperationStatus.FAILED and second.error_message == "timeout"
    assert first.idempotency_key != second.idempotency_key
    assert stats["pending"] == 1 and stats["failed"] == 1
    assert new_id == 3
    with connected(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] >= 1


async def test_a_version_1_database_is_upgraded_with_its_rows(db_path: Path) -> None:
    """Version 1 kept due times in an index of their own and the last counted id in a table
    of its own; version 2 keeps them in the pending index and among the counters."""
    async with OfflineQueueManager(db_path) as queue:
        soon = await queue.enqueue("api_call", {"n": 1}, not_before=2_000_000_000)
        later = await queue.enqueue("api_call", {"n": 2}, not_before=2_100_000_000)
    with connected(db_path, isolation_level=None) as conn:
        conn.execute("CREATE TABLE queue_meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID")
        conn.execute("INSERT INTO queue_meta VALUES ('counted_through_id', 2)")
        conn.execute("DELETE FROM queue_counters WHERE status LIKE '#%'")
        conn.execute("DROP INDEX idx_operations_pending")
        conn.execute(
            "CREATE INDEX idx_operations_pending ON offline_operations (priority DESC, id)"
            " WHERE status = 'pending'"
        )
        conn.execute(
            "CREATE INDEX idx_operations_due ON offline_operations (next_attempt_at)"
            " WHERE status = 'pending'"
        )
        conn.execute("PRAGMA user_version = 1")
    async with OfflineQueueManager(db_path) as queue:
        assert await queue.next_due_at() == 2_000_000_000
        assert [op.id for op in await queue.list_operations()] == [soon, later]
        now = await queue.enqueue("api_call", {"n": 3})
        assert [op.id for op in await queue.claim(10)] == [now]
        stats = await queue.get_queue_stats()
    assert (stats["pending"], stats["in_progress"], stats["total"]) == (2, 1, 3)
    with connected(db_path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        indexes = dict(
            conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index'").fetchall()
        )
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert "queue_meta" not in tables
    assert "idx_operations_due" not in indexes
    assert "next_attempt_at" in indexes["idx_operations_pending"]


async def test_a_first_version_1_database_with_an_insert_trigger_is_counted_afresh(
    db_path: Path,
) -> None:
    async with OfflineQueueManager(db_path) as queue:
        ids = await queue.enqueue_many(
            [{"operation_type": "api_call", "payload": {"n": n}} for n in range(3)]
        )
        await queue.mark_completed(ids[0])
    with connected(db_path, isolation_level=None) as conn:
        conn.execute(  # as the first version 1 had it; the counters it kept drifted
            "CREATE TRIGGER trg_operations_insert AFTER INSERT ON offline_operations BEGIN"
            " INSERT INTO queue_counters (status, count) VALUES (NEW.status, 1)"
            " ON CONFLICT (status) DO UPDATE SET count = count + 1; END"
        )
        conn.execute("DELETE FROM queue_counters WHERE status LIKE '#%'")
        conn.execute("UPDATE queue_counters SET count = 7 WHERE status = 'pending'")
        conn.execute("PRAGMA user_version = 1")
    async with OfflineQueueManager(db_path) as queue:
        await queue.enqueue("api_call", {"n": 3})
        stats = await queue.get_queue_stats()
    assert (stats["pending"], stats["completed"], stats["total"]) == (3, 1, 4)
    with connected(db_path) as conn:
        triggers = {
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
    assert "trg_operations_insert" not in triggers


async def test_a_schema_changed_by_another_program_is_named_as_such(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        await queue.enqueue("api_call", {})
        with connected(db_path, isolation_level=None) as conn:
            conn.execute("DROP INDEX idx_operations_pending")  # as a newer version might
        with pytest.raises(QueueError, match=r"changed by another program.*restart this app"):
            await queue.claim(10)


async def test_locked_database_waits_then_says_so(db_path: Path) -> None:
    async with OfflineQueueManager(db_path, busy_timeout=0.3) as queue:
        await queue.enqueue("api_call", {})
        blocker = sqlite3.connect(db_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(QueueLockedError, match="locked by another process"):
                await queue.enqueue("api_call", {})
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        # Once the lock is gone, the queue works as before.
        await queue.enqueue("api_call", {})
        assert (await queue.get_queue_stats())["total"] == 2


async def test_disk_full_refuses_cleanly_and_recovers(db_path: Path) -> None:
    async with OfflineQueueManager(db_path, compress_threshold=0) as queue:
        await queue.enqueue("api_call", {"n": 0})
        await queue.set_storage_limit(db_path.stat().st_size + 8192)
        big = {"blob": "x" * 200_000}
        with pytest.raises(StorageFullError, match="cannot grow"):
            await queue.enqueue("api_call", big)
        with pytest.raises(StorageFullError):
            await queue.enqueue_many([{"operation_type": "api_call", "payload": big}] * 3)
        assert (await queue.get_queue_stats())["total"] == 1
        await queue.set_storage_limit(None)
        op_id = await queue.enqueue("api_call", big)
        operation = await queue.get_operation(op_id)
        assert operation is not None and operation.payload == big
    with connected(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


async def test_rows_written_by_another_version_are_shown_and_skipped(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        good = await queue.enqueue("api_call", {"n": 1})
    with connected(db_path) as conn:
        conn.execute(
            "INSERT INTO offline_operations (operation_type, payload, status, idempotency_key)"
            " VALUES ('quantum_sync', '{}', 'pending', 'k1')"
        )
        conn.execute(
            "INSERT INTO offline_operations (operation_type, payload, status, idempotency_key)"
            " VALUES ('api_call', '{not json', 'pending', 'k2')"
        )
    async with OfflineQueueManager(db_path) as queue:
        listed = await queue.list_operations()
        claimed = await queue.claim(10)
        unknown_type = listed[1]
        bad_json = listed[2]
        reason = await queue.wait_reason(unknown_type.id)
        counted = await queue.get_queue_stats()
    async with OfflineQueueManager(db_path) as queue:  # counted once, not on every open
        reopened = await queue.get_queue_stats()
    assert (counted["pending"], counted["in_progress"], counted["total"]) == (2, 1, 3)
    assert (reopened["pending"], reopened["total"]) == (3, 3)  # the claim ended with its queue
    assert [op.id for op in claimed] == [good]
    assert unknown_type.operation_type == "quantum_sync"
    assert not unknown_type.readable and "unknown operation type" in (unknown_type.problem or "")
    assert bad_json.operation_type is OperationType.API_CALL
    assert not bad_json.readable and "payload" in (bad_json.problem or "")
    assert reason is not None and reason.startswith("Unreadable")


async def test_payloads_other_programs_stored_differently_still_read(db_path: Path) -> None:
    """JSON as a BLOB or with spaces around it reads back; a number is shown as unreadable."""
    with connected(db_path) as conn:
        conn.execute(
            "CREATE TABLE offline_operations (id INTEGER PRIMARY KEY AUTOINCREMENT,"
            " operation_type TEXT NOT NULL, payload TEXT NOT NULL, status TEXT DEFAULT"
            " 'pending', created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, updated_at TIMESTAMP"
            " DEFAULT CURRENT_TIMESTAMP, retry_count INTEGER DEFAULT 0, error_message TEXT,"
            " priority INTEGER DEFAULT 0)"
        )
        conn.executemany(
            "INSERT INTO offline_operations (operation_type, payload) VALUES ('api_call', ?)",
            [(b'{"stored": "as a blob"}',), (' {"stored": "with spaces"} \n',), (7,)],
        )
    async with OfflineQueueManager(db_path) as queue:
        blob, spaced, number = await queue.list_operations()
    assert (blob.payload, blob.readable) == ({"stored": "as a blob"}, True)
    assert (spaced.payload, spaced.readable) == ({"stored": "with spaces"}, True)
    assert not number.readable and "payload" in (number.problem or "")


async def test_new_database_file_is_private(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        await queue.enqueue("api_call", {})
    assert db_path.stat().st_mode & 0o077 == 0
