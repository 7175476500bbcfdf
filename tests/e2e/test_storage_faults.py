"""Storage faults: a full disk, a corrupt database file, rows this version cannot read."""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from peft_studio_offline.core.errors import CorruptDatabaseError, StorageFullError
from peft_studio_offline.core.queue import OfflineQueueManager, move_aside_corrupt_database
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.e2e import harness
from tests.e2e.effects_server import CountingApp
from tests.support.asgi import AsgiServer
from tests.support.sqlite_files import connected


def _integrity(db: Path) -> str:
    with connected(db) as conn:
        result: str = conn.execute("PRAGMA integrity_check").fetchone()[0]
    return result


def _database_bytes(db: Path) -> int:
    with connected(db) as conn:
        pages: int = conn.execute("PRAGMA page_count").fetchone()[0]
        size: int = conn.execute("PRAGMA page_size").fetchone()[0]
    return pages * size


# ------------------------------------------------------------------------------ disk full


async def test_disk_full_refuses_whole_writes_and_recovers(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    chunk = "x" * 4000  # below the compression threshold: every row costs a page or so
    async with OfflineQueueManager(db) as q:
        await q.enqueue("api_call", {"url": "http://127.0.0.1:9/first"})
        await q.set_storage_limit(_database_bytes(db) + 64 * 1024)
        accepted = 0
        refused: StorageFullError | None = None
        for n in range(10_000):  # bounded: the cap is reached within a few dozen rows
            try:
                await q.enqueue("api_call", {"url": "http://127.0.0.1:9/x", "n": n, "c": chunk})
            except StorageFullError as exc:
                refused = exc
                break
            accepted += 1
        assert refused is not None, "the size limit was never reached"
        assert accepted > 0, "the limit left no room at all: the test proves nothing"
        assert str(db) in str(refused) and "nothing was written" in str(refused)
        before = await q.get_queue_stats()

        batch = [
            {"operation_type": "api_call", "payload": {"url": "http://127.0.0.1:9/b", "i": i,
                                                       "c": chunk}}
            for i in range(20)
        ]  # fmt: skip
        with pytest.raises(StorageFullError):
            await q.enqueue_many(batch)
        with pytest.raises(StorageFullError):
            await q.enqueue("api_call", {"url": "http://127.0.0.1:9/y", "c": chunk * 3})
        assert await q.get_queue_stats() == before, "a refused write left something behind"
        listed = await q.list_operations(limit=None)
        assert len(listed) == 1 + accepted
        assert all(op.payload.get("n", -1) < accepted for op in listed)

        await q.set_storage_limit(None)  # space returns
        ids = await q.enqueue_many(batch)
        assert len(ids) == 20
        assert (await q.get_queue_stats())["total"] == 1 + accepted + 20
    assert _integrity(db) == "ok"
    harness.report_figures(
        tmp_path,
        "disk full",
        operations=1 + accepted + 20,
        faults=3,
        fault="database size cap (PRAGMA max_page_count): one enqueue, one batch of 20, one"
        " large enqueue refused",
        lost=0,
        duplicated=0,
        partial_writes=0,
    )


# ------------------------------------------------------------------------ corrupt database


def _make_damaged(kind: str, db: Path) -> None:
    if kind == "truncated":
        with connected(db) as conn:
            conn.execute("CREATE TABLE filler (x TEXT)")
            conn.executemany("INSERT INTO filler VALUES (?)", [("y" * 1000,)] * 200)
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 2])
    elif kind == "random bytes":
        db.write_bytes(os.urandom(64 * 1024))
    elif kind == "sqlite header, garbage pages":
        db.write_bytes(b"SQLite format 3\x00" + os.urandom(8192 - 16))
    else:  # a file of another kind altogether
        db.write_text("name,value\nalpha,1\nbeta,2\n" * 100)


