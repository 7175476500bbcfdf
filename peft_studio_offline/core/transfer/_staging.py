"""Where imported files are kept: under the data directory, in a folder the app sends from.

Files that arrive in a bundle are placed under ``<data>/transfers/<import id>/<n>/``
(``n``: the operation's number in the bundle); the bundle never chooses where, and the
operation's payload ``path`` is the only record of the place. When the user limits uploads
to some folders (``sync.upload_roots``), this folder is allowed too, as the MLflow
endpoint's staged artifacts are: the app made these copies itself.

The copies go once no operation that may still send them refers to them
(``remove_unneeded_staged``): after an import, a receipt, and a sync run. An import holds
a shared lock on the folder from the moment it stages files until its operations are in
the queue; the clean-up runs only under the exclusive lock, so it never removes what an
import (in this process or another) is about to add. Where there are no such locks
(Windows), it leaves anything younger than a day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.paths import ensure_private_dir
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.upload_roots import TRANSFERS_FOLDER, sendable_roots

if TYPE_CHECKING:
    from peft_studio_offline.core.queue import OfflineQueueManager

log = logging.getLogger(__name__)

LOCK_SUFFIX = ".lock"  # beside the folder, which holds nothing but staged copies
IMPORT_FOLDER = re.compile(r"^[0-9a-f]{32}$")
# What a crashed import leaves: its staging folder and its spool of records.
LEFTOVER = re.compile(r"^\.(incoming-[0-9a-f]{32}|records-[0-9a-f]{32}\.jsonl)$")
# Statuses whose operation can no longer send its files without the user asking for it
# anew: the copies go. A failed or exported one (a retry, a receipt) still needs them.
DONE_WITH_FILES = (OperationStatus.COMPLETED, OperationStatus.CANCELLED, OperationStatus.EXPIRED)
_KEEPS_FILES = tuple(s for s in OperationStatus if s not in DONE_WITH_FILES)
_FILE_TYPES = (OperationType.FILE_UPLOAD, OperationType.MODEL_PUSH)
# Without file locks, what is younger than this is left alone (an import in progress).
UNLOCKED_MIN_AGE = 24 * 3600.0
_PAGE = 1000


def absolute(path: str | os.PathLike[str]) -> Path:
    """``path`` with ``~`` expanded, made absolute (no link is resolved)."""
    return Path(path).expanduser().absolute()


def export_roots(settings: Settings, db_path: Path) -> tuple[str, ...]:
    """The folders an export of the queue at ``db_path`` may read files from: those sending
    them would, the MLflow endpoint's staged artifacts included."""
    from peft_studio_offline.core.mlflow_local._artifacts import staging_root_for

    return sendable_roots(settings, staging_root_for(db_path))


@contextlib.asynccontextmanager
async def staging_in_use(staging_root: Path) -> AsyncIterator[None]:
    """Held by an import while what it stages is not yet in the queue (shared: imports
    run side by side). It waits for a clean-up in progress on a worker thread: a clean-up
    in this process needs the event loop to finish."""
    fd = await asyncio.to_thread(_open_lock, staging_root)
    try:
        if fd is not None:
            import fcntl

            await asyncio.to_thread(fcntl.flock, fd, fcntl.LOCK_SH)
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _open_lock(staging_root: Path) -> int | None:
    """The lock file's descriptor (None where there are no file locks)."""
    try:
        import fcntl  # noqa: F401
    except ImportError:  # pragma: no cover - Windows
        return None
    ensure_private_dir(staging_root.parent)
    lock = staging_root.with_name(staging_root.name + LOCK_SUFFIX)
    return os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)


@contextlib.contextmanager
def _cleaning(staging_root: Path) -> Iterator[bool | None]:
    """The exclusive lock, tried without waiting: True when held, False when an import
    holds the folder, None where there are no file locks."""
    fd = _open_lock(staging_root)
    if fd is None:  # pragma: no cover - Windows
        yield None
        return
    import fcntl

    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


