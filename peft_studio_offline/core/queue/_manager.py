"""``OfflineQueueManager``: the durable operation queue."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

import aiosqlite

from peft_studio_offline.core.enums import (
    OperationStatus,
    OperationType,
    OverflowPolicy,
    parse_operation_type,
)
from peft_studio_offline.core.errors import (
    CorruptDatabaseError,
    InvalidOperationError,
    InvalidStateError,
    OperationNotFoundError,
    QueueClosedError,
    QueueError,
)
from peft_studio_offline.core.events import EventSource, QueueChange
from peft_studio_offline.core.operation import Attempt, ConflictRecord, Operation
from peft_studio_offline.core.queue import _schema
from peft_studio_offline.core.queue._database import (
    check_file,
    configure_writer,
    connect,
    translate,
)
from peft_studio_offline.core.queue._identity import new_owner, owner_is_gone, retire_owner
from peft_studio_offline.core.queue._inserts import (
    ENQUEUE_OPTIONS,
    InsertBatch,
    NewOperation,
    insert_one,
    validate,
)
from peft_studio_offline.core.queue._rows import (
    OPERATION_COLUMNS,
    format_timestamp,
    operation_columns,
    row_to_attempt,
    row_to_conflict,
    row_to_operation,
    timestamp_now,
)
from peft_studio_offline.core.queue._writer import WriteJob, Writer

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
    }
)
# Columns ``list_operations`` may sort on (the window's table headers).
_SORTABLE = frozenset(
    {"id", "operation_type", "status", "priority", "retry_count", "created_at", "updated_at",
     "next_attempt_at", "error_message"}
)  # fmt: skip
_KNOWN_TYPES_SQL = ", ".join(f"'{t.value}'" for t in OperationType)

# What makes a pending operation ready to be taken: due, not expired, readable, its
# dependencies completed, and no earlier unfinished operation on the same resource.
_READY = f"""
    o.status = 'pending'
    AND o.next_attempt_at <= :now
    AND (o.expires_at IS NULL OR o.expires_at > :now)
    AND o.operation_type IN ({_KNOWN_TYPES_SQL}) AND json_valid(o.payload)
    AND (o.has_dependencies = 0 OR NOT EXISTS (
        SELECT 1 FROM operation_dependencies d
        LEFT JOIN offline_operations p ON p.id = d.depends_on_id
        WHERE d.operation_id = o.id AND (p.status IS NULL OR p.status != 'completed')))
    AND (o.resource_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM offline_operations e
        WHERE e.resource_key = o.resource_key AND e.id < o.id
          AND e.status IN ('pending', 'in_progress', 'conflict')))
