"""Retention: finished work is removed after a while, so that the queue never fills the disk.

Completed operations go ``storage.retention_days`` after they completed; failed, cancelled
and expired ones ``storage.failed_retention_days`` after they ended (their attempt history
says why they did not go, so it is kept longer). The counters follow through the queue's
delete trigger.

Staged copies of files (bundle imports under ``<data>/transfers``, the MLflow endpoint's
artifacts) are removed once no operation in the queue names them any more and they are
older than the retention period: a file an unfinished operation needs is always named by
it, and a file being staged right now is new.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings

log = logging.getLogger(__name__)

DAY = 86_400.0
ENDED = (OperationStatus.FAILED, OperationStatus.CANCELLED, OperationStatus.EXPIRED)


@dataclass(frozen=True, slots=True)
class RetentionResult:
    completed: int  # completed operations removed
    ended: int  # failed, cancelled and expired operations removed
    files: int  # staged files removed
    file_bytes: int  # their bytes

    def sentence(self) -> str:
        return (
            f"Removed {self.completed} completed and {self.ended} failed, cancelled or expired"
            f" operations, and {self.files} staged files ({self.file_bytes} bytes)."
        )


def staged_roots(settings: Settings, db_path: Path) -> tuple[Path, ...]:
    from peft_studio_offline.core.mlflow_local._artifacts import staging_root_for
    from peft_studio_offline.core.upload_roots import transfers_root

    return (transfers_root(settings.paths), staging_root_for(db_path))


async def run_retention(
    queue: OfflineQueueManager,
    settings: Settings,
    *,
    roots: Iterable[Path] | None = None,
) -> RetentionResult:
    """Remove what the retention periods let go; returns what was removed."""
    storage = settings.storage
    completed = await queue.clear_completed(timedelta(days=storage.retention_days))
    ended = await queue.clear_completed(
        timedelta(days=storage.failed_retention_days), statuses=ENDED
    )
    folders = tuple(roots) if roots is not None else staged_roots(settings, queue.db_path)
    cutoff = queue.clock() - storage.retention_days * DAY
    needed = await queue.staged_paths([folder.name for folder in folders])
    files, size = await asyncio.to_thread(_remove_unneeded, folders, needed, cutoff)
    # What deletions freed (these, or the user's own) shows only once the log is cut back.
    await queue.truncate_log()
    if queue.storage_budget is not None:
        await queue.storage_usage()  # the figure, and the warnings, follow at once
    result = RetentionResult(completed, ended, files, size)
    if completed or ended or files:
        log.info("Retention: %s", result.sentence())
    return result


def _remove_unneeded(roots: Iterable[Path], needed: set[str], cutoff: float) -> tuple[int, int]:
    """Remove files under ``roots`` that no operation names (nor a folder holding them) and
    that were last written before ``cutoff``; then the old folders left empty."""
    kept = {Path(p).expanduser().absolute() for p in needed}
    removed = size = 0
    for root in roots:
        if not root.is_dir():
            continue
        # When each folder was last changed, before removing files changes it.
        changed = {Path(top): _mtime(Path(top)) for top, _dirs, _names in os.walk(root)}
        for top, _dirs, names in os.walk(root, topdown=False):
            folder = Path(top)
            for name in names:
                path = folder / name
                if _is_needed(path, kept, root):
                    continue
                try:
                    info = path.lstat()
                    if info.st_mtime >= cutoff:
                        continue
                    path.unlink()
                except OSError:
                    continue
                removed += 1
                size += info.st_size
            # Only an old, empty one: an import may just have made a new folder.
            old_enough = changed.get(folder, cutoff) < cutoff
            if folder != root and old_enough and not _is_needed(folder, kept, root):
                with contextlib.suppress(OSError):
                    folder.rmdir()
    return removed, size


def _mtime(path: Path) -> float:
    try:
        return path.lstat().st_mtime
    except OSError:
        return float("inf")


def _is_needed(path: Path, kept: set[Path], root: Path) -> bool:
    """``path`` or a folder above it (up to ``root``) is named by an operation."""
    return any(place in kept for place in (path, *path.parents) if place.is_relative_to(root))


async def retention_loop(
    queue: OfflineQueueManager,
    settings: Callable[[], Settings],
    *,
    every: float,
    measure_every: float,
) -> None:
    """Measure the storage every ``measure_every`` seconds and apply retention every
    ``every`` seconds, the first time at once, with the settings in use then (``settings``
    reads them); failures are logged and the loop goes on."""
    last_retention = float("-inf")
    while True:
        try:
            if time.monotonic() - last_retention >= every:
                last_retention = time.monotonic()
                await run_retention(queue, settings())
            else:
                await queue.storage_usage()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("Storage housekeeping failed")
        await asyncio.sleep(measure_every)