async def remove_unneeded_staged(queue: OfflineQueueManager, staging_root: Path) -> int:
    """Remove staged files no unfinished operation refers to: those of operations that
    completed, were cancelled, expired or deleted, and what a crashed import left.

    Returns how many operations' copies were removed. Skipped (0) while an import is
    staging; that import cleans up when it ends.
    """
    if not await asyncio.to_thread(staging_root.is_dir):
        return 0
    with _cleaning(staging_root) as held:
        if held is False:
            return 0
        staged = await asyncio.to_thread(_staged, staging_root, held is None)
        if not staged:
            return 0
        needed = await _referenced(queue, staging_root)
        return await asyncio.to_thread(_remove, staging_root, staged, needed, held is None)


async def tidy_staged(queue: OfflineQueueManager, staging_root: Path) -> int:
    """``remove_unneeded_staged`` after work that has succeeded: a failure to tidy is
    logged, never raised over it."""
    try:
        return await remove_unneeded_staged(queue, staging_root)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("Could not remove staged copies under %s.", staging_root)
        return 0


def _staged(root: Path, by_age: bool) -> set[tuple[str, str]]:
    """Every staged operation's folder, as (import id, number); ("", name) for leftovers."""
    found: set[tuple[str, str]] = set()
    oldest = time.time() - UNLOCKED_MIN_AGE
    for entry in os.scandir(root):
        if by_age and entry.stat(follow_symlinks=False).st_mtime > oldest:
            continue
        if LEFTOVER.match(entry.name):
            found.add(("", entry.name))
        elif IMPORT_FOLDER.match(entry.name) and entry.is_dir(follow_symlinks=False):
            numbers = [e.name for e in os.scandir(entry.path)]
            found.update((entry.name, n) for n in numbers)
            if not numbers:
                found.add((entry.name, ""))
    return found


async def _referenced(queue: OfflineQueueManager, root: Path) -> set[tuple[str, str]]:
    """The staged folders that operations which may still send them name in ``path``.

    A path is compared as written and, when it may lead into the folder by another way (a
    link in the data directory's path), as resolved: a copy still needed is never taken
    for a spare one.
    """
    roots = {root.parts, (await asyncio.to_thread(root.resolve)).parts}
    needed: set[tuple[str, str]] = set()
    after: int | None = None
    while True:
        page = await queue.list_operations(
            status=_KEEPS_FILES, operation_type=_FILE_TYPES, after_id=after, limit=_PAGE
        )
        if not page:
            return needed
        after = page[-1].id
        for op in page:
            raw = op.payload.get("path")
            if not isinstance(raw, str) or TRANSFERS_FOLDER not in raw:
                continue
            found = _staged_place(Path(raw).parts, roots)
            if found is None:
                resolved = await asyncio.to_thread(os.path.realpath, raw)
                found = _staged_place(Path(resolved).parts, roots)
            if found is not None:
                needed.add(found)


def _staged_place(parts: tuple[str, ...], roots: set[tuple[str, ...]]) -> tuple[str, str] | None:
    """(import id, number) of a path inside one of ``roots``, else None."""
    for root in roots:
        if len(parts) > len(root) + 1 and parts[: len(root)] == root:
            return parts[len(root)], parts[len(root) + 1]
    return None


def _remove(
    root: Path, staged: set[tuple[str, str]], needed: set[tuple[str, str]], by_age: bool
) -> int:
    removed = 0
    for import_id, number in sorted(staged - needed):
        if not import_id:
            target = root / number
            if target.is_dir():
                shutil.rmtree(target, ignore_errors=True)
            else:
                target.unlink(missing_ok=True)
            continue
        if number:
            shutil.rmtree(root / import_id / number, ignore_errors=True)
            removed += 1
        with contextlib.suppress(OSError):  # only once empty: others of it are still needed
            (root / import_id).rmdir()
    if removed:
        log.info("Removed the staged files of %d finished imported operations.", removed)
    return removed
