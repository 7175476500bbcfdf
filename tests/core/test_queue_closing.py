"""Whatever stops the queue, the connections it opened are closed at once, not when collected.

A connection left to the garbage collector keeps the file open until then (Python 3.13 warns
about it) and the readers' connection keeps a thread of its own, and with it the process,
alive.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from pathlib import Path

import pytest

from peft_studio_offline.core.errors import QueueError
from peft_studio_offline.core.queue import OfflineQueueManager
from tests.support.sqlite_files import connected

FD_FOLDER = Path("/proc/self/fd")

pytestmark = pytest.mark.skipif(not FD_FOLDER.is_dir(), reason="needs /proc/self/fd")


def _descriptors_on(db: Path) -> list[str]:
    """This process's open files that are the queue file or one beside it (WAL, shm)."""
    found = []
    for fd in FD_FOLDER.iterdir():
        with contextlib.suppress(OSError):
            target = str(fd.readlink())
            if target.startswith(str(db)):
                found.append(target)
    return found


async def _descriptors_closed(db: Path) -> list[str]:
    """The files on ``db`` still open after a moment: a close that a worker thread is
    finishing is given the time the threads get; the collector is never run here, so a
    connection left for it to close still shows."""
    deadline = time.monotonic() + 2.0
    while True:
        found = _descriptors_on(db)
        if not found or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.01)


async def _threads_ended(before: set[threading.Thread]) -> list[str]:
    """The threads started since ``before`` that are still running after a moment."""
    deadline = time.monotonic() + 5.0
    while True:
        alive = [t.name for t in threading.enumerate() if t not in before and t.is_alive()]
        if not alive or time.monotonic() > deadline:
            return alive
        await asyncio.sleep(0.01)


async def _turns_to_open(db: Path) -> int:
    queue = OfflineQueueManager(db)
    opening = asyncio.ensure_future(queue.open())
    turns = 0
    while not opening.done():
        await asyncio.sleep(0)
        turns += 1
    await queue.close()
    return turns


async def test_an_open_stopped_at_any_point_leaves_nothing_open(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    db = tmp_path / "queue.db"
    await _turns_to_open(db)  # creates the file: the opens below find it there
    turns = min([await _turns_to_open(db) for _ in range(3)])
    stopped_midway = 0
    for at in range(0, turns + turns // 10, max(1, turns // 40)):
        queue = OfflineQueueManager(db)
        opening = asyncio.ensure_future(queue.open())
        for _ in range(at):
            if opening.done():
                break
            await asyncio.sleep(0)
        if opening.done():
            await queue.close()  # it opened: closing is the caller's part
        else:
            stopped_midway += 1
            opening.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await opening
            assert not queue.is_open
        assert await _threads_ended(before) == [], f"cancelled after {at} of {turns} turns"
        assert await _descriptors_closed(db) == [], f"cancelled after {at} of {turns} turns"
    assert stopped_midway >= 10


async def test_a_failed_open_leaves_nothing_open(tmp_path: Path) -> None:
    before = set(threading.enumerate())
    db = tmp_path / "queue.db"
    async with OfflineQueueManager(db):
        pass
    # A version newer than this one's: refused after the connection is made.
    with connected(db) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(QueueError, match="newer version"):
        async with OfflineQueueManager(db):
            pass
    assert await _threads_ended(before) == []
    assert _descriptors_on(db) == []
