"""The queue's reads: pages, summaries, counts, history and why an operation waits.

Every one runs on the reader connection (aiosqlite), never the writer: the window and the
API read while a sync writes. ``OfflineQueueManager`` is made of these and of its writes.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from peft_studio_offline.core.describe import describe_operation
from peft_studio_offline.core.enums import (
    OperationStatus,
    OperationType,
    parse_operation_type,
)
from peft_studio_offline.core.errors import (
    InvalidOperationError,
    OperationNotFoundError,
)
from peft_studio_offline.core.masking import mask_text
from peft_studio_offline.core.operation import (
    Attempt,
    ConflictRecord,
    Operation,
    OperationSummary,
)
from peft_studio_offline.core.queue import _jobs, _schema, _sealed, _transfers
from peft_studio_offline.core.queue._database import (
    translate,
)
from peft_studio_offline.core.queue._rows import (
    HAS_DEPENDENCIES_COLUMN,
    ID_COLUMN,
    OPERATION_COLUMNS,
    SUMMARY_COLUMNS,
    operation_columns,
    row_to_attempt,
    row_to_conflict,
    row_to_operation,
    row_to_summary,
)
from peft_studio_offline.core.queue._search import search_clause
from peft_studio_offline.core.waiting import NO_TARGET_REASON, Moment, RowWait, moment_reason

_KNOWN_TYPES_SQL = ", ".join(f"'{t.value}'" for t in OperationType)

# Pending, due, not expired, and readable: what every rule of readiness starts from.
_DUE_NOW = f"""
    o.status = 'pending'
    AND o.next_attempt_at <= :now
    AND (o.expires_at IS NULL OR o.expires_at > :now)
    AND o.operation_type IN ({_KNOWN_TYPES_SQL}) AND json_valid(o.payload)
"""

# What makes a pending operation ready to be taken: due, not expired, readable, its
# dependencies completed, and no earlier unfinished operation on the same resource.
_READY = f"""{_DUE_NOW}
    AND (o.has_dependencies = 0 OR NOT EXISTS (
        SELECT 1 FROM operation_dependencies d
        LEFT JOIN offline_operations p ON p.id = d.depends_on_id
        WHERE d.operation_id = o.id AND (p.status IS NULL OR p.status != 'completed')))
    AND (o.resource_key IS NULL OR NOT EXISTS (
        SELECT 1 FROM offline_operations e
        WHERE e.resource_key = o.resource_key AND e.id < o.id
          AND e.status IN ('pending', 'in_progress', 'conflict')))
"""

# What a sync run that starts now may take before it ends: due and readable, and not held
# for good by a dependency that failed or went away. Unlike ``_READY`` it counts those that
# wait for an earlier operation of the same run (a dependency, the same resource).
_DUE_IN_RUN = f"""{_DUE_NOW}
    AND (o.has_dependencies = 0 OR NOT EXISTS (
        SELECT 1 FROM operation_dependencies d
        LEFT JOIN offline_operations p ON p.id = d.depends_on_id
        WHERE d.operation_id = o.id
          AND (p.status IS NULL OR p.status IN ('failed', 'cancelled', 'expired'))))
