"""The single writer: every write to the queue goes through it, grouped into commits.

Callers hand in jobs and wait for their own commit. Whatever is waiting when the writer
comes round is committed in one transaction, so a hundred concurrent ``enqueue`` calls
cost one fsync instead of a hundred.

The writer owns a plain ``sqlite3`` connection on a thread of its own, and runs a whole
group commit (BEGIN IMMEDIATE, every job, COMMIT) as one function call on that thread.
aiosqlite, which serves the reads, hands over one statement per call; a commit of three
statements would cost three thread hops (~50 µs each), which is most of an enqueue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
    run: Job
    future: asyncio.Future[Any]
    merge_key: str | None = None
    data: Any = None


@dataclass(eq=False)
class _Stop:
    pass


Outcome = tuple[WriteJob, Any, BaseException | None]


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
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="queue-writer")
        self._jobs: asyncio.Queue[WriteJob | _Stop] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._data_version: int | None = None

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the writer thread (opening, migrating, closing)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, fn, *args)

    def start(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="queue-writer")

    async def submit(self, run: Job, *, merge_key: str | None = None, data: Any = None) -> Any:
        if self._closed or self.conn is None:
            raise QueueClosedError("The queue is closed.")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait(WriteJob(run, future, merge_key, data))
        return await future

    async def stop(self) -> None:
        """Finish every job already handed in, then close the connection and the thread."""
        if self._closed:
            return
        self._closed = True
        if self._task is not None and not self._task.done():
            self._jobs.put_nowait(_Stop())
            await self._task
        conn, self.conn = self.conn, None
        if conn is not None:
            await self.call(conn.close)
        self._executor.shutdown(wait=False)

    async def _loop(self) -> None:
        while True:
            try:
                first = await asyncio.wait_for(self._jobs.get(), IDLE_CHECK_SECONDS)
            except TimeoutError:
                await self._notice_other_writers()
                continue
            batch: list[WriteJob] = []
            stop = False
            item: WriteJob | _Stop = first
            while True:
                if isinstance(item, _Stop):
                    stop = True
                    break
                batch.append(item)
                if self._jobs.empty():
                    break
                item = self._jobs.get_nowait()
            if batch:
                await self._run_batch(batch)
            if stop:
                return

    async def _notice_other_writers(self) -> None:
        """Another process (the CLI, a second window) committed: tell subscribers."""
        conn = self.conn
        if conn is None:
            return
        try:
            version = await self.call(
                lambda: int(conn.execute("PRAGMA data_version").fetchone()[0])
            )
        except sqlite3.Error:
            return
        if self._data_version is not None and version != self._data_version:
            self.changes.emit(QueueChange("external"))
        self._data_version = version

    async def _run_batch(self, batch: list[WriteJob]) -> None:
        now = self.clock()
        groups = self._merged(batch)
        try:
            outcomes, changes = await self.call(self._commit_groups, groups, now)
        except Exception as exc:  # a bug: every waiting caller hears of it
            log.exception("The queue writer failed")
            outcomes = [(job, None, exc) for group in groups for job in group]
            changes = []
        for job, result, error in outcomes:
            if job.future.done():
                continue  # the caller gave up waiting; the write stands
            if error is None:
                job.future.set_result(result)
            else:
                job.future.set_exception(error)
        for change in changes:
            self.changes.emit(change)

    def _merged(self, batch: list[WriteJob]) -> list[list[WriteJob]]:
        """Consecutive jobs with the same merge key form one group."""
        groups: list[list[WriteJob]] = []
        for job in batch:
            if (
                groups
                and self.merger is not None
                and job.merge_key is not None
                and groups[-1][0].merge_key == job.merge_key
            ):
                groups[-1].append(job)
            else:
                groups.append([job])
        return groups

    # ----------------------------------------------------------- on the writer thread

    def _commit_groups(
        self, groups: list[list[WriteJob]], now: float
    ) -> tuple[list[Outcome], list[QueueChange]]:
        conn = self.conn
        assert conn is not None
        outcomes: list[Outcome] = []
        changes: list[QueueChange] = []
        try:
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

    def _run_group(
        self,
        conn: sqlite3.Connection,
        group: list[WriteJob],
        now: float,
        outcomes: list[Outcome],
        changes: list[QueueChange],
    ) -> None:
        if len(group) == 1:
            run = group[0].run
        else:
            assert self.merger is not None
            run = self.merger(group)
        try:
            result, change = run(conn, now)
        except PeftStudioOfflineError as exc:
            outcomes.extend((job, None, exc) for job in group)
            return
        if len(group) == 1:
            outcomes.append((group[0], result, None))
        else:
            for job, single in zip(group, result, strict=True):
                error = single if isinstance(single, BaseException) else None
                outcomes.append((job, None if error else single, error))
        if change is not None:
            changes.append(change)
