"""The storage budget: measured against real files, applied by the queue in bytes, warned of."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from peft_studio_offline.core.errors import (
    SettingsError,
    StorageBudgetError,
    StorageFullError,
)
from peft_studio_offline.core.mlflow_local._artifacts import staging_root_for
from peft_studio_offline.core.mlflow_local._store import store_path_for
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import CallerThreadWriter, OfflineQueueManager
from peft_studio_offline.core.runtime import build_queue
from peft_studio_offline.core.settings import STORAGE_MAX_BYTES_VARIABLE, Settings
from peft_studio_offline.core.storage_budget import (
    AUTOMATIC_CAP,
    AUTOMATIC_FRACTION,
    StorageBudget,
    StorageLevel,
    automatic_limit,
)
from peft_studio_offline.core.upload_roots import transfers_root

PAYLOAD = "x" * 4000


def budget_for(home: Path, limit: int) -> StorageBudget:
    paths = AppPaths.under(home)
    return StorageBudget.for_queue(limit, paths.database, paths.data_dir, paths.log_dir)


def real_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT status, count(*) FROM offline_operations GROUP BY status"
        ).fetchall()
    finally:
        conn.close()
    return {status: count for status, count in rows}


async def used(queue: OfflineQueueManager) -> int:
    level = await queue.storage_usage()
    assert level is not None
    return level.used


def checkpoint(db: Path) -> None:
    """What SQLite does on its own once its log is long: pages back into the file, the log
    emptied (a test cannot wait for the thousand pages that set it off)."""
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


def kept_stats(stats: dict[str, int]) -> dict[str, int]:
    return {k: v for k, v in stats.items() if v and k != "total"}


# ------------------------------------------------------------------ measuring


def test_the_names_measured_are_those_the_app_writes(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 1)
    assert budget.staged_roots == (transfers_root(paths), staging_root_for(paths.database))
    mlflow = store_path_for(paths.database)
    assert mlflow in budget.other_files
    assert paths.database.with_name("queue.db-wal") in budget.other_files


async def test_usage_is_the_sum_of_the_real_files(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 10**9)
    async with OfflineQueueManager(paths.database, storage_budget=budget) as queue:
        for _ in range(20):
            await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/", "body": PAYLOAD})
        imported = transfers_root(paths) / "import-1" / "weights.bin"
        imported.parent.mkdir(parents=True)
        imported.write_bytes(os.urandom(30_000))
        artifact = staging_root_for(paths.database) / "0" / "run" / "artifacts" / "a.txt"
        artifact.parent.mkdir(parents=True)
        artifact.write_bytes(b"a" * 12_345)
        paths.log_dir.mkdir(parents=True)
        (paths.log_dir / "peft-studio-offline.log").write_bytes(b"l" * 777)
        store_path_for(paths.database).write_bytes(b"m" * 4096)

        level = await queue.storage_usage()
        assert level is not None
        conn = sqlite3.connect(paths.database)
        try:
            pages = conn.execute("PRAGMA page_count").fetchone()[0]
            free = conn.execute("PRAGMA freelist_count").fetchone()[0]
            page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        finally:
            conn.close()
        files = [paths.database.with_name(f"queue.db{s}") for s in ("-wal", "-shm")]
        files.append(store_path_for(paths.database))
        expected = (
            (pages - free) * page_size
            + sum(f.stat().st_size for f in files if f.exists())
            + 30_000
            + 12_345
            + 777
        )
        assert level.used == expected


def test_staged_files_are_a_running_figure_not_a_walk_per_look(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 10**9)
    root = transfers_root(paths)
    root.mkdir(parents=True)
    (root / "one").write_bytes(b"1" * 1000)
    assert budget.staged_bytes() == 1000
    (root / "two").write_bytes(b"2" * 500)
    assert budget.staged_bytes() == 1000  # the figure is kept until the next walk
    budget.add_staged(500)
    assert budget.staged_bytes() == 1500
    (root / "one").unlink()
    assert budget.refresh_staged() == 500


def test_the_automatic_budget_is_half_the_free_space_at_most_the_cap(tmp_path: Path) -> None:
    free = shutil.disk_usage(tmp_path).free
    limit = automatic_limit(tmp_path, 1000)
    expected = min(AUTOMATIC_CAP, 1000 + int(free * AUTOMATIC_FRACTION))
    assert abs(limit - expected) < 64 * 1024 * 1024  # other writers change the free space
    assert limit <= AUTOMATIC_CAP
    budget = budget_for(tmp_path, 0)
    assert 0 < budget.limit <= AUTOMATIC_CAP
    assert budget_for(tmp_path, 12345).limit == 12345


# -------------------------------------------------------------------- settings


def test_the_storage_settings_are_read_validated_and_overridden(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path)
    settings = Settings.from_mapping(
        paths, {"storage": {"max_bytes": 5_000_000, "retention_days": 2}}
    )
    assert settings.storage.max_bytes == 5_000_000
    assert settings.storage.retention_days == 2.0
    assert settings.storage.failed_retention_days == 30.0
    with pytest.raises(SettingsError, match=r"storage\.max_bytes' must be zero or more"):
        Settings.from_mapping(paths, {"storage": {"max_bytes": -1}})
    with pytest.raises(SettingsError, match=r"retention_days' must be greater than zero"):
        Settings.from_mapping(paths, {"storage": {"retention_days": 0}})
    loaded = Settings.load(paths, {STORAGE_MAX_BYTES_VARIABLE: "123456"})
    assert loaded.storage.max_bytes == 123456
    assert loaded.overridden_by("storage.max_bytes") == STORAGE_MAX_BYTES_VARIABLE
    saved = Settings.from_mapping(paths, {"storage": {"max_bytes": 777}})
    saved.save()
    assert Settings.load(paths, {}).storage.max_bytes == 777
    queue = build_queue(Settings.load(paths, {}), paths.database)
    assert queue.storage_budget is not None and queue.storage_budget.limit == 777


# -------------------------------------------------------------------- overflow


async def test_reject_refuses_past_the_budget_in_one_sentence_and_writes_nothing(
    tmp_path: Path,
) -> None:
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 600_000)
    async with OfflineQueueManager(paths.database, storage_budget=budget) as queue:
        stored = 0
        with pytest.raises(StorageBudgetError) as refused:
            for _ in range(1000):
                await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/", "body": PAYLOAD})
                stored += 1
        assert 0 < stored < 150
        message = str(refused.value)
        assert message.startswith("The storage budget has no room for this")
        assert "storage.max_bytes" in message and message.count(". ") == 0
        assert isinstance(refused.value, StorageFullError)
        assert (await queue.get_queue_stats())["total"] == stored
        with pytest.raises(StorageBudgetError):
            await queue.enqueue_many(
                [{"operation_type": "api_call", "payload": {"url": "http://h/", "b": PAYLOAD}}] * 3
            )
        assert (await queue.get_queue_stats())["total"] == stored
        # What fits still goes in: the budget is in bytes, not a switch.
        budget.set_limit(await used(queue) + 20_000)
        await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/small"})
    assert real_counts(paths.database) == {"pending": stored + 1}


async def test_of_two_waiting_requests_the_one_that_fits_goes_in(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 10**9)
    async with OfflineQueueManager(paths.database, storage_budget=budget) as queue:
        await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/first"})
        budget.set_limit(await used(queue) + 30_000)
        big = {"url": "http://127.0.0.1:9/big", "body": "y" * 100_000}
        small = {"url": "http://127.0.0.1:9/small"}
        results = await asyncio.gather(
            queue.enqueue("api_call", big),
            queue.enqueue("api_call", small),
            return_exceptions=True,
        )
        assert isinstance(results[0], StorageBudgetError)
        assert isinstance(results[1], int)
        urls = [op.payload["url"] for op in await queue.list_operations()]
        assert urls == ["http://127.0.0.1:9/first", "http://127.0.0.1:9/small"]


async def test_drop_oldest_removes_finished_operations_first_then_pending_ones(
    tmp_path: Path,
) -> None:
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 10**9)
    async with OfflineQueueManager(
        paths.database, storage_budget=budget, overflow="drop_oldest"
    ) as queue:
        done = [
            await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/d", "b": PAYLOAD})
            for _ in range(30)
        ]
        for op_id in done:
            await queue.mark_completed(op_id)
        waiting = [
            await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/w", "b": PAYLOAD})
            for _ in range(30)
        ]
        budget.set_limit(await used(queue) + 1000)
        kinds: list[str] = []
        queue.changes.subscribe(lambda change: kinds.append(change.kind))
        new = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/n", "b": PAYLOAD * 10})
        for _ in range(100):
            if "external" in kinds:
                break
            await asyncio.sleep(0.02)
        assert "external" in kinds  # rows went: the window reads the queue again
        left = {op.id for op in await queue.list_operations(limit=None)}
        assert new in left
        assert set(waiting) <= left, "a pending operation went while finished ones could go"
        removed = [op_id for op_id in done if op_id not in left]
        assert removed and removed == done[: len(removed)], "the oldest finished go first"
        # Past what the finished ones hold: the least important pending ones go.
        before = {op.id for op in await queue.list_operations(limit=None)}
        checkpoint(paths.database)
        budget.set_limit(await used(queue) + 1000)
        await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/m", "b": PAYLOAD * 40})
        after = {op.id for op in await queue.list_operations(limit=None)}
        gone = sorted(before - after)
        assert set(done) & set(gone) == set(done) & before  # every finished one first
        dropped = [op_id for op_id in gone if op_id in waiting]
        assert dropped and dropped == waiting[: len(dropped)]
        assert kept_stats(await queue.get_queue_stats()) == real_counts(paths.database)


def test_the_caller_thread_path_keeps_to_the_budget(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 300_000)
    queue = OfflineQueueManager(paths.database, storage_budget=budget)

    async def open_once() -> None:
        async with queue:
            pass

    asyncio.run(open_once())
    writer = CallerThreadWriter(queue)
    try:
        with pytest.raises(StorageBudgetError, match="The storage budget has no room for this"):
            for _ in range(1000):
                writer.enqueue("api_call", {"url": "http://127.0.0.1:9/", "body": PAYLOAD})
    finally:
        writer.close()


# -------------------------------------------------------------------- warnings


async def test_80_and_95_percent_are_warned_once_per_crossing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 10**9)
    heard: list[StorageLevel] = []
    caplog.set_level(logging.WARNING, logger="peft_studio_offline.core.storage_budget")
    async with OfflineQueueManager(paths.database, storage_budget=budget) as queue:
        budget.listen(heard.append, asyncio.get_running_loop())
        first = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/", "b": PAYLOAD})
        budget.set_limit(await used(queue) + 400_000)
        ids = [first]
        with pytest.raises(StorageBudgetError):
            for _ in range(1000):
                ids.append(
                    await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/", "b": PAYLOAD})
                )
        await asyncio.sleep(0)  # listeners are called on the loop
        warnings = [r.getMessage() for r in caplog.records]
        assert len(warnings) == 2, warnings
        assert "storage budget" in warnings[0] and "storage.max_bytes" in warnings[0]
        assert [state.level for state in heard] == [80, 95]

        # Back down (work removed), then up again: warned again.
        await queue.delete_operations(ids)
        checkpoint(paths.database)
        assert (await queue.storage_usage()).level == 0  # type: ignore[union-attr]
        await asyncio.sleep(0)
        assert heard[-1].level == 0
        with pytest.raises(StorageBudgetError):
            for _ in range(1000):
                await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/", "b": PAYLOAD})
        await asyncio.sleep(0)
        assert len(caplog.records) == 4
        assert [state.level for state in heard] == [80, 95, 0, 80, 95]


def test_a_listener_without_a_loop_is_called_on_the_measuring_thread(tmp_path: Path) -> None:
    budget = budget_for(tmp_path, 1000)
    threads: list[str] = []
    budget.listen(lambda state: threads.append(threading.current_thread().name))
    worker = threading.Thread(target=budget.note, args=(900,), name="measuring")
    worker.start()
    worker.join()
    budget.note(910)  # the same level: nothing new to tell
    assert threads == ["measuring"]


async def test_drop_oldest_never_drops_a_pending_operation_others_wait_for(
    tmp_path: Path,
) -> None:
    """Dropping it would hold its dependents for good: they, not it, may go."""
    paths = AppPaths.under(tmp_path)
    budget = budget_for(tmp_path, 10**9)
    async with OfflineQueueManager(
        paths.database, storage_budget=budget, overflow="drop_oldest"
    ) as queue:
        first = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/f", "b": PAYLOAD})
        after = [
            await queue.enqueue(
                "api_call", {"url": "http://127.0.0.1:9/a", "b": PAYLOAD}, depends_on=[first]
            )
            for _ in range(20)
        ]
        checkpoint(paths.database)
        budget.set_limit(await used(queue) + 1000)
        await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/n", "b": PAYLOAD * 5})
        left = {op.id for op in await queue.list_operations(limit=None)}
        assert first in left
        assert set(after) - left, "nothing was dropped: the test proves nothing"