"""

# The partial index of pending rows, forced: the planner otherwise prefers the status index
# and sorts every pending row to find the first hundred.
_READY_FROM = "FROM offline_operations o INDEXED BY idx_operations_pending"


def _status(value: OperationStatus | str) -> str:
    try:
        return OperationStatus(value).value
    except ValueError:
        known = ", ".join(s.value for s in OperationStatus)
        raise InvalidOperationError(
            f"Unknown status {value!r}; expected one of: {known}."
        ) from None


def _decompressed_text(blob: bytes) -> str:
    try:
        return zlib.decompress(blob).decode("utf-8", errors="replace")
    except zlib.error:  # damaged: the operation's ``problem`` says so; nothing to show
        return ""


def _page_query(
    columns: str,
    status: Any,
    operation_type: Any,
    search: str | None,
    ids: Iterable[int] | None,
    after_id: int | None,
    limit: int | None,
    offset: int,
    descending: bool,
    order_by: str,
) -> tuple[str, dict[str, Any]]:
    if order_by not in _SORTABLE:
        raise InvalidOperationError(f"Cannot sort operations by {order_by!r}.")
    where, params = _filters(status, operation_type, search)
    if ids is not None:
        wanted_ids = [_non_negative_int(i, "id") for i in ids]
        where.append(f"id IN ({', '.join(map(str, wanted_ids)) or 'NULL'})")
    if after_id is not None:
        where.append("id < :after_id" if descending else "id > :after_id")
        params["after_id"] = after_id
    wanted = _limit(limit)
    params["limit"] = -1 if wanted is None else wanted
    params["offset"] = _non_negative_int(offset, "offset")
    sql = (
        f"SELECT {columns} FROM offline_operations"
        + (" WHERE " + " AND ".join(where) if where else "")
        + f" ORDER BY {_order(order_by, descending)} LIMIT :limit OFFSET :offset"
    )
    return sql, params


def _filters(
    status: Any, operation_type: Any, search: str | None
) -> tuple[list[str], dict[str, Any]]:
    where: list[str] = []
    params: dict[str, Any] = {}
    if status is not None:
        statuses = [_status(s) for s in _as_list(status)]
        where.append(f"status IN ({', '.join(repr(s) for s in statuses)})")
    if operation_type is not None:
        kinds = [parse_operation_type(t).value for t in _as_list(operation_type)]
        where.append(f"operation_type IN ({', '.join(repr(k) for k in kinds)})")
    if search:
        where.append(search_clause(search, params))
    return where, params


def _waiting_for(details: Any) -> str:
    """The setting named in a ``waiting`` history entry ("a setting" when none is)."""
    import json

    try:
        value = json.loads(details) if isinstance(details, str) else None
    except ValueError:
        value = None
    name = value.get("waiting_for") if isinstance(value, dict) else None
    return name if isinstance(name, str) and name else "a setting"


# Rows turned into records between two yields to the event loop (~2 ms of work).
_ROWS_PER_STEP = 200

# Columns ``list_operations`` may sort on (the window's table headers).
_SORTABLE = frozenset(
    {"id", "operation_type", "status", "priority", "retry_count", "created_at", "updated_at",
     "next_attempt_at", "error_message"}
)  # fmt: skip


def _order(column: str, descending: bool) -> str:
    direction = "DESC" if descending else "ASC"
    return f"id {direction}" if column == "id" else f"{column} {direction}, id {direction}"


def _as_list(value: Any) -> list[Any]:
    return [value] if isinstance(value, str) else list(value)


def _ready_extra(
    operation_types: Iterable[OperationType | str] | None, exclude_ids: Iterable[int]
) -> str | None:
    """``claim``'s extra conditions on ready rows; None when no type is wanted at all."""
    extra = ""
    if operation_types is not None:
        kinds = sorted({parse_operation_type(t).value for t in operation_types})
        if not kinds:
            return None
        extra = f" AND o.operation_type IN ({', '.join(repr(k) for k in kinds)})"
    excluded = sorted({int(i) for i in exclude_ids})
    if excluded:
        extra += f" AND o.id NOT IN ({', '.join(map(str, excluded))})"
    return extra


def _limit(limit: int | None) -> int | None:
    if limit is None:
        return None
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise InvalidOperationError(f"limit must be zero or a positive integer, not {limit!r}.")
    return limit


def _staged_strings(path: Path, markers: list[str], busy_timeout: float) -> set[str]:
    found: set[str] = set()
    where = " OR ".join("instr(payload, ?) > 0" for _ in markers)
    conn = sqlite3.connect(path, timeout=busy_timeout)
    try:
        conn.execute("PRAGMA query_only = 1")
        rows = conn.execute(
            "SELECT payload, payload_blob FROM offline_operations"
            f" WHERE payload_blob IS NOT NULL OR {where}",
            markers,
        )
        for text, blob in rows:
            _collect_strings(text if blob is None else _decompressed_text(blob), markers, found)
    finally:
        conn.close()
    return found


