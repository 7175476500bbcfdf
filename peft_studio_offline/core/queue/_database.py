"""Opening the queue file safely, and translating SQLite's errors into the package's.

Durability: WAL with ``synchronous=FULL``. WAL lets the window, the command line and the API
read while one of them writes; FULL makes SQLite fsync the WAL on every commit, so an
acknowledged operation survives power loss, not just a crashed process (WAL with NORMAL
can lose the last commits on power loss). The cost is one fsync per commit, which group
commit spreads over every operation that was waiting. Claims and lease renewals alone
commit with NORMAL (see ``Writer._set_durable``): losing one leaves operations pending,
which is what reopening the queue does to an unfinished claim anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
import struct
import sys
from pathlib import Path

import aiosqlite

from peft_studio_offline.core.errors import (
    CorruptDatabaseError,
    InvalidOperationError,
    PeftStudioOfflineError,
    QueueError,
    QueueLockedError,
    StorageFullError,
)
from peft_studio_offline.core.paths import PRIVATE_FILE_MODE
from peft_studio_offline.core.queue._search import SQL_FUNCTION, shown_has

SQLITE_HEADER = b"SQLite format 3\x00"


def check_file(path: Path) -> None:
    """Refuse a file that is plainly not a queue database, without touching it."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise CorruptDatabaseError(path, f"it cannot be read: {exc.strerror}") from exc
    if path.is_dir():
        # Not damage: nothing there is to be moved aside; the path itself is wrong.
        raise QueueError(f"{path} is a folder, not a queue database file; give a file's path.")
    if size == 0:
        return  # SQLite treats an empty file as an empty database
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise CorruptDatabaseError(path, f"it cannot be read: {exc.strerror}") from exc
    if len(header) < 100 or not header.startswith(SQLITE_HEADER):
        raise CorruptDatabaseError(path, "it is not an SQLite database")
    expected = _expected_size(header)
    if expected is None or size >= expected:
        return
    if has_companion_log(path):
        # A checkpoint that ran out of space can write the header's new page count before
        # the pages themselves; those pages are still in the WAL, so the length proves
        # nothing. SQLite reads the file with its log and says whether it is whole.
        verify_with_sqlite(path)
        return
    raise CorruptDatabaseError(path, f"it is truncated: {size} of {expected} bytes are there")


def _expected_size(header: bytes) -> int | None:
    """The length the header promises, or None when the header's count is not current."""
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    (page_count,) = struct.unpack(">I", header[28:32])
    (change_counter,) = struct.unpack(">I", header[24:28])
    (valid_for,) = struct.unpack(">I", header[92:96])
    # The header's page count is trustworthy only when it was written with the last change.
    if not page_count or change_counter != valid_for:
        return None
    return int(page_count * page_size)


def has_companion_log(path: Path) -> bool:
    """True when a non-empty WAL or rollback journal beside the file holds part of it."""
    for suffix in ("-wal", "-journal"):
        try:
            if path.with_name(path.name + suffix).stat().st_size > 0:
                return True
        except OSError:
            continue
    return False


def verify_with_sqlite(path: Path) -> None:
    """Let SQLite judge the file with its log: raise only on damage that it finds.

    When SQLite cannot even look (a full disk with no room for the shared-memory file, say),
    the ordinary open decides instead.
    """
    damage = damage_found_by_sqlite(path)
    if damage:
        raise CorruptDatabaseError(path, damage)


def damage_found_by_sqlite(path: Path) -> str | None:
    """What SQLite's own check finds wrong with the file: a sentence, "" when it is whole,
    None when SQLite could not look.

    The connection is read-only: it neither checkpoints nor deletes the log when it closes,
    so a damaged file is left exactly as it was.
    """
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return None
    try:
        verdict = str(conn.execute("PRAGMA quick_check").fetchone()[0])
    except sqlite3.DatabaseError as exc:
        return str(exc) if is_damage(exc) else None
    finally:
        conn.close()
    return "" if verdict == "ok" else f"SQLite's check found damage: {verdict}"


def is_damage(exc: sqlite3.Error) -> bool:
    """True when SQLite says the file itself is damaged, not that it could not be read now."""
    if getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
        return True
    lowered = str(exc).lower()
    return "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered


