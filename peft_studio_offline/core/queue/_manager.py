"""``OfflineQueueManager``: the durable operation queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Unpack

import aiosqlite

from peft_studio_offline.core.enums import (
    OperationStatus,
    OperationType,
    OverflowPolicy,
)
from peft_studio_offline.core.errors import (
    InvalidOperationError,
    InvalidStateError,
    OperationNotFoundError,
    QueueClosedError,
    QueueError,
    QueueLockedError,
)
from peft_studio_offline.core.events import EventSource, QueueChange
from peft_studio_offline.core.operation import (
    HistoryEvent,
    Operation,
    check_priority,
)
from peft_studio_offline.core.paths import ensure_private_dir
from peft_studio_offline.core.queue import _jobs, _schema, _sealed, _transfers
from peft_studio_offline.core.queue._codec import encode_payload
from peft_studio_offline.core.queue._database import (
    apply_storage_limit,
    check_file,
    check_readable,
    configure_writer,
    connect_reader,
    connect_writer,
    create_private_database,
    translate,
)
from peft_studio_offline.core.queue._identity import new_owner, owner_is_gone, retire_owner
from peft_studio_offline.core.queue._inserts import (
    ENQUEUE_OPTIONS,
    EnqueueOptions,
    InsertBatch,
    InsertValues,
    NewOperation,
    validate,
)
from peft_studio_offline.core.queue._reads import (
    _READY,
    _READY_FROM,
    QueueReads,
    _limit,
    _non_negative_int,
    _ready_extra,
    _status,
)
from peft_studio_offline.core.queue._rows import (
    OPERATION_COLUMNS,
    format_timestamp,
)
from peft_studio_offline.core.queue._writer import Job, WriteJob, Writer
from peft_studio_offline.core.sealing import KEY_SETTING, PayloadSealer, seal_with
from peft_studio_offline.core.storage_budget import StorageBudget, StorageLevel

log = logging.getLogger(__name__)

_QUEUE_OPTIONS = frozenset(
    {
        "max_size",
        "overflow",
        "compress_threshold",
        "lease_seconds",
        "busy_timeout",
        "backoff_base",
        "backoff_cap",
        "clock",
        "max_db_bytes",
        "sealer",
        "storage_budget",
    }
)

# How long an operation waiting for a setting stays put when nothing wakes it: the engine
# wakes it at once when the setting appears; this is only the safety net.
WAITING_RECHECK = 300.0


class OfflineQueueManager(QueueReads):
    """A persistent, prioritised queue of operations that need the network.

    Every method that touches the database is a coroutine. The file opens lazily on first
    use; ``await close()`` (or ``async with``) releases it.
    """

    def __init__(
        self,
        db_path: str | Path | None = None,
        *,
        max_attempts: int = 5,
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - _QUEUE_OPTIONS)
        if unknown:
            raise InvalidOperationError(f"Unknown queue option {unknown[0]!r}.")
        if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
            raise InvalidOperationError(
                f"max_attempts must be a positive integer, not {max_attempts!r}."
            )
        if db_path is None:
            from peft_studio_offline.core.paths import AppPaths

            db_path = AppPaths.from_environment().database
        self.db_path = Path(db_path).expanduser()
        self.max_attempts = max_attempts
        self.max_size = _non_negative_int(options.get("max_size", 0), "max_size")
        try:
            self.overflow = OverflowPolicy(options.get("overflow", OverflowPolicy.REJECT))
        except ValueError:
            raise InvalidOperationError(
                "overflow must be one of: " + ", ".join(p.value for p in OverflowPolicy) + "."
            ) from None
        self.compress_threshold = _non_negative_int(
            options.get("compress_threshold", 256 * 1024), "compress_threshold"
        )
        self.lease_seconds = float(options.get("lease_seconds", 30.0))
        self.busy_timeout = float(options.get("busy_timeout", 10.0))
        self.backoff_base = float(options.get("backoff_base", 4.0))
        self.backoff_cap = float(options.get("backoff_cap", 300.0))
        if self.lease_seconds <= 0 or self.busy_timeout <= 0 or self.backoff_base < 0:
            raise InvalidOperationError(
                "lease_seconds and busy_timeout must be positive, backoff_base not negative."
            )
        self._clock: Callable[[], float] = options.get("clock", time.time)
        limit = options.get("max_db_bytes")
        self.max_db_bytes = None if limit is None else _non_negative_int(limit, "max_db_bytes")
        # Encrypts the secrets of payloads as they are stored, opens them when claimed
        # (``core.sealing``); None stores payloads as given.
        self.sealer: PayloadSealer | None = options.get("sealer")
        # Bytes the app's files may take (``core.storage_budget``); None: only the disk.
        self.storage_budget: StorageBudget | None = options.get("storage_budget")
        self._seal_new = seal_with(self.sealer, fresh=True)
        self._seal_kept = seal_with(self.sealer, fresh=False)
        self._opened = _sealed.OpenedSecrets()  # what was decrypted here for sending
        self.changes: EventSource[QueueChange] = EventSource("queue changes")
        self.owner = new_owner()
        self._reader: aiosqlite.Connection | None = None
        self._writer: Writer | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._open_lock: asyncio.Lock | None = None
        self._closed = False
        self._claimed = 0  # a hint that leases need renewing; renewal recounts it
        # Give-backs of cancelled claims, still running: a task nobody refers to may be
        # collected before it finishes.
        self._giving_back: set[asyncio.Task[None]] = set()

    @property
    def clock(self) -> Callable[[], float]:
        """The queue's time source (seconds since the epoch)."""
        return self._clock

    # ----------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> OfflineQueueManager:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def is_open(self) -> bool:
        return self._writer is not None

    async def open(self) -> None:
        """Open (creating or migrating) the database; safe to call more than once."""
        if self._closed:
            raise QueueClosedError("The queue is closed.")
        if self._writer is not None:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._writer is None:
                await self._open()

    async def _open(self) -> None:
        check_file(self.db_path)
        ensure_private_dir(self.db_path.parent)
        writer = Writer(self.db_path, self._clock, self.changes, merger=self._merge_inserts)
        try:
            await writer.open(self._open_writer_connection)
            try:
                self._reader = await connect_reader(self.db_path, self.busy_timeout)
            except sqlite3.Error as exc:
                raise translate(exc, self.db_path) from exc
            self._writer = writer
            await self._recover_orphans()
        except BaseException:
            # Whatever stopped the open (an error, a cancellation), nothing it opened stays
            # open: a reader left behind would keep its thread, and the process, alive.
            reader, self._reader, self._writer = self._reader, None, None
            if reader is not None:
                with contextlib.suppress(Exception):
                    await reader.close()
            await writer.stop()
            raise
        self._maintenance = asyncio.get_running_loop().create_task(
            self._maintain(), name="queue-maintenance"
        )

    def _open_writer_connection(self) -> sqlite3.Connection:
        """On the writer thread: connect, check, migrate. Nothing is written to a bad file.

        A file another process is opening or closing right now (the last connection to
        close empties the log under an exclusive lock) can refuse at once, without waiting
        out the busy timeout: the whole opening is tried again until that time is up.
        """
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                return self._try_open_writer_connection()
            except QueueLockedError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(random.uniform(0.02, 0.1))

    def _try_open_writer_connection(self) -> sqlite3.Connection:
        create_private_database(self.db_path)
        conn = connect_writer(self.db_path, self.busy_timeout)
        try:
            check_readable(conn, self.db_path)
            configure_writer(conn)
            self._migrate(conn)
            apply_storage_limit(conn, self.max_db_bytes)
        except sqlite3.Error as exc:
            conn.close()
            raise translate(exc, self.db_path) from exc
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version > _schema.SCHEMA_VERSION:
                raise QueueError(
                    f"The queue database {self.db_path} was written by a newer version of"
                    f" PEFT Studio Offline (schema {version}); please update the app."
                )
            if version == 0:
                if _schema.table_exists(conn, "offline_operations"):
                    _schema.migrate_from_spec_table(conn, self.max_attempts)
                else:
                    _schema.create_schema(conn)
                conn.execute(f"PRAGMA user_version = {_schema.SCHEMA_VERSION}")
            elif version < _schema.SCHEMA_VERSION:
                _schema.upgrade(conn, version)
                conn.execute(f"PRAGMA user_version = {_schema.SCHEMA_VERSION}")
            _schema.count_new_rows(conn)
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise

    async def set_storage_limit(self, max_db_bytes: int | None) -> None:
        """Cap how large the database file may grow (None: only the disk limits it).

        Writes that would pass the cap fail with ``StorageFullError`` and write nothing, as
        on a full disk; raising the cap lets the queue go on at once.
        """
        limit = None if max_db_bytes is None else _non_negative_int(max_db_bytes, "max_db_bytes")
        self.max_db_bytes = limit
        if self._writer is None:
            await self.open()
        writer = self._writer
        assert writer is not None and writer.conn is not None
        await writer.call(apply_storage_limit, writer.conn, limit)

    async def close(self) -> None:
        """Put back what this instance had taken, then release the file."""
        if self._closed:
            return
        self._closed = True
        if self._maintenance is not None:
            self._maintenance.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._maintenance
        if self._writer is not None:
            with contextlib.suppress(QueueError):
                await self._write(
                    partial(
                        _jobs.release_owned,
                        owner=self.owner,
                        reason="the queue was closed while it was being sent",
                    )
                )
            await self._writer.stop()
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader.close()
        self._writer = None
        self._reader = None
        retire_owner(self.owner)

    async def _write(self, job: Job, *, durable: bool = True) -> Any:
        writer = self._writer or await self._opened_writer()
        return await writer.submit(job, durable=durable)

    async def _opened_writer(self) -> Writer:
        await self.open()
        assert self._writer is not None
        return self._writer

    async def _read(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        if self._reader is None:
            await self.open()
        assert self._reader is not None
        try:
            return list(await self._reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise translate(exc, self.db_path) from exc

    async def _maintain(self) -> None:
        """Renew this instance's leases; free leases whose holders are gone."""
        interval = max(0.05, self.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                if self._claimed:
                    self._claimed = await self._write(
                        partial(
                            _jobs.renew_leases, owner=self.owner, lease_seconds=self.lease_seconds
                        ),
                        durable=False,
                    )
                await self._recover_orphans()
            except QueueError as exc:
                log.warning("Queue maintenance failed: %s", exc)

    async def _recover_orphans(self) -> None:
        await self._write(
            partial(
                _jobs.recover_orphans,
                owner=self.owner,
                gone=owner_is_gone,
                reason="its process stopped while sending it",
            )
        )

    # ------------------------------------------------------------------ enqueue

    async def enqueue(
        self,
        operation_type: OperationType | str,
        payload: Mapping[str, Any],
        priority: int = 0,
        **options: Unpack[EnqueueOptions],
    ) -> int:
        """Store one operation; returns its id once it is committed to disk."""
        new = self.validate_new(operation_type, payload, priority, options)
        writer = self._writer or await self._opened_writer()
        ids: list[int] = await writer.submit_merged("insert", [new])
        return ids[0]

    async def enqueue_many(self, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store many operations in one transaction: all of them, or none."""
        news: list[NewOperation] = []
        allowed = {"operation_type", "payload", "priority"} | ENQUEUE_OPTIONS
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise InvalidOperationError(f"Item {index} is not a dict of enqueue arguments.")
            if "operation_type" not in item or "payload" not in item:
                raise InvalidOperationError(f"Item {index} needs operation_type and payload.")
            options = {}
            if len(item) > 2 + ("priority" in item):
                unknown = sorted(set(item) - allowed)
                if unknown:
                    raise InvalidOperationError(f"Item {index} has an unknown key {unknown[0]!r}.")
                options = {k: v for k, v in item.items() if k in ENQUEUE_OPTIONS}
            try:
                news.append(
                    self.validate_new(
                        item["operation_type"], item["payload"], item.get("priority", 0), options
                    )
                )
            except InvalidOperationError as exc:
                raise type(exc)(f"Item {index}: {exc}") from None
        if not news:
            return []
        writer = self._writer or await self._opened_writer()
        result: list[int] = await writer.submit_merged("insert", news)
        return result

    def validate_new(
        self, operation_type: object, payload: object, priority: object, options: Mapping[str, Any]
    ) -> NewOperation:
        """A new operation checked and encoded as this queue stores it (its secrets sealed);
        ``InvalidOperationError`` for bad input. Writes nothing."""
        return validate(
            operation_type,
            payload,
            priority,
            options,
            default_max_attempts=self.max_attempts,
            compress_threshold=self.compress_threshold,
            clock=self._clock,
            seal=self._seal_new,
        )

    def _merge_inserts(self, jobs: list[WriteJob]) -> Job:
        """Every enqueue waiting at the same moment goes into one insert and one commit."""
        return InsertBatch(
            [job.data for job in jobs],
            self.max_size,
            self.overflow,
            self.max_attempts,
            self.storage_budget,
        ).run

    # -------------------------------------------------------------------- reads

    # ------------------------------------------------------------ claim, outcomes

    async def claim(
        self,
        limit: int = 100,
        *,
        operation_types: Iterable[OperationType | str] | None = None,
        exclude_ids: Iterable[int] = (),
    ) -> list[Operation]:
        """Atomically take up to ``limit`` ready operations (pending -> in_progress).

        Two workers, or two processes on the same file, never take the same operation: the
        selection and the update are one statement inside a write transaction.
        """
        wanted = _limit(limit)
        if not wanted:
            return []
        extra = _ready_extra(operation_types, exclude_ids)
        if extra is None:
            return []
        sql = (
            "UPDATE offline_operations SET status = 'in_progress', lease_owner = :owner,"
            " lease_expires_at = :lease, updated_at = :stamp WHERE id IN ("
            f" SELECT o.id {_READY_FROM} WHERE {_READY}{extra}"
            " ORDER BY o.priority DESC, o.id ASC LIMIT :limit)"
            f" RETURNING {OPERATION_COLUMNS}"
        )
        claiming = asyncio.ensure_future(
            self._write(
                partial(
                    _jobs.claim,
                    sql=sql,
                    params={"owner": self.owner, "limit": wanted},
                    owner=self.owner,
                    lease_seconds=self.lease_seconds,
                ),
                # A claim lost to power loss leaves its operations pending, which is where
                # opening the queue puts every claim of a stopped process anyway.
                durable=False,
            )
        )
        try:
            rows = await asyncio.shield(claiming)
            operations = await self._to_operations(rows)
        except BaseException:
            # The caller stopped waiting (or reading the rows failed), but the claim commits
            # anyway: rows nobody knows it took would stay in progress, their lease renewed,
            # for as long as we run. The give-back is shielded too: a second cancellation
            # must not stop it halfway.
            giving_back = asyncio.ensure_future(self._give_back_claim(claiming))
            self._giving_back.add(giving_back)
            giving_back.add_done_callback(self._giving_back.discard)
            await asyncio.shield(giving_back)
            raise
        self._claimed += len(rows)
        if self.sealer is not None:
            operations = await self._opened.open(self.sealer, operations, rows, self._wait_key)
        return operations

    async def _wait_key(self, op_id: int, reason: str) -> None:
        await self.mark_waiting(op_id, reason, KEY_SETTING)
        self._claimed -= 1

    def take_unopened(self) -> list[int]:
        """The operations that claims left waiting because their key is not here (each
        once): the sync run counts them as waiting."""
        return self._opened.take_unopened()

    async def reseal(self) -> set[str]:
        """Encrypt every stored secret again with the current key (after ``rotate``).

        Returns the ids of the keys the queue's envelopes use afterwards (the current one,
        and any whose envelopes could not be opened here, which stay as they were).
        """
        if self.sealer is None:
            return set()
        return await _sealed.reseal(self.sealer, self._read, self._write, self.compress_threshold)

    async def _sealed(self, value: Any) -> Any:
        """``value`` (a payload as it was sent, maybe) with its secrets encrypted."""
        if self.sealer is None or value is None:
            return value
        return await asyncio.to_thread(self.sealer.seal, value, fresh=False)

    async def _give_back_claim(self, claiming: asyncio.Future[list[sqlite3.Row]]) -> None:
        with contextlib.suppress(Exception):
            taken = await claiming
            await self.release([row["id"] for row in taken], "the sync stopped", record=False)

    async def mark_completed(
        self,
        op_id: int,
        *,
        details: Mapping[str, Any] | None = None,
        event: HistoryEvent | None = None,
    ) -> None:
        """The operation reached its service (or its local change was dropped: ``event``
        says so in its history, written in the same transaction)."""
        explained = await self._explained(op_id, event)
        details = self._opened.masked(op_id, details, settled=True)
        job = partial(_jobs.mark_completed, completions=[(op_id, details)])
        if not await self._write(job if explained is None else partial(explained, change=job)):
            raise OperationNotFoundError(op_id)

    async def _explained(self, op_id: int, event: HistoryEvent | None) -> partial[Any] | None:
        """The job that writes ``event`` (masked and sealed as ``record_event`` does) before
        the change it explains, in one transaction."""
        if event is None:
            return None
        error = self._opened.masked(op_id, event.message)
        details = await self._sealed(self._opened.masked(op_id, event.details))
        return partial(
            _jobs.after_event, op_id=op_id, outcome=event.outcome, error=error, details=details
        )

    async def mark_completed_many(
        self,
        op_ids: Iterable[int],
        *,
        details: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> list[int]:
        """Record many operations as completed in one commit; ``details`` maps an id to what
        its history entry keeps. Returns the ids recorded: those deleted meanwhile are left out.
        """
        ids = list(dict.fromkeys(op_ids))
        if any(isinstance(i, bool) or not isinstance(i, int) for i in ids):
            raise InvalidOperationError("Operation ids must be integers.")
        if not ids:
            return []
        extra = details or {}
        completions = [
            (op_id, self._opened.masked(op_id, extra.get(op_id), settled=True)) for op_id in ids
        ]
        found: tuple[int, ...] = await self._write(
            partial(_jobs.mark_completed, completions=completions)
        )
        return list(found)

    async def mark_failed(
        self,
        op_id: int,
        error: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        count_attempt: bool = True,
        details: Mapping[str, Any] | None = None,
    ) -> Operation:
        """Record a failed attempt: pending again after a backoff, or failed at the limit.

        ``retry_after`` (seconds) replaces the backoff, e.g. from a ``Retry-After`` header;
        ``permanent`` fails the operation now (the service refused it for good).
        ``count_attempt=False`` (the service could not be reached at all) schedules the retry
        without using up an attempt: an outage alone never fails an operation for good.
        Returns the operation as it is afterwards.
        """
        message = self._opened.masked(op_id, str(error) if error is not None else "Failed.")
        details = self._opened.masked(op_id, details, settled=True)
        after = await self._write(
            partial(
                _jobs.mark_failed,
                op_id=op_id,
                message=message,
                retry_after=retry_after,
                backoff=self.backoff_delay,
                permanent=permanent,
                count_attempt=count_attempt,
                default_max_attempts=self.max_attempts,
                details=details,
            )
        )
        return (await self._to_operations([after]))[0]

    async def mark_waiting(
        self, op_id: int, reason: str, setting: str, *, recheck: float = WAITING_RECHECK
    ) -> Operation:
        """Nothing was sent: the operation waits for ``setting``, pending, no attempt used.

        ``reason`` (what to set, in words) becomes its error message and its "why waiting".
        It is due again after ``recheck`` seconds, or at once after ``wake_waiting()``.
        """
        self._opened.forget([op_id])
        after = await self._write(
            partial(
                _jobs.mark_failed,
                op_id=op_id,
                message=reason,
                retry_after=recheck,
                backoff=self.backoff_delay,
                permanent=False,
                count_attempt=False,
                default_max_attempts=self.max_attempts,
                details={"waiting_for": setting},
                waiting=True,
            )
        )
        return (await self._to_operations([after]))[0]

    async def wake_waiting(self) -> int:
        """Make every operation that waits for a setting due now; returns how many.

        The sync engine calls it when its settings change and before its first run, so that
        such work goes as soon as the setting is there. Reads the pending rows not yet due
        (on the reader), then writes only those that wait.
        """
        rows = await self._read(
            f"SELECT o.id {_READY_FROM} WHERE o.status = 'pending' AND o.next_attempt_at > ?"
            " AND (SELECT a.outcome FROM operation_attempts a WHERE a.operation_id = o.id"
            " ORDER BY a.id DESC LIMIT 1) = ?",
            (self._clock(), _jobs.WAITING),
        )
        if not rows:
            return 0
        count: int = await self._write(partial(_jobs.wake_waiting, ids=[r[0] for r in rows]))
        return count

    async def mark_conflict(
        self,
        op_id: int,
        *,
        local: Any,
        remote: Any,
        base: Any = None,
        remote_version: str | None = None,
        message: str | None = None,
    ) -> None:
        """Park the operation in ``conflict`` with both sides kept for the user."""
        local = await self._sealed(local)
        message = self._opened.masked(op_id, message, settled=True)
        await self._write(
            partial(
                _jobs.mark_conflict,
                op_id=op_id,
                local=local,
                remote=remote,
                base=base,
                remote_version=remote_version,
                message=message or "The remote changed since this operation was queued.",
            )
        )

    async def release(
        self, op_ids: Iterable[int], reason: str = "interrupted", *, record: bool = True
    ) -> int:
        """Put operations this instance took back as pending, without counting an attempt.

        ``record=False`` leaves no line in their history (they were taken, never started).
        """
        ids = sorted(set(op_ids))
        if not ids:
            return 0
        self._opened.forget(ids)
        count: int = await self._write(
            partial(_jobs.release_job, ids=ids, reason=reason, record=record, owner=self.owner)
        )
        return count

    async def requeue(
        self,
        op_id: int,
        *,
        payload: Mapping[str, Any] | None = None,
        note: str | None = "requeued",
        reset_attempts: bool = False,
        clear_conflict: bool = True,
        event: HistoryEvent | None = None,
    ) -> None:
        """Make the operation pending and due now, optionally with a new payload; ``event``
        is written in its history in the same transaction (a resolution, say), ``note`` too
        unless it is None."""
        encoded = (
            None
            if payload is None
            else encode_payload(payload, self.compress_threshold, self._seal_kept)
        )
        explained = await self._explained(op_id, event)
        job = partial(
            _jobs.requeue,
            op_id=op_id,
            owner=self.owner,
            encoded=encoded,
            note=note,
            reset_attempts=reset_attempts,
            clear_conflict=clear_conflict,
        )
        await self._write(job if explained is None else partial(explained, change=job))

    async def retry_now(self, op_id: int) -> None:
        """The user asks for another try now: attempts start again from zero."""
        operation = await self.get_operation(op_id)
        if operation is None:
            raise OperationNotFoundError(op_id)
        if operation.status in (OperationStatus.COMPLETED, OperationStatus.IN_PROGRESS):
            raise InvalidStateError(
                f"Operation {op_id} is {operation.status.value.replace('_', ' ')}; there is"
                " nothing to retry."
            )
        await self.requeue(op_id, note="retry requested", reset_attempts=True, clear_conflict=False)

    async def cancel(self, op_id: int, reason: str = "Cancelled by the user.") -> None:
        """Stop an operation that has not been sent; it stays in the queue as cancelled."""
        await self._write(partial(_jobs.cancel, op_id=op_id, reason=reason))

    async def set_priority(self, op_id: int, priority: int) -> None:
        check_priority(priority)
        await self._write(partial(_jobs.set_priority, op_id=op_id, priority=priority))

    async def record_event(
        self,
        op_id: int,
        outcome: str,
        error: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Add a line to the operation's history (a resolution, a dropped local change...)."""
        error, details = self._opened.masked(op_id, error), self._opened.masked(op_id, details)
        details = await self._sealed(details)
        await self._write(
            partial(_jobs.record_event, op_id=op_id, outcome=outcome, error=error, details=details)
        )

    async def delete_operation(self, op_id: int) -> bool:
        return bool(await self.delete_operations([op_id]))

    async def delete_operations(self, op_ids: Iterable[int]) -> int:
        ids = sorted({int(i) for i in op_ids})
        if not ids:
            return 0
        count: int = await self._write(partial(_jobs.delete, ids=ids))
        return count

    async def clear_completed(
        self,
        older_than: timedelta | datetime | float | None = None,
        *,
        statuses: Iterable[OperationStatus | str] = (OperationStatus.COMPLETED,),
    ) -> int:
        """Remove completed operations; with ``older_than``, only those finished before it.

        ``older_than`` is an age (timedelta or seconds) or a moment (datetime). ``statuses``
        may name other finished ones (failed, cancelled, expired) to remove instead, with
        their attempt history; an operation still to be sent is never removed.
        """
        chosen = tuple(_status(s) for s in statuses)
        cutoff: str | None = None
        if older_than is not None:
            if isinstance(older_than, datetime):
                moment = older_than if older_than.tzinfo else older_than.astimezone()
            else:
                seconds = (
                    older_than.total_seconds()
                    if isinstance(older_than, timedelta)
                    else float(older_than)
                )
                if seconds < 0:
                    raise InvalidOperationError("older_than must not be negative.")
                moment = datetime.fromtimestamp(self._clock() - seconds, UTC)
            cutoff = format_timestamp(moment)
        count: int = await self._write(
            partial(_jobs.clear_completed, cutoff=cutoff, statuses=chosen)
        )
        return count

    async def truncate_log(self) -> None:
        """Copy the write-ahead log into the file and cut the log to nothing, so that the room
        deletions freed shows on disk and in the storage budget (the log otherwise keeps its
        size). Waits for readers up to the busy timeout; when they stay, it is left as is."""
        await self.open()

        def run() -> None:
            conn = sqlite3.connect(self.db_path, timeout=self.busy_timeout)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()

        with contextlib.suppress(sqlite3.Error):
            await asyncio.to_thread(run)

    async def storage_usage(self) -> StorageLevel | None:
        """What the app's files take against the storage budget (None: there is none),
        the staged trees walked again; a warning level crossed is logged and told."""
        budget = self.storage_budget
        if budget is None:
            return None
        writer = self._writer or await self._opened_writer()
        await asyncio.to_thread(budget.refresh_staged)
        level: StorageLevel = await writer.call(_measured, budget, writer)
        return level

    async def expire_due(self) -> int:
        """Move pending operations whose time to live ran out to ``expired``."""
        count: int = await self._write(_jobs.expire_job)
        return count

    # ------------------------------------------------------- transfer bundles, receipts

    async def mark_exported(self, op_ids: Sequence[int], details: Mapping[str, Any]) -> int:
        """Mark operations written into a bundle ``exported`` (awaiting a receipt); returns
        how many were still exportable (pending, failed or exported)."""
        count: int = await self._write(
            partial(_transfers.mark_exported, ids=list(op_ids), details=dict(details))
        )
        return count

    async def add_imported(
        self, read: Callable[[], Iterable[_transfers.ImportedOperation]]
    ) -> _transfers.ImportCount:
        """Insert a bundle's operations under their own keys, in one transaction; keys
        already here are skipped (see ``_transfers.add_imported``)."""
        count: _transfers.ImportCount = await self._write(
            partial(
                _transfers.add_imported,
                read=read,
                check=self._imported_values,
                max_size=self.max_size,
                overflow=self.overflow,
            )
        )
        return count

    def _imported_values(self, item: _transfers.ImportedOperation) -> InsertValues:
        options: dict[str, Any] = {"idempotency_key": item.idempotency_key}
        if item.max_attempts is not None:
            options["max_attempts"] = item.max_attempts
        if item.conflict_strategy is not None:
            options["conflict_strategy"] = item.conflict_strategy
        if item.resource_key is not None:
            options["resource_key"] = item.resource_key
        for name in ("dedup_key", "expires_at", "not_before"):
            if getattr(item, name) is not None:
                options[name] = getattr(item, name)
        new = self.validate_new(item.operation_type, item.payload, item.priority, options)
        return new.full_values(self.max_attempts)

    async def complete_delivered(
        self, deliveries: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> dict[str, int]:
        """Complete operations by idempotency key, as a receipt reports them delivered."""
        items = [(key, dict(details)) for key, details in deliveries]
        counts: dict[str, int] = await self._write(
            partial(_transfers.complete_delivered, deliveries=items)
        )
        return counts

    def backoff_delay(self, attempts: int) -> float:
        """Exponential backoff with full jitter: uniform over [0, min(cap, base * 2^(n-1))]."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(max(attempts, 1) - 1, 30))
        return random.uniform(0, ceiling)


def _measured(budget: StorageBudget, writer: Writer) -> StorageLevel:
    """On the writer thread: the budget's figure with the queue's pages in use."""
    return budget.note(budget.measure(writer.conn))