def _collect_strings(text: object, markers: Sequence[str], found: set[str]) -> None:
    """Every string inside the JSON ``text`` that holds one of ``markers``, into ``found``."""
    try:
        value = json.loads(text if isinstance(text, str | bytes) else str(text))
    except ValueError:
        return
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if any(marker in item for marker in markers):
                found.add(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _non_negative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidOperationError(f"{name} must be zero or a positive integer, not {value!r}.")
    return value


class QueueReads:
    """What the queue reads; the manager supplies the connection (``_read``) and clock."""

    db_path: Path
    busy_timeout: float
    _clock: Callable[[], float]
    _opened: _sealed.OpenedSecrets

    async def open(self) -> None:
        raise NotImplementedError

    async def _read(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[Any]:
        raise NotImplementedError

    async def get_operation(self, op_id: int) -> Operation | None:
        rows = await self._read(
            f"SELECT {OPERATION_COLUMNS} FROM offline_operations WHERE id = ?", (op_id,)
        )
        return (await self._to_operations(rows))[0] if rows else None

    async def get_pending_operations(self, limit: int | None = None) -> list[Operation]:
        """Operations ready to run now: higher priority first, then oldest first."""
        wanted = _limit(limit)
        if wanted == 0:
            return []
        rows = await self._read(
            f"SELECT {operation_columns('o')} {_READY_FROM} WHERE {_READY}"
            " ORDER BY o.priority DESC, o.id ASC LIMIT :limit",
            {"now": self._clock(), "limit": -1 if wanted is None else wanted},
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
        order_by: str = "id",
    ) -> list[Operation]:
        """A page of operations in id order, with optional filters (the window, API, CLI).

        ``order_by`` names another column to sort on first, ties in id order (the window's
        sortable table headers). Each operation comes with its whole payload: lists that
        only show them use ``list_summaries``.
        """
        sql, params = _page_query(
            OPERATION_COLUMNS, status, operation_type, search, None, after_id, limit, offset,
            descending, order_by,
        )  # fmt: skip
        return await self._to_operations(await self._read(sql, params))

    async def list_summaries(
        self,
        *,
        status: OperationStatus | str | Iterable[OperationStatus | str] | None = None,
        operation_type: OperationType | str | Iterable[OperationType | str] | None = None,
        search: str | None = None,
        ids: Iterable[int] | None = None,
        after_id: int | None = None,
        limit: int | None = 500,
        offset: int = 0,
        descending: bool = False,
        order_by: str = "id",
    ) -> list[OperationSummary]:
        """``list_operations`` without the payloads: each operation with its payload's size
        and the start of its text, read at the same cost whatever the payload's size.

        ``ids`` keeps only those operations (the window re-reads the rows that changed,
        under the same filters as the rest).
        """
        sql, params = _page_query(
            SUMMARY_COLUMNS, status, operation_type, search, ids, after_id, limit, offset,
            descending, order_by,
        )  # fmt: skip
        return await self._to_summaries(await self._read(sql, params))

    async def get_summary(self, op_id: int) -> OperationSummary | None:
        """One operation without its payload (see ``list_summaries``)."""
        rows = await self._read(
            f"SELECT {SUMMARY_COLUMNS} FROM offline_operations WHERE id = ?", (op_id,)
        )
        return (await self._to_summaries(rows))[0] if rows else None

    async def get_payload_text(self, op_id: int) -> str | None:
        """The stored JSON text of a payload (None if there is no such operation).

        Decompressed on a worker thread: zlib lets the event loop run meanwhile. Nothing is
        decoded: the caller decides how much of it to read (``core.payload_preview``). A
        damaged compressed payload gives "" (its summary's ``problem`` says why).
        """
        rows = await self._read(
            "SELECT payload, payload_blob FROM offline_operations WHERE id = ?", (op_id,)
        )
        if not rows:
            return None
        text, blob = rows[0]
        if blob is not None:
            return await asyncio.to_thread(_decompressed_text, blob)
        if isinstance(text, bytes):
            return text.decode("utf-8", errors="replace")
        return str(text)

    async def count_operations(
        self,
        *,
        status: OperationStatus | str | Iterable[OperationStatus | str] | None = None,
        operation_type: OperationType | str | Iterable[OperationType | str] | None = None,
        search: str | None = None,
    ) -> int:
        if operation_type is None and not search:
            stats = await self.get_queue_stats()
            if status is None:
                return stats["total"]
            return sum(stats.get(_status(s), 0) for s in _as_list(status))
        where, params = _filters(status, operation_type, search)
        rows = await self._read(
            "SELECT count(*) FROM offline_operations WHERE " + " AND ".join(where), params
        )
        return int(rows[0][0])

    async def get_queue_stats(self) -> dict[str, int]:
        """Counts per status and the total, read from counters (microseconds at any size)."""
        rows = await self._read(
            "SELECT status, count FROM queue_counters WHERE status != ?", (_schema.COUNTED_THROUGH,)
        )
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

    async def list_conflicts(self) -> list[tuple[OperationSummary, ConflictRecord]]:
        """Operations in conflict (without their payloads) with both sides of each."""
        rows = await self._read(
            f"SELECT {SUMMARY_COLUMNS} FROM offline_operations WHERE status = 'conflict'"
            " ORDER BY id"
        )
        records = {
            row["operation_id"]: row_to_conflict(row)
            for row in await self._read(
                "SELECT c.* FROM operation_conflicts c JOIN offline_operations o"
                " ON o.id = c.operation_id WHERE o.status = 'conflict'"
            )
        }
        return [
            (operation, records[operation.id])
            for operation in await self._to_summaries(rows)
            if operation.id in records
        ]

    async def wait_reason(
        self,
        op_id: int,
        *,
        moment: Moment | None = None,
        host: str = "",
        target_known: bool = True,
    ) -> str | None:
        """Why an operation is not running yet, in words (None when it is not waiting).

        ``moment`` is what the caller knows of the network and of paused hosts (``host``:
        the operation's, as ``describe_operation`` names it); ``target_known`` False: the
        settings name no place to send it. The table gives the same reasons in short
        (``waiting.next_attempt_words``); ``SyncEngine.wait_reason`` passes what it knows.
        """
        operation = await self.get_summary(op_id)
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
        last = await self._read(
            "SELECT outcome, error FROM operation_attempts WHERE operation_id = ?"
            " ORDER BY id DESC LIMIT 1",
            (op_id,),
        )
        # Waiting for a setting, unless woken since (``wake_waiting`` clears the reason).
        if last and last[0][0] == _jobs.WAITING and operation.error_message:
            return str(last[0][1])  # what to set, in words
        if not target_known:
            return NO_TARGET_REASON
        held = moment_reason(moment, host) if moment is not None else None
        if held is not None:
            return held
        due = operation.next_attempt_at
        if due is not None and due.timestamp() > self._clock():
            return f"Retry at {due.astimezone():%H:%M:%S}."
        if operation.resource_key:
            rows = await self._read(
                "SELECT id FROM offline_operations WHERE resource_key = ? AND id < ?"
                " AND status IN ('pending', 'in_progress', 'conflict') ORDER BY id LIMIT 1",
                (operation.resource_key, op_id),
            )
            if rows:
                return f"Waiting for operation {rows[0][0]} on the same target."
        return "Ready: waiting for the next sync."

    async def row_waits(self, summaries: Sequence[OperationSummary]) -> dict[int, RowWait]:
        """For the pending ones of ``summaries``: the first dependency not completed and the
        setting waited for (two indexed reads per call; a table asks once per page)."""
        waiting_rows = [s for s in summaries if s.status is OperationStatus.PENDING]
        # Waiting for a setting always leaves its reason as the error message: rows without
        # one (most of a backlog) need no look at their history.
        pending = [s.id for s in waiting_rows if s.error_message]
        with_deps = [s.id for s in waiting_rows if s.depends_on]
        blocked: dict[int, int] = {}
        waiting: dict[int, str] = {}
        for start in range(0, len(with_deps), 500):
            chunk = with_deps[start : start + 500]
            rows = await self._read(
                "SELECT d.operation_id, min(d.depends_on_id) FROM operation_dependencies d"
                " LEFT JOIN offline_operations p ON p.id = d.depends_on_id"
                f" WHERE d.operation_id IN ({', '.join('?' * len(chunk))})"
                " AND (p.status IS NULL OR p.status != 'completed') GROUP BY d.operation_id",
                chunk,
            )
            blocked.update((int(op_id), int(dep)) for op_id, dep in rows)
        for start in range(0, len(pending), 500):
            chunk = pending[start : start + 500]
            rows = await self._read(
                "SELECT a.operation_id, a.details FROM operation_attempts a WHERE a.id IN"
                " (SELECT max(id) FROM operation_attempts"
                f" WHERE operation_id IN ({', '.join('?' * len(chunk))}) GROUP BY operation_id)"
                " AND a.outcome = ?",
                [*chunk, _jobs.WAITING],
            )
            for op_id, details in rows:
                waiting[int(op_id)] = _waiting_for(details)
        return {
            op_id: RowWait(blocked.get(op_id), waiting.get(op_id))
            for op_id in blocked.keys() | waiting.keys()
        }

    async def group_counts(self) -> dict[str, dict[str, int]]:
        """Operations per MLflow run (or Hub repository) and status: ``{group: {status: n}}``.

        One scan of the runs' operations on the reader's thread, the key read by SQLite from
        the payload's JSON text; the few compressed payloads are read by their summaries.
        """
        rows = await self._read(
            "SELECT CASE WHEN operation_type = 'model_push'"
            " AND json_extract(payload, '$.target') = 'huggingface'"
            " THEN json_extract(payload, '$.repo_id') ELSE json_extract(payload, '$.run_id')"
            " END AS grp, status, count(*) FROM offline_operations"
            " WHERE operation_type IN ('metric_log', 'model_push', 'experiment_sync')"
            " AND payload_blob IS NULL GROUP BY grp, status"
        )
        groups: dict[str, dict[str, int]] = {}
        for group, status, count in rows:
            if group is not None and not isinstance(group, bytes) and str(group).strip():
                name = mask_text(str(group).strip())
                counts = groups.setdefault(name, {})
                counts[status] = counts.get(status, 0) + int(count)
        packed = await self._read(
            f"SELECT {SUMMARY_COLUMNS} FROM offline_operations WHERE payload_blob IS NOT NULL"
            " AND operation_type IN ('metric_log', 'model_push', 'experiment_sync')"
        )
        for summary in await self._to_summaries(packed):
            group = describe_operation(summary).group
            if group:
                counts = groups.setdefault(group, {})
                counts[summary.status.value] = counts.get(summary.status.value, 0) + 1
        return groups

    async def next_due_at(self) -> float | None:
        """When the earliest pending operation is (or was) due, as Unix time; None if none.

        Walks the pending index (about 10 ms per 100,000 pending operations, on the reader's
        thread): the engine asks only when it has run out of work.
        """
        rows = await self._read(
            "SELECT min(next_attempt_at) FROM offline_operations"
            " INDEXED BY idx_operations_pending WHERE status = 'pending'"
        )
        return None if rows[0][0] is None else float(rows[0][0])

    async def _to_summaries(self, rows: Sequence[sqlite3.Row]) -> list[OperationSummary]:
        deps = await self._dependencies_of(rows)
        summaries: list[OperationSummary] = []
        for start in range(0, len(rows), _ROWS_PER_STEP):
            if start:
                await asyncio.sleep(0)
            summaries.extend(
                row_to_summary(row, tuple(deps.get(row[ID_COLUMN], ())))
                for row in rows[start : start + _ROWS_PER_STEP]
            )
        return summaries

    async def _to_operations(self, rows: Sequence[sqlite3.Row]) -> list[Operation]:
        deps = await self._dependencies_of(rows)
        operations: list[Operation] = []
        for start in range(0, len(rows), _ROWS_PER_STEP):
            if start:
                await asyncio.sleep(0)  # a large page must not hold up the event loop
            operations.extend(
                row_to_operation(row, tuple(deps.get(row[ID_COLUMN], ())))
                for row in rows[start : start + _ROWS_PER_STEP]
            )
        return operations

    async def _dependencies_of(self, rows: Sequence[sqlite3.Row]) -> dict[int, list[int]]:
        with_deps = [row[ID_COLUMN] for row in rows if row[HAS_DEPENDENCIES_COLUMN]]
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
        return deps

    async def count_due(
        self,
        *,
        operation_types: Iterable[OperationType | str] | None = None,
        exclude_ids: Iterable[int] = (),
    ) -> int:
        """How many operations a sync run starting now can send (its total, up front):
        due now, including those that wait for an earlier one to go first.

        Walks the pending index like ``claim`` (about 1 ms per 1,000 due operations, on
        the reader's thread).
        """
        extra = _ready_extra(operation_types, exclude_ids)
        if extra is None:
            return 0
        rows = await self._read(
            f"SELECT count(*) {_READY_FROM} WHERE {_DUE_IN_RUN}{extra}", {"now": self._clock()}
        )
        return int(rows[0][0])

    async def staged_paths(self, markers: Sequence[str]) -> set[str]:
        """Every string in a payload that holds one of ``markers`` (staged folders' names):
        the staged files and folders operations still name, so that none is removed while
        an operation needs it. Read on a connection of its own: the whole table is looked
        through, which must not hold up the window's reads."""
        if not markers:
            return set()
        await self.open()
        try:
            return await asyncio.to_thread(
                _staged_strings, self.db_path, list(markers), self.busy_timeout
            )
        except sqlite3.Error as exc:
            raise translate(exc, self.db_path) from exc

    async def keys_of(self, op_ids: Sequence[int]) -> dict[int, str]:
        """The idempotency keys of the operations among ``op_ids`` that exist."""
        found: dict[int, str] = {}
        for chunk in _transfers.chunks(list(op_ids)):
            sql = _transfers.KEYS_OF_IDS.format(marks=_transfers.marks(len(chunk)))
            found.update((int(i), str(k)) for i, k in await self._read(sql, list(chunk)))
        return found

    async def statuses_of_keys(self, keys: Sequence[str]) -> dict[str, tuple[int, str]]:
        """For each key among ``keys`` held here: its operation's id and status."""
        found: dict[str, tuple[int, str]] = {}
        for chunk in _transfers.chunks(list(keys)):
            sql = _transfers.STATUS_OF_KEYS.format(marks=_transfers.marks(len(chunk)))
            found.update((str(k), (int(i), str(s))) for k, i, s in await self._read(sql, chunk))
        return found

    async def list_delivered(
        self, *, after_id: int = 0, limit: int = 1000, imported_only: bool = True
    ) -> list[_transfers.Delivery]:
        """Completed operations in id order, with what their completion recorded;
        ``imported_only`` keeps those that came in through a transfer bundle."""
        rows = await self._read(
            _transfers.DELIVERED,
            {"after": after_id, "limit": limit, "everything": 0 if imported_only else 1},
        )
        delivered = [_transfers.row_to_delivery(row) for row in rows]
        if delivered:
            sql = _transfers.JOINED_KEYS.format(marks=_transfers.marks(len(delivered)))
            joined = await self._read(sql, [d.id for d in delivered])
            delivered = _transfers.with_joined_keys(delivered, joined)
        return delivered
