"""Every file of the queue database is the user's alone, wherever ``--db`` puts it."""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peft_studio_offline.core.queue import OfflineQueueManager

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what most desktops use: new files readable by everyone
    yield
    os.umask(previous)


def modes(db_path: Path) -> dict[str, int]:
    files = [db_path, *(db_path.with_name(db_path.name + s) for s in ("-wal", "-shm"))]
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}


async def test_db_wal_and_shm_are_created_private_in_a_shared_folder(
    tmp_path: Path, usual_umask: None
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    db_path = shared / "queue.db"
    async with OfflineQueueManager(db_path) as queue:
        await queue.enqueue("api_call", {"endpoint": "/m"})
        assert modes(db_path) == {"queue.db": 0o600, "queue.db-wal": 0o600, "queue.db-shm": 0o600}


async def test_an_existing_queue_readable_by_others_is_tightened(
    tmp_path: Path, usual_umask: None
) -> None:
    db_path = tmp_path / "old.db"
    with sqlite3.connect(db_path) as conn:  # as an older version left it: 0644, WAL mode
        conn.execute("PRAGMA journal_mode = WAL")
    db_path.chmod(0o644)
    async with OfflineQueueManager(db_path) as queue:
        await queue.enqueue("api_call", {"endpoint": "/m"})
        assert set(modes(db_path).values()) == {0o600}
