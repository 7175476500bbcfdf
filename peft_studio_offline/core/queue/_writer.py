"""The single writer task: every write to the queue goes through it, grouped into commits.

Callers hand in requests and wait for their own commit. Whatever is waiting when the
writer comes round is committed in one transaction, so a hundred concurrent ``enqueue``
calls cost one fsync instead of a hundred. A lone simple ``enqueue`` is one autocommitted
statement (one hop to the database thread) so that awaiting one at a time stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite

from peft_studio_offline.core.errors import PeftStudioOfflineError, QueueClosedError
from peft_studio_offline.core.events import EventSource, QueueChange
from peft_studio_offline.core.queue._database import translate

log = logging.getLogger(__name__)

# A transaction job: runs inside BEGIN IMMEDIATE ... COMMIT. It must check before it writes,
# so that raising a known error leaves nothing of its own behind.
JobFunction = Callable[[aiosqlite.Connection, float], Awaitable[tuple[Any, QueueChange | None]]]
# A statement job: one autocommitted statement, used when it is alone in its batch.
SingleFunction = Callable[[aiosqlite.Connection, float], Awaitable[tuple[Any, QueueChange | None]]]

IDLE_CHECK_SECONDS = 1.0


@dataclass(eq=False)
class WriteJob:
    run: JobFunction
    future: asyncio.Future[Any]
    # When set and the job is alone in its batch, run this instead, outside a transaction.
    run_alone: SingleFunction | None = None
    merge_key: str | None = None  # jobs with the same key may be merged by ``merger``
    data: Any = None


@dataclass(eq=False)
class _Stop:
    future: asyncio.Future[None]


@dataclass
class Writer:
    conn: aiosqlite.Connection
    path: Path
    clock: Callable[[], float]
    changes: EventSource[QueueChange]
    # Merges a run of jobs with the same merge_key into one (e.g. many enqueues, one insert).
    merger: Callable[[list[WriteJob]], JobFunction] | None = None
    _jobs: asyncio.Queue[WriteJob | _Stop] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None
    _closed: bool = False
    _data_version: int | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="queue-writer")

    async def submit(
        self,
        run: JobFunction,
        *,
        run_alone: SingleFunction | None = None,
        merge_key: str | None = None,
        data: Any = None,
    ) -> Any:
        if self._closed:
            raise QueueClosedError("The queue is closed.")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait(WriteJob(run, future, run_alone, merge_key, data))
        return await future

    async def stop(self) -> None:
        if self._closed:
            return
        self._closed = True
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._jobs.put_nowait(_Stop(future))
        if self._task is not None and not self._task.done():
            await future

    async def _loop(self) -> None:
        while True:
            try:
                first = await asyncio.wait_for(self._jobs.get(), IDLE_CHECK_SECONDS)
            except TimeoutError:
                await self._notice_other_writers()
                continue
            batch: list[WriteJob] = []
            stop: _Stop | None = None
            item: WriteJob | _Stop = first
            while True:
                if isinstance(item, _Stop):
                    stop = item
                    break
                batch.append(item)
                if self._jobs.empty():
                    break
                item = self._jobs.get_nowait()
            if batch:
                await self._run_batch(batch)
            if stop is not None:
                stop.future.set_result(None)
                return

    async def _notice_other_writers(self) -> None:
        """Another process (the CLI, a second window) committed: tell subscribers."""
        try:
            rows = list(await self.conn.execute_fetchall("PRAGMA data_version"))
        except sqlite3.Error:
            return
        version = int(rows[0][0])
        if self._data_version is not None and version != self._data_version:
            self.changes.emit(QueueChange("external"))
        self._data_version = version

    async def _run_batch(self, batch: list[WriteJob]) -> None:
        now = self.clock()
        alone = batch[0].run_alone
        if len(batch) == 1 and alone is not None:
            job = batch[0]
            try:
                result, change = await alone(self.conn, now)
            except sqlite3.Error as exc:
                _fail(job, translate(exc, self.path), exc)
            except PeftStudioOfflineError as exc:
                _fail(job, exc)
            else:
                _succeed(job, result)
                if change is not None:
                    self.changes.emit(change)
            return
        await self._run_transaction(self._merged(batch), now)

    def _merged(self, batch: list[WriteJob]) -> list[list[WriteJob]]:
        """Consecutive jobs with the same merge key form one group."""
        groups: list[list[WriteJob]] = []
        for job in batch:
            if (
                groups
                and job.merge_key is not None
                and groups[-1][0].merge_key == job.merge_key
                and self.merger is not None
            ):
                groups[-1].append(job)
            else:
                groups.append([job])
        return groups

    async def _run_transaction(self, groups: list[list[WriteJob]], now: float) -> None:
        outcomes: list[tuple[WriteJob, Any, BaseException | None]] = []
        changes: list[QueueChange] = []
        try:
            await self.conn.execute("BEGIN IMMEDIATE")
            try:
                for group in groups:
                    run = group[0].run if len(group) == 1 else self._merge(group)
                    try:
                        result, change = await run(self.conn, now)
                    except PeftStudioOfflineError as exc:
                        outcomes.extend((job, None, exc) for job in group)
                        continue
                    if len(group) == 1:
                        outcomes.append((group[0], result, None))
                    else:
                        # A merged run answers one result (or known error) per job.
                        for job, single in zip(group, result, strict=True):
                            error = single if isinstance(single, BaseException) else None
                            outcomes.append((job, None if error else single, error))
                    if change is not None:
                        changes.append(change)
                await self.conn.execute("COMMIT")
            except BaseException:
                await self._rollback()
                raise
        except sqlite3.Error as exc:
            jobs = [job for group in groups for job in group]
            if len(jobs) > 1:
                # One job's failure must not fail the others: run each on its own.
                for job in jobs:
                    await self._run_transaction([[job]], now)
                return
            _fail(jobs[0], translate(exc, self.path), exc)
            return
        except Exception as exc:  # a bug: every waiting caller hears of it
            log.exception("The queue writer failed")
            for group in groups:
                for job in group:
                    _fail(job, exc)
            return
        for job, result, error in outcomes:
            if error is None:
                _succeed(job, result)
            else:
                _fail(job, error)
        for change in changes:
            self.changes.emit(change)

    def _merge(self, group: list[WriteJob]) -> JobFunction:
        assert self.merger is not None
        return self.merger(group)

    async def _rollback(self) -> None:
        # SQLite may have rolled back already (e.g. on SQLITE_FULL).
        with contextlib.suppress(sqlite3.Error):
            await self.conn.execute("ROLLBACK")


def _succeed(job: WriteJob, result: Any) -> None:
    if not job.future.done():
        job.future.set_result(result)


def _fail(job: WriteJob, error: BaseException, cause: BaseException | None = None) -> None:
    if cause is not None and error.__cause__ is None:
        error.__cause__ = cause
    if not job.future.done():
        job.future.set_exception(error)
