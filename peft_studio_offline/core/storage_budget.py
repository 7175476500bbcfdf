"""How many bytes the app's files take, against the budget the settings give them.

Everything the app writes counts: the queue database and its log (``queue.db``,
``queue.db-wal``), the MLflow record beside it (``queue.mlflow.db``), files staged for
uploads (bundle imports under ``<data>/transfers``, MLflow artifacts under
``queue.mlflow-artifacts``) and the log files. The figure must be cheap, since every insert
looks at it: the database files are measured with a few ``os.stat`` calls (the queue's own
file by its pages in use, read from its header, so that rows removed by retention make
room again at once), while the staged trees and logs, which only grow through imports and
artifacts, are walked now and then (``STAGED_REFRESH``) and kept as a running figure.

Crossing 80 % and 95 % of the budget is logged once per crossing and told to listeners
(the window); falling back below a level and crossing it again tells again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from peft_studio_offline.core.settings import STORAGE_MAX_BYTES_VARIABLE as BUDGET_VARIABLE

log = logging.getLogger(__name__)

# The automatic budget (storage.max_bytes = 0): what the files take already, plus half of
# the free space when the app starts, and never more than AUTOMATIC_CAP. Half, because the
# disk is shared with what the queue waits to send (checkpoints, adapters): a queue that
# could take all of it would stop the training runs that feed it. The cap keeps a long
# offline stretch on a huge disk from growing a queue nobody can page through.
AUTOMATIC_CAP = 10 * 1024**3
AUTOMATIC_FRACTION = 0.5
# The smallest automatic budget: a nearly full disk still takes a few operations, which
# the disk itself then refuses if it must (StorageFullError, as before there was a budget).
AUTOMATIC_FLOOR = 1024**2
WARNING_LEVELS = (80, 95)  # percent of the budget at which the user is told
STAGED_REFRESH = 60.0  # seconds a walk of the staged trees is trusted
ROW_OVERHEAD = 256  # bytes a row takes beside its payload: columns, key and indexes
REMEASURE_EVERY = 1.0  # seconds a measurement is trusted while there is room to spare


@dataclass(frozen=True, slots=True)
class StorageLevel:
    """What the files take against the budget; ``level`` is the highest warning reached."""

    used: int
    limit: int
    level: int  # 0, or one of WARNING_LEVELS

    @property
    def percent(self) -> float:
        return 100.0 * self.used / self.limit if self.limit else 0.0

    def short(self) -> str:
        """``12% of 10.0 GiB (1.2 GiB used)``."""
        return f"{self.percent:.0f}% of {_size(self.limit)} ({_size(self.used)} used)"

    def sentence(self) -> str:
        return (
            f"The app's files take {self.percent:.0f}% of their storage budget"
            f" ({_size(self.used)} of {_size(self.limit)}, storage.max_bytes in the settings);"
            " finished operations are removed after their retention period."
        )


def budget_full_message(used: int, incoming: int, limit: int) -> str:
    return (
        f"The storage budget has no room for this: the app's files take {_size(used)} of"
        f" {_size(limit)} and this needs {_size(incoming)} more (storage.max_bytes in the"
        f" settings, or {BUDGET_VARIABLE}); nothing was written."
    )


def automatic_limit(folder: Path, used: int) -> int:
    """The budget for ``storage.max_bytes = 0`` (see ``AUTOMATIC_CAP``)."""
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    try:
        free = shutil.disk_usage(probe).free
    except OSError:
        return AUTOMATIC_CAP
    return max(AUTOMATIC_FLOOR, min(AUTOMATIC_CAP, used + int(free * AUTOMATIC_FRACTION)))


class StorageBudget:
    """A byte budget over the queue's files, staged trees and logs (thread-safe)."""

    def __init__(
        self,
        limit: int,
        *,
        database: Path,
        other_files: Iterable[Path] = (),
        staged_roots: Iterable[Path] = (),
        log_dir: Path | None = None,
    ) -> None:
        self.database = database
        self.other_files = tuple(other_files)
        self.staged_roots = tuple(staged_roots)
        self.log_dir = log_dir
        self._lock = threading.Lock()
        self._staged = 0
        self._staged_at = float("-inf")
        self._level = 0
        self._listeners: list[
            tuple[Callable[[StorageLevel], object], asyncio.AbstractEventLoop | None]
        ]
        self._listeners = []
        self._limit = limit if limit > 0 else None
        self._used = 0  # at the last measurement
        self._spare = 0  # bytes of room left then, less what was let in since
        self._measured_at = float("-inf")

    @property
    def limit(self) -> int:
        """The budget in bytes; an automatic one is worked out on first use (the free space
        then), not when the queue is built: most commands never write."""
        if self._limit is None:
            self._limit = automatic_limit(self.database.parent, self.measure())
        return self._limit

    @classmethod
    def for_queue(cls, limit: int, database: Path, data_dir: Path, log_dir: Path) -> StorageBudget:
        """The files of the queue at ``database``, with the data directory's staged files.

        The names are those of ``mlflow_local`` (record, artifacts) and ``transfer``
        (imports), spelled here so that a client need not import those packages to
        measure (a test holds them equal).
        """
        mlflow = database.with_name(f"{database.stem}.mlflow.db")
        return cls(
            limit,
            database=database,
            other_files=_with_logs(database, skip_main=True) + _with_logs(mlflow),
            staged_roots=(
                data_dir / "transfers",
                database.with_name(f"{database.stem}.mlflow-artifacts"),
            ),
            log_dir=log_dir,
        )

    # --------------------------------------------------------------- measuring

    def measure(self, conn: sqlite3.Connection | None = None) -> int:
        """Bytes in use now. With the queue's writer connection, the queue's file counts
        its pages in use; without, its size on disk."""
        return self._database_bytes(conn) + _sizes(self.other_files) + self.staged_bytes()

    def staged_bytes(self) -> int:
        """The staged trees and logs: walked again when the last walk is too old."""
        with self._lock:
            if time.monotonic() - self._staged_at < STAGED_REFRESH:
                return self._staged
        return self.refresh_staged()

    def refresh_staged(self) -> int:
        """Walk the staged trees and the log folder now; their bytes."""
        total = sum(tree_bytes(root) for root in self.staged_roots)
        if self.log_dir is not None:
            total += tree_bytes(self.log_dir, recursive=False)
        with self._lock:
            self._staged, self._staged_at = total, time.monotonic()
        return total

    def add_staged(self, size: int) -> None:
        """Count a file just staged (or, negative, just removed) before the next walk."""
        with self._lock:
            self._staged = max(0, self._staged + size)
            self._spare -= size

    def _database_bytes(self, conn: sqlite3.Connection | None) -> int:
        if conn is not None:
            pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
            free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
            size = int(conn.execute("PRAGMA page_size").fetchone()[0])
            return (pages - free) * size
        return _sizes((self.database,))

    # ---------------------------------------------------------------- deciding

    def over_by(self, conn: sqlite3.Connection, incoming: int) -> tuple[int, int]:
        """(bytes in use, bytes past the budget once ``incoming`` more are written: 0 when
        they fit). Called by the queue's writer before an insert.

        Far from the budget and its warning levels an insert is let through on the room
        left at the last measurement, less a generous guess of what it takes (``_cost``);
        the files are measured again when that room runs out or the measurement is
        ``REMEASURE_EVERY`` old. Near the budget every insert measures.
        """
        cost = _cost(incoming)
        with self._lock:
            fresh = time.monotonic() - self._measured_at < REMEASURE_EVERY
            if fresh and self._spare > cost:
                self._spare -= cost
                return self._used, 0
        used = self.measure(conn)
        self.note(used)
        with self._lock:
            self._spare -= cost
        return used, max(0, used + incoming - self.limit)

    def set_limit(self, limit: int) -> None:
        """A new budget (0: automatic again), used from the next insert on."""
        with self._lock:
            self._limit = limit if limit > 0 else None
            self._measured_at = float("-inf")

    def note(self, used: int) -> StorageLevel:
        """Record a measurement; a warning level crossed upwards is logged and told."""
        limit = self.limit  # worked out first: an automatic one measures, under the lock
        percent = 100.0 * used / limit if limit else 0.0
        level = max((mark for mark in WARNING_LEVELS if percent >= mark), default=0)
        # Room up to the next warning level (or the budget): crossing one measures again.
        marks = [limit * mark // 100 for mark in WARNING_LEVELS] + [limit]
        with self._lock:
            previous, self._level = self._level, level
            self._used, self._spare = used, min((m for m in marks if m > used), default=0) - used
            self._measured_at = time.monotonic()
            listeners = list(self._listeners)
        state = StorageLevel(used, limit, level)
        if level > previous:
            log.warning("%s", state.sentence())
        if level != previous:  # listeners hear the way back down too (to clear a warning)
            for callback, loop in listeners:
                if loop is None:
                    callback(state)
                    continue
                with contextlib.suppress(RuntimeError):  # a loop that has closed
                    loop.call_soon_threadsafe(callback, state)
        return state

    @property
    def level(self) -> int:
        return self._level

    def listen(
        self,
        callback: Callable[[StorageLevel], object],
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> Callable[[], None]:
        """Call ``callback`` at each change of warning level, on ``loop`` (None: on the
        thread that measured, for callbacks that hand over themselves, as a Qt signal
        does); returns the undo."""
        entry = (callback, loop)
        with self._lock:
            self._listeners.append(entry)

        def remove() -> None:
            with self._lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return remove


def _cost(incoming: int) -> int:
    """A generous guess of what writing ``incoming`` bytes of rows adds to the files: the
    rows in the file and again in its log, index pages, and the pages every commit writes."""
    return 4 * incoming + 16 * 1024


def _with_logs(path: Path, *, skip_main: bool = False) -> tuple[Path, ...]:
    names = ("-wal", "-shm") if skip_main else ("", "-wal", "-shm")
    return tuple(path.with_name(path.name + suffix) for suffix in names)


def _sizes(paths: Iterable[Path]) -> int:
    total = 0
    for path in paths:
        with contextlib.suppress(OSError):
            total += path.stat().st_size
    return total


def tree_bytes(root: Path, *, recursive: bool = True) -> int:
    """Bytes of the regular files under ``root`` (links are not followed)."""
    total = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive:
                        stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{count} bytes" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover
