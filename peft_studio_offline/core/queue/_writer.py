"""The single writer: every write to the queue goes through it, grouped into commits.

Callers hand in jobs and wait for their own commit. Whatever is waiting when the writer
comes round is committed in one transaction, so a hundred concurrent ``enqueue`` calls
cost one fsync instead of a hundred.

The writer is a thread of its own with a plain ``sqlite3`` connection. It takes jobs from a
thread-safe queue, runs a whole group commit (BEGIN IMMEDIATE, every job, COMMIT) without
leaving the thread, and hands the results back to the event loop in one callback. A job
thus costs two thread crossings in all; aiosqlite, which serves the reads, would cost two
per statement, and a commit of three statements is most of an enqueue's time.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from operator import attrgetter
from pathlib import Path
from typing import Any, TypeVar

from peft_studio_offline.core.errors import PeftStudioOfflineError, QueueClosedError
from peft_studio_offline.core.events import EventSource, QueueChange
from peft_studio_offline.core.queue._database import translate

log = logging.getLogger(__name__)

T = TypeVar("T")

# A job runs on the writer thread inside BEGIN IMMEDIATE ... COMMIT. It must check before
# it writes, so that raising a known error leaves nothing of its own behind.
Job = Callable[[sqlite3.Connection, float], tuple[Any, QueueChange | None]]
# Merges consecutive jobs that share a merge key into one (many enqueues, one insert); the
# merged job answers a list with one result, or one known error, per original job.
Merger = Callable[[list["WriteJob"]], Job]

IDLE_CHECK_SECONDS = 1.0


@dataclass(eq=False)
class WriteJob:
    run: Job | None  # None when a merger runs it (a merge key is set)
    future: asyncio.Future[Any]
    merge_key: str | None = None
    data: Any = None
    durable: bool = True


@dataclass(eq=False)
class _Call:
    """A plain function to run on the writer thread, outside any transaction."""

    fn: Callable[..., Any]
    args: tuple[Any, ...]
    future: asyncio.Future[Any]


class _Stop:
    pass


Outcome = tuple[WriteJob, Any, BaseException | None]

_merge_key = attrgetter("merge_key")


class Writer:
    def __init__(
        self,
        path: Path,
        clock: Callable[[], float],
        changes: EventSource[QueueChange],
        merger: Merger | None = None,
    ) -> None:
        self.path = path
        self.clock = clock
        self.changes = changes
        self.merger = merger
        self.conn: sqlite3.Connection | None = None
        self._inbox: queue.SimpleQueue[WriteJob | _Call | _Stop] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._serve, name="queue-writer", daemon=True)
        self._thread.start()
        self._closed = False
        self._stopped = asyncio.Event()
        self._data_version: int | None = None
        self._durable = True  # configure_writer sets synchronous = FULL

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the writer thread (opening, migrating, closing)."""
        future: asyncio.Future[T] = self._loop.create_future()
        self._inbox.put(_Call(fn, args, future))
        return await future

    async def open(self, connect: Callable[[], sqlite3.Connection]) -> None:
        """Open the connection on the writer thread, which owns it from then on.

        The thread keeps it even when the caller stops waiting (a cancelled open), so that
        ``stop`` closes it.
        """
        await self.call(self._adopt, connect)

    def submit(self, run: Job, *, durable: bool = True) -> asyncio.Future[Any]:
        """Hand in a job; the future it returns settles once the job's commit is done.

        ``durable=False`` is for writes whose loss on power failure harms nothing (claims,
        lease renewals): a commit of only such jobs does not wait for the disk.
        """
        return self._hand_in(run, None, None, durable)

    def submit_merged(self, merge_key: str, data: Any) -> asyncio.Future[Any]:
        """Hand in ``data`` for the merger, together with whatever else waits under the key."""
        return self._hand_in(None, merge_key, data, True)

    def _hand_in(
        self, run: Job | None, merge_key: str | None, data: Any, durable: bool
    ) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = self._loop.create_future()
        if self._closed or self.conn is None:
            future.set_exception(QueueClosedError("The queue is closed."))
        else:
            self._inbox.put(WriteJob(run, future, merge_key, data, durable))
        return future

    async def stop(self) -> None:
        """Finish every job already handed in, close the connection, end the thread."""
        if self._closed:
            return
        self._closed = True
        self._inbox.put(_Stop())
        await self._stopped.wait()

    # ----------------------------------------------------------- on the writer thread

    def _serve(self) -> None:
        while True:
            try:
                first = self._inbox.get(timeout=IDLE_CHECK_SECONDS)
            except queue.Empty:
                if self._loop.is_closed():  # the queue was never closed: end quietly
                    self._close()
                    return
                self._notice_other_writers()
                continue
            batch: list[WriteJob] = []
            item: WriteJob | _Call | _Stop | None = first
            take = self._inbox.get_nowait
            while item is not None:
                if type(item) is WriteJob:
                    batch.append(item)
                elif isinstance(item, _Call):
                    self._flush(batch)
                    batch = []
                    self._run_call(item)
                else:  # _Stop: finish what was handed in before it, then end
                    self._flush(batch)
                    self._close()
                    return
                try:
                    item = take()
                except queue.Empty:
                    item = None
            self._flush(batch)

    def _post(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody is waiting
            self._loop.call_soon_threadsafe(callback, *args)

    def _run_call(self, call: _Call) -> None:
        try:
            result = call.fn(*call.args)
        except BaseException as exc:
            self._post(_settle_one, call.future, None, exc)
        else:
            self._post(_settle_one, call.future, result, None)

    def _adopt(self, connect: Callable[[], sqlite3.Connection]) -> None:
        self.conn = connect()

    def _close(self) -> None:
        conn, self.conn = self.conn, None
        if conn is not None:
            with contextlib.suppress(sqlite3.Error):
                conn.close()
        self._post(self._stopped.set)

    def _notice_other_writers(self) -> None:
        """Another process (the CLI, a second window) committed: tell subscribers."""
        if self.conn is None:
            return
        try:
            version = int(self.conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error:
            return
        if self._data_version is not None and version != self._data_version:
            self._post(self.changes.emit, QueueChange("external"))
        self._data_version = version

    def _flush(self, batch: list[WriteJob]) -> None:
        if not batch:
            return
        groups = self._merged(batch)
        try:
            outcomes, changes = self._commit_groups(groups, self.clock())
        except Exception as exc:  # a bug: every waiting caller hears of it
            log.exception("The queue writer failed")
            outcomes = [(job, None, exc) for group in groups for job in group]
            changes = []
        self._post(self._deliver, outcomes, changes)

    def _deliver(self, outcomes: list[Outcome], changes: list[QueueChange]) -> None:
        """On the event loop: wake every caller, then tell subscribers."""
        for job, result, error in outcomes:
            _settle_one(job.future, result, error)
        for change in changes:
            self.changes.emit(change)

    def _merged(self, batch: list[WriteJob]) -> list[list[WriteJob]]:
        """Consecutive jobs with the same merge key form one group."""
        if self.merger is None:
            return [[job] for job in batch]
        groups: list[list[WriteJob]] = []
        for key, jobs in groupby(batch, key=_merge_key):
            if key is None:
                groups.extend([job] for job in jobs)
            else:
                groups.append(list(jobs))
        return groups

    def _commit_groups(
        self, groups: list[list[WriteJob]], now: float
    ) -> tuple[list[Outcome], list[QueueChange]]:
        conn = self.conn
        assert conn is not None
        outcomes: list[Outcome] = []
        changes: list[QueueChange] = []
        try:
            self._set_durable(conn, any(job.durable for group in groups for job in group))
            conn.execute("BEGIN IMMEDIATE")
            try:
                for group in groups:
                    self._run_group(conn, group, now, outcomes, changes)
                conn.execute("COMMIT")
            except BaseException:
                # SQLite may have rolled back already (e.g. on SQLITE_FULL).
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            jobs = [job for group in groups for job in group]
            if len(jobs) > 1:
                # One job's failure must not fail the others: run each on its own.
                outcomes, changes = [], []
                for job in jobs:
                    single_outcomes, single_changes = self._commit_groups([[job]], now)
                    outcomes.extend(single_outcomes)
                    changes.extend(single_changes)
                return outcomes, changes
            error = translate(exc, self.path)
            error.__cause__ = exc
            return [(jobs[0], None, error)], []
        return outcomes, changes

    def _set_durable(self, conn: sqlite3.Connection, durable: bool) -> None:
        """FULL waits for the disk at commit; NORMAL does not, yet keeps the file whole.

        In WAL mode the next FULL commit syncs the log with everything before it, so a
        NORMAL commit can only be lost together with the commits that followed it.
        """
        if durable != self._durable:
            conn.execute(f"PRAGMA synchronous = {'FULL' if durable else 'NORMAL'}")
            self._durable = durable

    def _run_group(
        self,
        conn: sqlite3.Connection,
        group: list[WriteJob],
        now: float,
        outcomes: list[Outcome],
        changes: list[QueueChange],
    ) -> None:
        merged = group[0].merge_key is not None
        if merged:
            assert self.merger is not None
            run = self.merger(group)
        else:
            assert group[0].run is not None
            run = group[0].run
        try:
            result, change = run(conn, now)
        except PeftStudioOfflineError as exc:
            outcomes.extend((job, None, exc) for job in group)
            return
        if not merged:
            outcomes.append((group[0], result, None))
        elif not any(isinstance(single, BaseException) for single in result):
            outcomes.extend(zip(group, result, [None] * len(group), strict=True))
        else:
            for job, single in zip(group, result, strict=True):
                error = single if isinstance(single, BaseException) else None
                outcomes.append((job, None if error else single, error))
        if change is not None:
            changes.append(change)


def _settle_one(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.done():
        return  # the caller gave up waiting; the write stands
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)
