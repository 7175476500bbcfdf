"""Judging a queue file: a WAL beside a short file is no damage; move-aside moves only damage."""

from __future__ import annotations

import shutil
import sqlite3
import struct
from pathlib import Path

import pytest

from peft_studio_offline.core.errors import CorruptDatabaseError, QueueError
from peft_studio_offline.core.queue import OfflineQueueManager, move_aside_corrupt_database
from peft_studio_offline.core.queue._database import check_file


def _short_file_with_its_pages_in_the_wal(folder: Path) -> tuple[Path, int]:
    """What a checkpoint that ran out of space leaves: a header promising pages that only
    the WAL holds. Made by copying a live database with its WAL, then writing the header's
    page count as a checkpoint does before it writes the pages."""
    live = folder / "live.db"
    conn = sqlite3.connect(live, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA wal_autocheckpoint = 0")
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.executemany("INSERT INTO t VALUES (?)", [("r" * 500,)] * 100)
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    db = folder / "queue.db"
    shutil.copy(live, db)
    shutil.copy(folder / "live.db-wal", folder / "queue.db-wal")
    conn.close()
    header = bytearray(db.read_bytes())
    counter = header[24:28]
    header[28:32] = struct.pack(">I", pages)
    header[92:96] = counter  # the count is current for the last change
    db.write_bytes(bytes(header))
    assert db.stat().st_size < pages * 4096
    return db, 100


def test_a_short_file_with_its_wal_is_opened_not_refused(tmp_path: Path) -> None:
    db, rows = _short_file_with_its_pages_in_the_wal(tmp_path)
    check_file(db)  # no verdict from the length while the WAL holds the rest
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == rows
    conn.close()


def test_a_short_file_without_a_wal_is_still_truncated(tmp_path: Path) -> None:
    db, _ = _short_file_with_its_pages_in_the_wal(tmp_path)
    (tmp_path / "queue.db-wal").unlink()
    with pytest.raises(CorruptDatabaseError, match="truncated"):
        check_file(db)


def test_a_damaged_file_beside_a_wal_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    db, _ = _short_file_with_its_pages_in_the_wal(tmp_path)
    data = bytearray(db.read_bytes())
    data[4096 : 4096 * 2] = b"\xff" * 4096  # a page the WAL does not hold again
    (tmp_path / "queue.db-wal").write_bytes(b"")  # and no log to take its place
    (tmp_path / "queue.db-wal").write_bytes(b"\x00" * 10)
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    with pytest.raises(CorruptDatabaseError):
        check_file(db)
    assert db.read_bytes() == before


async def test_move_aside_refuses_a_queue_that_checks_clean(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    async with OfflineQueueManager(db) as queue:
        await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/x"})
    with pytest.raises(QueueError, match="opens and checks clean"):
        move_aside_corrupt_database(db)
    assert db.exists()
    async with OfflineQueueManager(db) as queue:
        assert (await queue.get_queue_stats())["total"] == 1


def test_move_aside_refuses_a_folder_and_a_link(tmp_path: Path) -> None:
    folder = tmp_path / "home-folder"
    folder.mkdir()
    with pytest.raises(QueueError, match="is a folder"):
        move_aside_corrupt_database(folder)
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(b"not a database at all" * 10)
    link = tmp_path / "queue.db"
    link.symlink_to(damaged)
    with pytest.raises(QueueError, match="is a link"):
        move_aside_corrupt_database(link)
    assert folder.is_dir() and link.is_symlink() and damaged.exists()


async def test_a_folder_is_not_called_damaged(tmp_path: Path) -> None:
    queue = OfflineQueueManager(tmp_path)
    with pytest.raises(QueueError, match="is a folder") as caught:
        await queue.open()
    await queue.close()
    assert not isinstance(caught.value, CorruptDatabaseError)