def translate(exc: sqlite3.Error, path: Path) -> PeftStudioOfflineError:
    """Turn an SQLite error into a known error with a sentence for the user."""
    message = str(exc)
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        return QueueLockedError(
            f"The queue database {path} is locked by another process; try again in a moment."
        )
    if "full" in lowered:
        return StorageFullError(
            f"The queue database {path} cannot grow (the disk is full or its size limit is"
            " reached); nothing was written."
        )
    if isinstance(exc, sqlite3.DatabaseError) and is_damage(exc):
        return CorruptDatabaseError(path, message)
    if "unique constraint failed" in lowered and "idempotency_key" in lowered:
        return InvalidOperationError("That idempotency key is already used by another operation.")
    if "no such table" in lowered or "no such index" in lowered:
        # The schema is this version's own: only another program can have changed it, as a
        # newer version of this app does when it upgrades the file on open.
        return QueueError(
            f"The queue database {path} was changed by another program, such as a newer"
            " version of PEFT Studio Offline; restart this app to go on."
        )
    if "readonly" in lowered or "read-only" in lowered:
        return QueueError(f"The queue database {path} is read-only; nothing was written.")
    return QueueError(f"The queue database {path} failed: {message}.")


async def connect_reader(path: Path, busy_timeout: float) -> aiosqlite.Connection:
    """The readers' connection, closed again if anything stops it from being set up."""
    connecting = asyncio.ensure_future(aiosqlite.connect(path, isolation_level=None))
    try:
        # aiosqlite drops, unclosed, a connection that it was opening when cancelled:
        # let the opening finish, so that the connection can be closed below.
        conn = await asyncio.shield(connecting)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await (await connecting).close()
        raise
    try:
        conn.row_factory = sqlite3.Row
        await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        await conn.execute("PRAGMA query_only = 1")
        # Searches match the text shown, secrets masked (see ``_search.py``).
        await conn.create_function(SQL_FUNCTION, 4, shown_has, deterministic=True)
    except BaseException:
        with contextlib.suppress(Exception):
            await conn.close()
        raise
    return conn


def create_private_database(path: Path) -> bool:
    """Make sure every file of the database is the user's alone; True when it was created.

    SQLite gives the WAL and shared-memory files the permissions of the database file, so
    the database is created empty (which SQLite reads as a new database) with 0600 before
    SQLite sees it, wherever it is (``--db`` may name any folder). Files of an existing
    queue that others may read (an older version made them so) are tightened.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE_MODE))
    except FileExistsError:
        created = False
    except OSError:
        return False  # SQLite will say what is wrong, in its words
    else:
        created = True
    if sys.platform != "win32":
        for name in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
            with contextlib.suppress(OSError):
                info = name.stat()
                if info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) & 0o077:
                    name.chmod(PRIVATE_FILE_MODE)
    return created


def connect_writer(
    path: Path, busy_timeout: float, *, check_same_thread: bool = True
) -> sqlite3.Connection:
    """The writer's connection; call it on the writer thread, which it then belongs to."""
    conn = sqlite3.connect(
        path, isolation_level=None, timeout=busy_timeout, check_same_thread=check_same_thread
    )
    conn.row_factory = sqlite3.Row
    return conn


def check_readable(conn: sqlite3.Connection, path: Path) -> None:
    """Read before writing anything: a damaged file must be left exactly as it is."""
    try:
        conn.execute("SELECT name, sql FROM sqlite_master").fetchall()
        if conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'offline_operations'"
        ).fetchone():
            conn.execute("SELECT max(id) FROM offline_operations").fetchall()
    except sqlite3.DatabaseError as exc:
        raise CorruptDatabaseError(path, str(exc)) from exc


def configure_writer(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")


def apply_storage_limit(conn: sqlite3.Connection, max_db_bytes: int | None) -> None:
    """Cap the file at ``max_db_bytes`` for this connection's writes (None: no cap)."""
    page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
    pages = 1_073_741_823 if max_db_bytes is None else max(1, max_db_bytes // page_size)
    conn.execute(f"PRAGMA max_page_count = {pages}")
