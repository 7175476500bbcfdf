"""Retention: finished operations and the staged files only they named go after their period."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from pathlib import Path

from peft_studio_offline.core.mlflow_local._artifacts import staging_root_for
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.retention import run_retention
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.upload_roots import transfers_root

DAY = 86_400.0


def real_counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        rows = conn.execute(
            "SELECT status, count(*) FROM offline_operations GROUP BY status"
        ).fetchall()
    finally:
        conn.close()
    return {status: count for status, count in rows}


def staged(path: Path, age_days: float, now: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"w" * 1000)
    moment = now - age_days * DAY
    os.utime(path, (moment, moment))
    os.utime(path.parent, (moment, moment))
    return path


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_retention_removes_what_its_periods_let_go_and_keeps_the_rest(
    tmp_path: Path,
) -> None:
    paths = AppPaths.under(tmp_path)
    settings = Settings(paths)  # 7 days for completed, 30 for failed
    now = time.time()
    clock = Clock(now - 40 * DAY)
    imports = transfers_root(paths) / "import-1"
    artifacts = staging_root_for(paths.database) / "0" / "run-1" / "artifacts"
    async with OfflineQueueManager(paths.database, clock=clock) as queue:

        async def upload(path: Path | None = None, **options: object) -> int:
            payload = {"url": "http://127.0.0.1:9/up", "path": str(path or tmp_path / "none")}
            return await queue.enqueue("file_upload", payload, **options)

        async def completed(path: Path | None = None) -> int:
            op_id = await upload(path)
            await queue.mark_completed(op_id)
            return op_id

        async def failed() -> int:
            op_id = await upload(max_attempts=1)
            await queue.mark_failed(op_id, "the server said no")
            return op_id

        # 40 days ago.
        old_done = await completed()
        old_failed = await failed()
        old_file_of_done = staged(imports / "done.bin", 40, now)
        old_done_with_file = await completed(old_file_of_done)
        waiting_file = staged(imports / "waiting.bin", 40, now)
        old_waiting = await upload(waiting_file)
        folder_pushed = artifacts / "adapter"
        staged(folder_pushed / "weights.bin", 40, now)
        folder_push = await queue.enqueue("model_push", {"run_id": "r", "path": str(folder_pushed)})
        # 10 days ago.
        clock.now = now - 10 * DAY
        done_10_days = await completed()
        failed_10_days = await failed()
        # Yesterday.
        clock.now = now - DAY
        recent_file = staged(artifacts / "model.txt", 20, now)  # staged long before
        recent_done = await completed(recent_file)
        # Files nothing names: an old one goes, a new one (an import being staged) stays.
        orphan_old = staged(transfers_root(paths) / "import-0" / "left.bin", 20, now)
        orphan_new = staged(transfers_root(paths) / "import-2" / "arriving.bin", 0, now)

        clock.now = now
        result = await run_retention(queue, settings)

        left = {op.id for op in await queue.list_operations(limit=None)}
        assert left == {old_waiting, folder_push, failed_10_days, recent_done}
        assert not {old_done, old_failed, old_done_with_file, done_10_days} & left
        assert (result.completed, result.ended) == (3, 1)
        # The failure kept keeps its attempt history.
        assert [a.error for a in await queue.get_attempts(failed_10_days)] == ["the server said no"]
        stats = await queue.get_queue_stats()
        assert {k: v for k, v in stats.items() if v and k != "total"} == real_counts(paths.database)
        assert stats["total"] == 4

    assert not old_file_of_done.exists()
    assert not orphan_old.exists() and not orphan_old.parent.exists()
    assert waiting_file.exists(), "a file a pending operation needs was removed"
    assert (folder_pushed / "weights.bin").exists(), "a folder a push names was emptied"
    assert recent_file.exists()
    assert orphan_new.exists()
    assert result.files == 2 and result.file_bytes == 2000


async def test_the_running_app_applies_retention_when_it_starts(tmp_path: Path) -> None:
    paths = AppPaths.under(tmp_path)
    settings = Settings(paths)
    clock = Clock(time.time() - 8 * DAY)
    async with OfflineQueueManager(paths.database, clock=clock) as queue:
        old = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/"})
        await queue.mark_completed(old)
        kept = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/"})

    runtime = Runtime(settings)
    try:
        await runtime.start(monitoring=False, auto_sync=False)
        for _ in range(200):
            if await runtime.queue.get_operation(old) is None:
                break
            await asyncio.sleep(0.05)
        assert await runtime.queue.get_operation(old) is None
        assert await runtime.queue.get_operation(kept) is not None
    finally:
        await runtime.close()


async def test_a_new_budget_in_the_settings_file_applies_without_a_restart(
    tmp_path: Path,
) -> None:
    paths = AppPaths.under(tmp_path)
    Settings.from_mapping(paths, {"storage": {"max_bytes": 50_000_000}}).save()
    runtime = Runtime(Settings.load(paths, {}), environ={})
    try:
        await runtime.queue.open()
        budget = runtime.queue.storage_budget
        assert budget is not None and budget.limit == 50_000_000
        Settings.from_mapping(paths, {"storage": {"max_bytes": 60_000_000}}).save()
        assert await runtime.reload_settings()
        assert budget.limit == 60_000_000
    finally:
        await runtime.close()


async def test_room_deletions_freed_shows_after_a_cleanup_while_the_app_holds_the_file(
    tmp_path: Path,
) -> None:
    """The user deletes operations and runs ``cleanup`` while the app serves: the log the
    deletions grew is cut back, so the storage budget sees the room."""
    paths = AppPaths.under(tmp_path)
    wal = paths.database.with_name(paths.database.name + "-wal")
    async with OfflineQueueManager(paths.database) as serving:  # the app, holding the file
        ids = await serving.enqueue_many(
            {"operation_type": "api_call", "payload": {"url": "http://127.0.0.1:9/", "b": body}}
            for body in (os.urandom(50_000).hex() for _ in range(40))
        )
        await serving.delete_operations(ids)
        assert wal.stat().st_size > 1_000_000
        async with OfflineQueueManager(paths.database) as command:  # `cleanup`
            await run_retention(command, Settings(paths))
        assert wal.stat().st_size == 0
        assert await serving.count_operations() == 0