@pytest.mark.parametrize(
    "kind", ["truncated", "random bytes", "sqlite header, garbage pages", "not sqlite"]
)
async def test_corrupt_database_is_named_kept_and_set_aside(tmp_path: Path, kind: str) -> None:
    db = tmp_path / "queue.db"
    _make_damaged(kind, db)
    digest = hashlib.sha256(db.read_bytes()).hexdigest()

    queue = OfflineQueueManager(db)
    with pytest.raises(CorruptDatabaseError) as caught:
        await queue.open()
    await queue.close()
    assert str(db) in str(caught.value)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest, "the damaged file was changed"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["queue.db"]

    # The command line says the same in one sentence, without a traceback.
    cli = subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", "stats", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert cli.returncode == 1
    assert str(db) in cli.stderr and "Traceback" not in cli.stderr
    assert hashlib.sha256(db.read_bytes()).hexdigest() == digest

    moved = move_aside_corrupt_database(db)
    assert re.fullmatch(r"queue\.db\.corrupt-\d{8}-\d{6}", moved.name), moved.name
    assert hashlib.sha256(moved.read_bytes()).hexdigest() == digest
    async with OfflineQueueManager(db) as fresh:
        op_id = await fresh.enqueue("metric_log", {"run_id": "r", "metrics": {"loss": 1.0}})
        assert (await fresh.get_operation(op_id)) is not None
    assert _integrity(db) == "ok"
    harness.report_figures(
        tmp_path,
        f"corrupt database ({kind})",
        operations=1,
        faults=1,
        lost=0,
        duplicated=0,
        file_preserved=True,
        moved_to=moved.name,
    )


async def test_move_aside_takes_the_wal_along_and_never_overwrites(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    for name, data in (("queue.db", b"main"), ("queue.db-wal", b"wal"), ("queue.db-shm", b"s")):
        (tmp_path / name).write_bytes(data)
    first = move_aside_corrupt_database(db)
    (tmp_path / "queue.db").write_bytes(b"again")
    second = move_aside_corrupt_database(db)  # same second: a new name, nothing replaced
    assert first != second
    assert first.read_bytes() == b"main" and second.read_bytes() == b"again"
    assert (tmp_path / f"{first.name}-wal").read_bytes() == b"wal"
    assert (tmp_path / f"{first.name}-shm").read_bytes() == b"s"
    assert not db.exists() and not (tmp_path / "queue.db-wal").exists()
    with pytest.raises(Exception, match="no queue database"):
        move_aside_corrupt_database(db)


# ------------------------------------------------------------------ rows it cannot read


async def test_unreadable_rows_are_listed_and_skipped_with_a_reason(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    app = CountingApp()
    with AsgiServer(app) as server:
        base = server.url("").rstrip("/")
        ids = await harness.enqueue_posts(db, base, 6)
        with connected(db) as conn:  # as an older or newer version might have written
            conn.execute(
                "UPDATE offline_operations SET operation_type = 'teleport' WHERE id = ?", (ids[0],)
            )
            conn.execute(
                "UPDATE offline_operations SET payload = '{\"url\": broken' WHERE id = ?",
                (ids[1],),
            )
            conn.execute("UPDATE offline_operations SET payload = '[1, 2]' WHERE id = ?", (ids[2],))
            conn.execute(
                'UPDATE offline_operations SET payload = \'{"$compressed": "zlib"}\','
                " payload_blob = x'00ff00ff' WHERE id = ?",
                (ids[3],),
            )
        bad = set(ids[:4])

        async with OfflineQueueManager(db) as q:
            listed = {op.id: op for op in await q.list_operations(limit=None)}
            assert {i for i, op in listed.items() if op.problem} == bad
            assert "teleport" in (listed[ids[0]].problem or "")
            assert all(listed[i].readable for i in ids[4:])
            settings = Settings.load()
            async with SyncEngine(q, None, settings=settings, credentials=lambda _n: None) as e:
                result = await e.sync()
                again = await e.sync()  # a second run must not trip over them either
            assert result["completed"] == 2
            assert again["completed"] == 0
            for op_id in bad:
                op = await q.get_operation(op_id)
                assert op is not None and op.problem
                reason = await q.wait_reason(op_id) if op.status.value == "pending" else None
                told = (reason or "") + (op.error_message or "")
                assert "cannot be read" in told or "Unreadable" in told, (op, reason)
        report = harness.server_report(base)
    assert sorted(report["applied"]) == ["4", "5"], "an unreadable operation was sent"
    assert _integrity(db) == "ok"
    harness.report_figures(
        tmp_path,
        "bad data inside the database",
        operations=6,
        faults=4,
        fault="unknown type, invalid JSON, a JSON array, a damaged compressed payload",
        lost=0,
        duplicated=0,
        unreadable_sent=0,
    )