"""


class OfflineQueueManager:
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
        self.overflow = OverflowPolicy(options.get("overflow", OverflowPolicy.REJECT))
        self.compress_threshold = _non_negative_int(
            options.get("compress_threshold", 256 * 1024), "compress_threshold"
        )
        self.lease_seconds = float(options.get("lease_seconds", 30.0))
        self.busy_timeout = float(options.get("busy_timeout", 10.0))
        self.backoff_base = float(options.get("backoff_base", 4.0))
        self.backoff_cap = float(options.get("backoff_cap", 300.0))
        if self.lease_seconds <= 0 or self.busy_timeout <= 0 or self.backoff_base < 0:
            raise InvalidOperationError("lease_seconds and busy_timeout must be positive.")
        self._clock: Callable[[], float] = options.get("clock", time.time)
        self.changes: EventSource[QueueChange] = EventSource("queue changes")
        self.owner = new_owner()
        self._writer_conn: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._writer: Writer | None = None
        self._maintenance: asyncio.Task[None] | None = None
        self._open_lock: asyncio.Lock | None = None
        self._closed = False
        self._claimed = 0

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
            if self._writer is not None:
                return
            await self._open()

    async def _open(self) -> None:
        from peft_studio_offline.core.paths import ensure_private_dir

        check_file(self.db_path)
        ensure_private_dir(self.db_path.parent)
        created = not self.db_path.exists()
        conn = reader = None
        try:
            conn = await connect(self.db_path, self.busy_timeout, reader=False)
            await self._check_readable(conn)
            await configure_writer(conn)
            await self._migrate(conn)
            if created:
                with contextlib.suppress(OSError):
                    self.db_path.chmod(0o600)
            reader = await connect(self.db_path, self.busy_timeout, reader=True)
        except sqlite3.Error as exc:
            await _close_quietly(conn, reader)
            raise translate(exc, self.db_path) from exc
        except BaseException:
            await _close_quietly(conn, reader)
            raise
        self._writer_conn, self._reader = conn, reader
        writer = Writer(conn, self.db_path, self._clock, self.changes, merger=self._merge_inserts)
        writer.start()
        self._writer = writer
        await self._recover_orphans()
        self._maintenance = asyncio.get_running_loop().create_task(
            self._maintain(), name="queue-maintenance"
        )

    async def _check_readable(self, conn: aiosqlite.Connection) -> None:
        """Read before writing anything: a damaged file must be left exactly as it is."""
        try:
            await conn.execute_fetchall("SELECT name, sql FROM sqlite_master")
            if await _schema.table_exists(conn, "offline_operations"):
                await conn.execute_fetchall("SELECT max(id) FROM offline_operations")
        except sqlite3.DatabaseError as exc:
            raise CorruptDatabaseError(self.db_path, str(exc)) from exc

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute("BEGIN IMMEDIATE")
        try:
            rows = await conn.execute_fetchall("PRAGMA user_version")
            version = int(next(iter(rows))[0])
            if version > _schema.SCHEMA_VERSION:
                raise QueueError(
                    f"The queue database {self.db_path} was written by a newer version of"
                    f" PEFT Studio Offline (schema {version}); please update the app."
                )
            if version == 0:
                if await _schema.table_exists(conn, "offline_operations"):
                    await _schema.migrate_from_spec_table(conn, self.max_attempts)
                else:
                    await _schema.create_schema(conn)
                await conn.execute(f"PRAGMA user_version = {_schema.SCHEMA_VERSION}")
            await conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            raise

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
                await self._release_owned("the queue was closed while it was being sent")
            await self._writer.stop()
        await _close_quietly(self._writer_conn, self._reader)
        self._writer = None
        self._writer_conn = self._reader = None
        retire_owner(self.owner)

    async def _ready(self) -> tuple[Writer, aiosqlite.Connection]:
        if self._writer is None:
            await self.open()
        assert self._writer is not None and self._reader is not None
        return self._writer, self._reader

    async def _read(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        _, reader = await self._ready()
        try:
            return list(await reader.execute_fetchall(sql, params))
        except sqlite3.Error as exc:
            raise translate(exc, self.db_path) from exc

    async def _maintain(self) -> None:
        """Renew this instance's leases; free leases whose holders are gone."""
        interval = max(0.05, self.lease_seconds / 3)
        while True:
            await asyncio.sleep(interval)
            try:
                if self._claimed:
                    await self._renew_leases()
                await self._recover_orphans()
            except QueueError as exc:
                log.warning("Queue maintenance failed: %s", exc)

    # ------------------------------------------------------------------ enqueue

    async def enqueue(
        self,
        operation_type: OperationType | str,
        payload: Mapping[str, Any],
        priority: int = 0,
        **options: Any,
    ) -> int:
        """Store one operation; returns its id once it is committed to disk."""
        new = self._validate(operation_type, payload, priority, options)
        writer, _ = await self._ready()
        simple_enough = new.simple and (not self.max_size or self.overflow is OverflowPolicy.REJECT)

        async def alone(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange]:
            op_id = await insert_one(conn, now, new, self.max_size)
            return op_id, QueueChange("added", (op_id,))

        ids: list[int] = await writer.submit(
            self._insert_batch([[new]], [False]).run,
            run_alone=_first_of(alone) if simple_enough else None,
            merge_key="insert",
            data=([new], False),
        )
        return ids[0]

    async def enqueue_many(self, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store many operations in one transaction: all of them, or none."""
        news: list[NewOperation] = []
        for index, item in enumerate(items):
            if not isinstance(item, Mapping):
                raise InvalidOperationError(f"Item {index} is not a dict of enqueue arguments.")
            arguments = dict(item)
            unknown = set(arguments) - {"operation_type", "payload", "priority"} - ENQUEUE_OPTIONS
            if "operation_type" not in arguments or "payload" not in arguments or unknown:
                raise InvalidOperationError(
                    f"Item {index} needs operation_type and payload"
                    + (f" and has an unknown key {sorted(unknown)[0]!r}." if unknown else ".")
                )
            try:
                news.append(
                    self._validate(
                        arguments.pop("operation_type"),
                        arguments.pop("payload"),
                        arguments.pop("priority", 0),
                        arguments,
                    )
                )
            except InvalidOperationError as exc:
                raise type(exc)(f"Item {index}: {exc}") from None
        if not news:
            return []
        writer, _ = await self._ready()
        result: list[int] = await writer.submit(
            self._insert_batch([news], [True]).run,
            merge_key="insert",
            data=(news, True),
        )
        return result

    def _validate(
        self, operation_type: object, payload: object, priority: object, options: Mapping[str, Any]
    ) -> NewOperation:
        return validate(
            operation_type,
            payload,
            priority,
            options,
            default_max_attempts=self.max_attempts,
            compress_threshold=self.compress_threshold,
            now=self._clock(),
        )

    def _insert_batch(self, requests: list[list[NewOperation]], atomic: list[bool]) -> _Inserts:
        return _Inserts(InsertBatch(requests, atomic, self.max_size, self.overflow))

    def _merge_inserts(self, jobs: list[WriteJob]) -> Any:
        requests = [job.data[0] for job in jobs]
        atomic = [job.data[1] for job in jobs]
        return InsertBatch(requests, atomic, self.max_size, self.overflow).run

    # -------------------------------------------------------------------- reads

    async def get_operation(self, op_id: int) -> Operation | None:
        rows = await self._read(
            f"SELECT {OPERATION_COLUMNS} FROM offline_operations WHERE id = ?", (op_id,)
        )
        if not rows:
            return None
        return (await self._to_operations(rows))[0]

    async def get_pending_operations(self, limit: int | None = None) -> list[Operation]:
        """Operations ready to run now: higher priority first, then oldest first."""
        limit = _limit(limit)
        if limit == 0:
            return []
        rows = await self._read(
            f"SELECT {operation_columns('o')}"
            f" FROM offline_operations o WHERE {_READY}"
            " ORDER BY o.priority DESC, o.id ASC LIMIT :limit",
            {"now": self._clock(), "limit": -1 if limit is None else limit},
        )
        return await self._to_operations(rows)

    async def list_operations(
        self,
        *,
        status: OperationStatus | str | Iterable[OperationStatus | str] | None = None,
        operation_type: OperationType | str | Iterable[OperationType | str] | None = None,
        search: str | None = None,
        after_id: int | None = None,
        limit: int | None = 500,
        offset: int = 0,
        descending: bool = False,
        ids: Iterable[int] | None = None,
        order_by: str = "id",
    ) -> list[Operation]:
        """A page of operations in id order, with optional filters (the window, API, CLI).

        ``order_by`` names another column to sort on first (ties in id order); ``ids``
        restricts the page to those operations.
        """
        if order_by not in _SORTABLE:
            raise InvalidOperationError(f"Cannot sort operations by {order_by!r}.")
        where, params = _filters(status, operation_type, search)
        if ids is not None:
            where.append(f"id IN ({', '.join(str(int(i)) for i in ids) or 'NULL'})")
        if after_id is not None:
            where.append("id < :after_id" if descending else "id > :after_id")
            params["after_id"] = after_id
        params["limit"] = -1 if _limit(limit) is None else limit
        params["offset"] = _non_negative_int(offset, "offset")
        direction = "DESC" if descending else "ASC"
        order = f"id {direction}" if order_by == "id" else f"{order_by} {direction}, id {direction}"
        sql = (
            f"SELECT {OPERATION_COLUMNS} FROM offline_operations"
            + (" WHERE " + " AND ".join(where) if where else "")
            + f" ORDER BY {order} LIMIT :limit OFFSET :offset"
        )
        return await self._to_operations(await self._read(sql, params))

    async def count_operations(
        self,
        *,
        status: OperationStatus | str | Iterable[OperationStatus | str] | None = None,
        operation_type: OperationType | str | Iterable[OperationType | str] | None = None,
        search: str | None = None,
    ) -> int:
        if operation_type is None and search is None:
            stats = await self.get_queue_stats()
            if status is None:
                return stats["total"]
            statuses = _as_list(status)
            return sum(stats.get(str(OperationStatus(s)), 0) for s in statuses)
        where, params = _filters(status, operation_type, search)
        rows = await self._read(
            "SELECT count(*) FROM offline_operations" + (" WHERE " + " AND ".join(where)),
            params,
        )
        return int(rows[0][0])

    async def get_queue_stats(self) -> dict[str, int]:
        """Counts per status and the total, read from counters that triggers keep."""
        rows = await self._read("SELECT status, count FROM queue_counters")
        stats = {status.value: 0 for status in OperationStatus}
        for status, count in rows:
            if status in stats:
                stats[status] = int(count)
        stats["total"] = sum(int(count) for _, count in rows)
        return stats

    async def get_attempts(self, op_id: int) -> list[Attempt]:
        rows = await self._read(
            "SELECT operation_id, attempt, at, outcome, error, details FROM operation_attempts"
            " WHERE operation_id = ? ORDER BY id",
            (op_id,),
        )
        return [row_to_attempt(row) for row in rows]

    async def get_conflict(self, op_id: int) -> ConflictRecord | None:
        rows = await self._read(
            "SELECT * FROM operation_conflicts WHERE operation_id = ?", (op_id,)
        )
        return row_to_conflict(rows[0]) if rows else None

    async def list_conflicts(self) -> list[tuple[Operation, ConflictRecord]]:
        rows = await self._read(
            f"SELECT {OPERATION_COLUMNS} FROM offline_operations WHERE status = 'conflict'"
            " ORDER BY id"
        )
        operations = await self._to_operations(rows)
        out: list[tuple[Operation, ConflictRecord]] = []
        for operation in operations:
            record = await self.get_conflict(operation.id)
            if record is not None:
                out.append((operation, record))
        return out

    async def wait_reason(self, op_id: int) -> str | None:
        """Why a pending operation is not running yet, in words (None when it is not waiting)."""
        operation = await self.get_operation(op_id)
        if operation is None:
            raise OperationNotFoundError(op_id)
        if operation.problem:
            return f"Unreadable by this version: {operation.problem}."
        if operation.status is OperationStatus.CONFLICT:
            return "Waiting for you to resolve a conflict."
        if operation.status is OperationStatus.IN_PROGRESS:
            return "Being sent now."
        if operation.status is not OperationStatus.PENDING:
            return None
        now = self._clock()
        if operation.depends_on:
            rows = await self._read(
                "SELECT d.depends_on_id, p.status FROM operation_dependencies d"
                " LEFT JOIN offline_operations p ON p.id = d.depends_on_id"
                " WHERE d.operation_id = ? ORDER BY d.depends_on_id",
                (op_id,),
            )
            for dep_id, status in rows:
                if status is None:
                    return f"Held: operation {dep_id}, which it depends on, was deleted."
                if status in ("failed", "cancelled", "expired"):
                    return f"Held: operation {dep_id}, which it depends on, is {status}."
                if status != "completed":
                    return f"Waiting for operation {dep_id} ({status.replace('_', ' ')})."
        if operation.next_attempt_at and operation.next_attempt_at.timestamp() > now:
            local = operation.next_attempt_at.astimezone()
            return f"Retry at {local:%H:%M:%S}."
        if operation.resource_key:
            rows = await self._read(
                "SELECT id FROM offline_operations WHERE resource_key = ? AND id < ?"
                " AND status IN ('pending', 'in_progress', 'conflict') ORDER BY id LIMIT 1",
                (operation.resource_key, op_id),
            )
            if rows:
                return f"Waiting for operation {rows[0][0]} on the same target."
        return "Ready: waiting for the next sync."

    async def _to_operations(self, rows: Sequence[sqlite3.Row]) -> list[Operation]:
        with_deps = [row["id"] for row in rows if row["has_dependencies"]]
        deps: dict[int, list[int]] = {}
        for start in range(0, len(with_deps), 500):
            chunk = with_deps[start : start + 500]
            dep_rows = await self._read(
                "SELECT operation_id, depends_on_id FROM operation_dependencies"
                f" WHERE operation_id IN ({', '.join('?' * len(chunk))})"
                " ORDER BY operation_id, depends_on_id",
                chunk,
            )
            for op_id, dep_id in dep_rows:
                deps.setdefault(op_id, []).append(dep_id)
        return [row_to_operation(row, tuple(deps.get(row["id"], ()))) for row in rows]

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
        type_filter = ""
        params: dict[str, Any] = {"owner": self.owner, "limit": wanted}
        if operation_types is not None:
            kinds = sorted({parse_operation_type(t).value for t in operation_types})
            if not kinds:
                return []
            type_filter = f" AND o.operation_type IN ({', '.join(repr(k) for k in kinds)})"
        excluded = sorted(set(exclude_ids))
        if excluded:
            type_filter += f" AND o.id NOT IN ({', '.join(str(int(i)) for i in excluded)})"

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            freed = await self._free_expired(conn, now)
            params.update(now=now, stamp=timestamp_now(now), lease=now + self.lease_seconds)
            rows = list(
                await conn.execute_fetchall(
                    "UPDATE offline_operations SET status = 'in_progress', lease_owner = :owner,"
                    " lease_expires_at = :lease, updated_at = :stamp WHERE id IN ("
                    f" SELECT o.id FROM offline_operations o WHERE {_READY}{type_filter}"
                    " ORDER BY o.priority DESC, o.id ASC LIMIT :limit)"
                    f" RETURNING {OPERATION_COLUMNS}",
                    params,
                )
            )
            rows.sort(key=lambda row: (-(row["priority"] or 0), row["id"]))
            ids = tuple(row["id"] for row in rows) + freed
            return rows, QueueChange("changed", ids) if ids else None

        writer, _ = await self._ready()
        rows = await writer.submit(run)
        self._claimed += len(rows)
        return await self._to_operations(rows)

    async def mark_completed(self, op_id: int, *, details: Mapping[str, Any] | None = None) -> None:
        """The operation reached its service."""

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            row = await _row(conn, op_id)
            await conn.execute(
                "UPDATE offline_operations SET status = 'completed', error_message = NULL,"
                " lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?",
                (timestamp_now(now), op_id),
            )
            attempt = (row["retry_count"] or 0) + 1
            await _history(conn, op_id, attempt, now, "completed", None, details or {})
            await conn.execute("DELETE FROM operation_conflicts WHERE operation_id = ?", (op_id,))
            return None, QueueChange("changed", (op_id,))

        await self._write_owned(op_id, run)

    async def mark_failed(
        self,
        op_id: int,
        error: str,
        *,
        retry_after: float | None = None,
        permanent: bool = False,
        details: Mapping[str, Any] | None = None,
    ) -> Operation:
        """Record a failed attempt: pending again after a backoff, or failed at the limit.

        ``retry_after`` (seconds) replaces the backoff, e.g. from a ``Retry-After`` header;
        ``permanent`` fails the operation now (the service refused it for good).
        """
        message = str(error) if error is not None else "Failed."

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            row = await _row(conn, op_id)
            attempts = (row["retry_count"] or 0) + 1
            final = permanent or attempts >= (row["max_attempts"] or self.max_attempts)
            delay = retry_after if retry_after is not None else self.backoff_delay(attempts)
            status = "failed" if final else "pending"
            await conn.execute(
                "UPDATE offline_operations SET status = ?, retry_count = ?, error_message = ?,"
                " next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL,"
                " updated_at = ? WHERE id = ?",
                (status, attempts, message, now + max(0.0, delay), timestamp_now(now), op_id),
            )
            outcome = "failed" if final else "retry"
            info = dict(details or {})
            if not final:
                info["retry_at"] = format_timestamp(_utc(now + max(0.0, delay)))
            await _history(conn, op_id, attempts, now, outcome, message, info)
            return None, QueueChange("changed", (op_id,))

        await self._write_owned(op_id, run)
        operation = await self.get_operation(op_id)
        assert operation is not None
        return operation

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
        text = message or "The remote changed since this operation was queued."

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            row = await _row(conn, op_id)
            stamp = timestamp_now(now)
            await conn.execute(
                "UPDATE offline_operations SET status = 'conflict', error_message = ?,"
                " lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?",
                (text, stamp, op_id),
            )
            await conn.execute(
                "INSERT OR REPLACE INTO operation_conflicts (operation_id, local, remote, base,"
                " remote_version, message, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (op_id, _dump(local), _dump(remote), _dump(base), remote_version, text, stamp),
            )
            await _history(conn, op_id, (row["retry_count"] or 0) + 1, now, "conflict", text, {})
            return None, QueueChange("changed", (op_id,))

        await self._write_owned(op_id, run)

    async def release(self, op_ids: Iterable[int], reason: str = "interrupted") -> int:
        """Put taken operations back as pending, without counting an attempt."""
        ids = sorted(set(op_ids))
        if not ids:
            return 0

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            released = await _release(conn, now, ids, reason)
            return len(released), QueueChange("changed", released) if released else None

        writer, _ = await self._ready()
        count: int = await writer.submit(run)
        self._claimed = max(0, self._claimed - len(ids))
        return count

    async def requeue(
        self,
        op_id: int,
        *,
        payload: Mapping[str, Any] | None = None,
        note: str = "requeued",
        reset_attempts: bool = False,
        clear_conflict: bool = True,
    ) -> None:
        """Make the operation pending and due now, optionally with a new payload."""
        encoded = None
        if payload is not None:
            from peft_studio_offline.core.queue._codec import encode_payload

            encoded = encode_payload(payload, self.compress_threshold)

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            row = await _row(conn, op_id)
            if row["status"] == "in_progress" and row["lease_owner"] != self.owner:
                raise InvalidStateError(f"Operation {op_id} is being sent right now.")
            stamp = timestamp_now(now)
            retry_count = 0 if reset_attempts else row["retry_count"]
            await conn.execute(
                "UPDATE offline_operations SET status = 'pending', next_attempt_at = ?,"
                " retry_count = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
                " WHERE id = ?",
                (now, retry_count, stamp, op_id),
            )
            if encoded is not None:
                await conn.execute(
                    "UPDATE offline_operations SET payload = ?, payload_blob = ? WHERE id = ?",
                    (encoded[0], encoded[1], op_id),
                )
            if clear_conflict:
                await conn.execute(
                    "DELETE FROM operation_conflicts WHERE operation_id = ?", (op_id,)
                )
            await _history(conn, op_id, row["retry_count"] or 0, now, note, None, {})
            return None, QueueChange("changed", (op_id,))

        await self._write_owned(op_id, run)

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

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            row = await _row(conn, op_id)
            if row["status"] in ("completed", "in_progress", "cancelled"):
                raise InvalidStateError(
                    f"Operation {op_id} is {row['status'].replace('_', ' ')} and cannot be"
                    " cancelled."
                )
            await conn.execute(
                "UPDATE offline_operations SET status = 'cancelled', error_message = ?,"
                " updated_at = ? WHERE id = ?",
                (reason, timestamp_now(now), op_id),
            )
            await _history(conn, op_id, row["retry_count"] or 0, now, "cancelled", reason, {})
            return None, QueueChange("changed", (op_id,))

        writer, _ = await self._ready()
        await writer.submit(run)

    async def set_priority(self, op_id: int, priority: int) -> None:
        if isinstance(priority, bool) or not isinstance(priority, int) or abs(priority) > 2**31:
            raise InvalidOperationError(f"The priority must be an integer, not {priority!r}.")

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            await _row(conn, op_id)
            await conn.execute(
                "UPDATE offline_operations SET priority = ?, updated_at = ? WHERE id = ?",
                (priority, timestamp_now(now), op_id),
            )
            return None, QueueChange("changed", (op_id,))

        writer, _ = await self._ready()
        await writer.submit(run)

    async def record_event(
        self,
        op_id: int,
        outcome: str,
        error: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Add a line to the operation's history (a resolution, a dropped local change...)."""

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            row = await _row(conn, op_id)
            await _history(
                conn, op_id, row["retry_count"] or 0, now, outcome, error, dict(details or {})
            )
            return None, QueueChange("changed", (op_id,))

        writer, _ = await self._ready()
        await writer.submit(run)

    async def delete_operation(self, op_id: int) -> bool:
        return bool(await self.delete_operations([op_id]))

    async def delete_operations(self, op_ids: Iterable[int]) -> int:
        ids = sorted({int(i) for i in op_ids})
        if not ids:
            return 0

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            deleted: list[int] = []
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                rows = await conn.execute_fetchall(
                    f"DELETE FROM offline_operations WHERE id IN ({', '.join('?' * len(chunk))})"
                    " RETURNING id",
                    chunk,
                )
                deleted.extend(row[0] for row in rows)
            return len(deleted), QueueChange("removed", tuple(sorted(deleted))) if deleted else None

        writer, _ = await self._ready()
        count: int = await writer.submit(run)
        return count

    async def clear_completed(self, older_than: timedelta | datetime | float | None = None) -> int:
        """Remove completed operations (those finished before ``older_than``, if given).

        A completed operation that an unfinished one depends on stays, so the dependent
        can still see that it completed.
        """
        cutoff: str | None = None
        if older_than is not None:
            if isinstance(older_than, datetime):
                moment = older_than
            else:
                seconds = (
                    older_than.total_seconds()
                    if isinstance(older_than, timedelta)
                    else float(older_than)
                )
                if seconds < 0:
                    raise InvalidOperationError("older_than must not be negative.")
                moment = _utc(self._clock() - seconds)
            cutoff = format_timestamp(moment if moment.tzinfo else moment.astimezone())

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            sql = (
                "DELETE FROM offline_operations WHERE status = 'completed'"
                + (" AND updated_at < :cutoff" if cutoff else "")
                + " AND NOT EXISTS (SELECT 1 FROM operation_dependencies d"
                " JOIN offline_operations w ON w.id = d.operation_id"
                " WHERE d.depends_on_id = offline_operations.id"
                " AND w.status NOT IN ('completed', 'failed', 'cancelled', 'expired'))"
                " RETURNING id"
            )
            rows = list(await conn.execute_fetchall(sql, {"cutoff": cutoff}))
            ids = tuple(row[0] for row in rows)
            return len(ids), QueueChange("removed", ids) if ids else None

        writer, _ = await self._ready()
        count: int = await writer.submit(run)
        return count

    async def expire_due(self) -> int:
        """Move pending operations whose time to live ran out to ``expired``."""

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            ids = await _expire(conn, now)
            return len(ids), QueueChange("changed", ids) if ids else None

        writer, _ = await self._ready()
        count: int = await writer.submit(run)
        return count

    def backoff_delay(self, attempts: int) -> float:
        """Exponential backoff with full jitter: uniform over [0, min(cap, base * 2^(n-1))]."""
        ceiling = min(self.backoff_cap, self.backoff_base * 2 ** min(max(attempts, 1) - 1, 30))
        return random.uniform(0, ceiling)

    async def next_due_at(self) -> float | None:
        """When the earliest waiting pending operation becomes due (Unix time), if any."""
        rows = await self._read(
            "SELECT min(next_attempt_at) FROM offline_operations WHERE status = 'pending'"
        )
        return None if rows[0][0] is None else float(rows[0][0])

    # ------------------------------------------------------------------ helpers

    async def _write_owned(
        self, op_id: int, run: Callable[[aiosqlite.Connection, float], Any]
    ) -> None:
        # ``_claimed`` is only a hint that leases need renewing; renewal recounts it.
        writer, _ = await self._ready()
        await writer.submit(run)

    async def _renew_leases(self) -> None:
        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            cursor = await conn.execute(
                "UPDATE offline_operations SET lease_expires_at = ?"
                " WHERE lease_owner = ? AND status = 'in_progress'",
                (now + self.lease_seconds, self.owner),
            )
            self._claimed = cursor.rowcount
            return None, None

        writer, _ = await self._ready()
        await writer.submit(run)

    async def _recover_orphans(self) -> None:
        """Operations held by a process that is gone, or whose lease ran out, are pending again."""

        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            ids = await self._free_expired(conn, now)
            owners = await conn.execute_fetchall(
                "SELECT DISTINCT lease_owner FROM offline_operations WHERE status = 'in_progress'"
            )
            gone = [row[0] for row in owners if row[0] != self.owner and owner_is_gone(row[0])]
            for owner in gone:
                rows = await conn.execute_fetchall(
                    "SELECT id FROM offline_operations WHERE status = 'in_progress'"
                    " AND lease_owner IS ?",
                    (owner,),
                )
                ids += await _release(
                    conn, now, [row[0] for row in rows], "its process stopped while sending it"
                )
            return None, QueueChange("changed", ids) if ids else None

        writer, _ = await self._ready()
        await writer.submit(run)

    async def _free_expired(self, conn: aiosqlite.Connection, now: float) -> tuple[int, ...]:
        rows = await conn.execute_fetchall(
            "SELECT id FROM offline_operations WHERE status = 'in_progress'"
            " AND lease_expires_at < ? AND lease_owner IS NOT ?",
            (now, self.owner),
        )
        released = await _release(conn, now, [row[0] for row in rows], "its lease ran out")
        return released + await _expire(conn, now)

    async def _release_owned(self, reason: str) -> None:
        async def run(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
            rows = await conn.execute_fetchall(
                "SELECT id FROM offline_operations WHERE status = 'in_progress'"
                " AND lease_owner = ?",
                (self.owner,),
            )
            ids = await _release(conn, now, [row[0] for row in rows], reason)
            return None, QueueChange("changed", ids) if ids else None

        assert self._writer is not None
        await self._writer.submit(run)


class _Inserts:
    """Adapts an ``InsertBatch`` of one request to the writer's job signature."""

    def __init__(self, batch: InsertBatch) -> None:
        self._batch = batch

    async def run(self, conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
        results, change = await self._batch.run(conn, now)
        return _unwrap(results[0]), change


def _unwrap(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result


def _first_of(
    run: Callable[[aiosqlite.Connection, float], Any],
) -> Callable[[aiosqlite.Connection, float], Any]:
    async def wrapped(conn: aiosqlite.Connection, now: float) -> tuple[Any, QueueChange | None]:
        op_id, change = await run(conn, now)
        return [op_id], change

    return wrapped


async def _row(conn: aiosqlite.Connection, op_id: int) -> sqlite3.Row:
    rows = list(
        await conn.execute_fetchall(
            "SELECT id, status, retry_count, max_attempts, lease_owner FROM offline_operations"
            " WHERE id = ?",
            (op_id,),
        )
    )
    if not rows:
        raise OperationNotFoundError(op_id)
    row: sqlite3.Row = rows[0]
    return row


async def _history(
    conn: aiosqlite.Connection,
    op_id: int,
    attempt: int,
    now: float,
    outcome: str,
    error: str | None,
    details: Mapping[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, error, details)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            op_id,
            attempt,
            timestamp_now(now),
            outcome,
            error,
            _dump(dict(details)) if details else None,
        ),
    )


async def _release(
    conn: aiosqlite.Connection, now: float, ids: list[int], reason: str
) -> tuple[int, ...]:
    if not ids:
        return ()
    stamp = timestamp_now(now)
    released: list[int] = []
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        rows = await conn.execute_fetchall(
            "UPDATE offline_operations SET status = 'pending', lease_owner = NULL,"
            " lease_expires_at = NULL, updated_at = ?"
            f" WHERE status = 'in_progress' AND id IN ({', '.join('?' * len(chunk))})"
            " RETURNING id, retry_count",
            (stamp, *chunk),
        )
        rows = list(rows)
        await conn.executemany(
            "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, error)"
            " VALUES (?, ?, ?, 'released', ?)",
            [(row[0], row[1], stamp, f"Put back as pending: {reason}.") for row in rows],
        )
        released.extend(row[0] for row in rows)
    return tuple(released)


async def _expire(conn: aiosqlite.Connection, now: float) -> tuple[int, ...]:
    stamp = timestamp_now(now)
    rows = list(
        await conn.execute_fetchall(
            "UPDATE offline_operations SET status = 'expired', updated_at = :stamp,"
            " error_message = 'Expired: its time to live ran out before it could be sent.'"
            " WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= :now"
            " RETURNING id, retry_count",
            {"now": now, "stamp": stamp},
        )
    )
    if rows:
        await conn.executemany(
            "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, error)"
            " VALUES (?, ?, ?, 'expired', 'Its time to live ran out before it could be sent.')",
            [(row[0], row[1], stamp) for row in rows],
        )
    return tuple(row[0] for row in rows)


def _filters(
    status: Any, operation_type: Any, search: str | None
) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if status is not None:
        statuses = [OperationStatus(s).value for s in _as_list(status)]
        where.append(f"status IN ({', '.join(repr(s) for s in statuses)})")
    if operation_type is not None:
        kinds = [parse_operation_type(t).value for t in _as_list(operation_type)]
        where.append(f"operation_type IN ({', '.join(repr(k) for k in kinds)})")
    if search:
        params["search"] = f"%{search}%"
        clause = (
            "(payload LIKE :search OR error_message LIKE :search OR idempotency_key LIKE :search"
            " OR operation_type LIKE :search"
        )
        if search.strip().isdigit():
            params["search_id"] = int(search.strip())
            clause += " OR id = :search_id"
        where.append(clause + ")")
    return where, params


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [value]
    return list(value)


def _limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidOperationError(f"limit must be zero or a positive integer, not {limit!r}.")
    return limit


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOperationError(f"{name} must be zero or a positive integer, not {value!r}.")
    return value


def _dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def _utc(epoch: float) -> datetime:
    from datetime import UTC

    return datetime.fromtimestamp(epoch, UTC)


async def _close_quietly(*connections: aiosqlite.Connection | None) -> None:
    for conn in connections:
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
