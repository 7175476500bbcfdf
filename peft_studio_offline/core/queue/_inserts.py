"""Validating new operations and inserting them, one or many, in a single write."""

from __future__ import annotations

import math
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from itertools import chain
from typing import TYPE_CHECKING, Any, NamedTuple, TypedDict, cast

from peft_studio_offline.core.enums import (
    ConflictResolution,
    OperationStatus,
    OperationType,
    OverflowPolicy,
    parse_conflict_resolution,
    parse_operation_type,
)
from peft_studio_offline.core.errors import InvalidOperationError, QueueFullError
from peft_studio_offline.core.events import QueueChange
from peft_studio_offline.core.operation import PRIORITY_MAX, PRIORITY_MIN, check_priority
from peft_studio_offline.core.queue._codec import encode_payload
from peft_studio_offline.core.queue._rows import timestamp_now
from peft_studio_offline.core.queue._schema import add_to_counters
from peft_studio_offline.core.storage_budget import ROW_OVERHEAD

if TYPE_CHECKING:
    from peft_studio_offline.core.storage_budget import StorageBudget

INT64_MAX = 2**63 - 1
# Each type's text, found by its text or its enum member (a StrEnum hashes as its text):
# one lookup instead of parsing to the enum and reading its .value.
_TYPE_TEXT: dict[str, str] = {kind.value: kind.value for kind in OperationType}
UNFINISHED = ("pending", "in_progress", "conflict")


class EnqueueOptions(TypedDict, total=False):
    """What ``enqueue`` takes besides the type, payload and priority; each is checked there
    (``validate_new``), whatever a caller's types say."""

    max_attempts: int
    ttl: float | timedelta  # seconds from now until it expires
    expires_at: float | datetime  # or the moment itself (Unix time)
    depends_on: Iterable[int]  # ids that must complete first
    dedup_key: str  # a second operation with this key is the first one
    conflict_strategy: ConflictResolution | str
    resource_key: str  # operations with one key go in order
    idempotency_key: str  # sent with every attempt; made up when not given
    not_before: float | datetime  # not sent before then


ENQUEUE_OPTIONS = EnqueueOptions.__optional_keys__


_INSERT_COLUMNS = (
    "id, operation_type, payload, status, created_at, updated_at, retry_count, priority,"
    " idempotency_key, max_attempts, next_attempt_at, expires_at, dedup_key, conflict_strategy,"
    " resource_key, payload_blob, has_dependencies"
)


class InsertValues(NamedTuple):
    """What the caller decides about a new row, in the order the insert statement binds it.

    The row's id, timestamps and due time are the writer's, set for a whole commit at once.
    """

    operation_type: str
    payload_text: str
    priority: int
    idempotency_key: str
    max_attempts: int
    not_before: float | None
    expires_at: float | None
    dedup_key: str | None
    conflict_strategy: str | None
    resource_key: str | None
    payload_blob: bytes | None
    has_dependencies: int


_VALUES_PER_ROW = len(InsertValues._fields)


@dataclass(slots=True)
class NewOperation:
    """A validated operation, ready to insert.

    Most operations set no option and carry a payload too small to compress: for them
    ``short`` holds (type, payload text, priority) and ``values`` is None. Such a row binds
    three values instead of twelve, and SQLite makes its idempotency key (see
    ``_SQL_IDEMPOTENCY_KEY``): binding values and drawing keys hold the GIL, which a busy
    writer must share with the event loop.
    """

    values: InsertValues | None
    depends_on: tuple[int, ...] = ()
    short: tuple[str, str, int] | None = None

    @property
    def dedup_key(self) -> str | None:
        return None if self.values is None else self.values.dedup_key

    @property
    def plain(self) -> bool:
        """Nothing about it needs a look at the queue before it is inserted."""
        return self.values is None or (self.values.dedup_key is None and not self.depends_on)

    @property
    def stored_bytes(self) -> int:
        """About what its row takes in the file (the storage budget's estimate)."""
        if self.values is None:
            assert self.short is not None
            return len(self.short[1]) + ROW_OVERHEAD
        blob = self.values.payload_blob
        return len(self.values.payload_text) + (len(blob) if blob else 0) + ROW_OVERHEAD

    def full_values(self, default_max_attempts: int) -> InsertValues:
        if self.values is not None:
            return self.values
        assert self.short is not None
        kind, text, priority = self.short
        return InsertValues(
            kind, text, priority, new_idempotency_key(), default_max_attempts,
            None, None, None, None, None, None, 0,
        )  # fmt: skip


# Keys must be unique, not secret: a generator seeded from the OS draws the random part
# without a system call (os.urandom would drop and retake the GIL on every enqueue, which
# stalls the writer thread). Reseeded in a forked child so that parent and child differ.
_KEY_RANDOM = random.Random()
os.register_at_fork(after_in_child=_KEY_RANDOM.seed)


def new_idempotency_key() -> str:
    """128 bits, time-ordered like a UUIDv7: new keys go to the end of the key index."""
    return f"{time.time_ns() // 1000:014x}{_KEY_RANDOM.getrandbits(72):018x}"


def validate(
    operation_type: object,
    payload: object,
    priority: object,
    options: Mapping[str, Any],
    *,
    default_max_attempts: int,
    compress_threshold: int,
    clock: Callable[[], float],
    seal: Callable[[Any], Any] | None = None,
) -> NewOperation:
    """Check everything about a new operation before anything is written."""
    if options and not options.keys() <= ENQUEUE_OPTIONS:
        unknown = sorted(set(options) - ENQUEUE_OPTIONS)
        raise InvalidOperationError(
            f"Unknown enqueue option {unknown[0]!r}; known options: "
            + ", ".join(sorted(ENQUEUE_OPTIONS))
            + "."
        )
    type_text = None
    if type(operation_type) is str or isinstance(operation_type, OperationType):
        type_text = _TYPE_TEXT.get(operation_type)
    if type_text is None:
        type_text = parse_operation_type(operation_type).value  # raises, naming the known types
    text, blob = encode_payload(payload, compress_threshold, seal)
    if type(priority) is not int or not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        priority = check_priority(priority)  # raises, naming the bounds, unless an int subclass
    if not options:  # the common case: every option at its default
        if blob is None:
            return NewOperation(None, (), (type_text, text, priority))
        return NewOperation(
            InsertValues(
                type_text, text, priority, new_idempotency_key(), default_max_attempts,
                None, None, None, None, None, blob, 0,
            )
        )  # fmt: skip
    max_attempts = options.get("max_attempts", default_max_attempts)
    if isinstance(max_attempts, bool) or not isinstance(max_attempts, int) or max_attempts < 1:
        raise InvalidOperationError(
            f"max_attempts must be a positive integer, not {max_attempts!r}."
        )
    expires_at = _expiry(options, clock)
    not_before = _moment(options.get("not_before"), "not_before")
    strategy = options.get("conflict_strategy")
    strategy_value = None if strategy is None else parse_conflict_resolution(strategy).value
    idempotency_key = options.get("idempotency_key") or new_idempotency_key()
    depends_on = _dependencies(options.get("depends_on"))
    values = InsertValues(
        operation_type=type_text,
        payload_text=text,
        priority=priority,
        idempotency_key=_text_option(idempotency_key, "idempotency_key"),
        max_attempts=max_attempts,
        not_before=not_before,
        expires_at=expires_at,
        dedup_key=_optional_text(options.get("dedup_key"), "dedup_key"),
        conflict_strategy=strategy_value,
        resource_key=_optional_text(options.get("resource_key"), "resource_key"),
        payload_blob=blob,
        has_dependencies=1 if depends_on else 0,
    )
    return NewOperation(values, depends_on)


def _text_option(value: object, name: str) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > 512:
        raise InvalidOperationError(f"{name} must be a non-empty string of at most 512 characters.")
    return value


def _optional_text(value: object, name: str) -> str | None:
    return None if value is None else _text_option(value, name)


def _moment(value: object, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise InvalidOperationError(f"{name} must be a datetime or Unix time, not {value!r}.")


def _expiry(options: Mapping[str, Any], clock: Callable[[], float]) -> float | None:
    ttl = options.get("ttl")
    expires_at = _moment(options.get("expires_at"), "expires_at")
    if ttl is None:
        return expires_at
    if expires_at is not None:
        raise InvalidOperationError("Give either ttl or expires_at, not both.")
    seconds = ttl.total_seconds() if isinstance(ttl, timedelta) else ttl
    if (
        isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or not math.isfinite(seconds)
        or seconds <= 0
    ):
        raise InvalidOperationError(f"ttl must be a positive number of seconds, not {ttl!r}.")
    return clock() + float(seconds)


def _dependencies(value: object) -> tuple[int, ...]:
    if value is None:
        return ()
    items: Iterable[object] = [value] if isinstance(value, int) else value  # type: ignore[assignment]
    if isinstance(value, str | bytes | Mapping) or not isinstance(items, Iterable):
        raise InvalidOperationError("depends_on must be a list of operation ids.")
    ids: list[int] = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise InvalidOperationError(f"depends_on holds {item!r}, which is not an operation id.")
        ids.append(item)
    return tuple(dict.fromkeys(ids))


def queue_full_message(max_size: int) -> str:
    return (
        f"The queue is full: it already holds {max_size} unfinished operations"
        " (queue.max_size in the settings)."
    )


@dataclass
class InsertBatch:
    """Several enqueue requests (each a list of operations) merged into one transaction."""

    requests: list[list[NewOperation]]
    max_size: int
    overflow: OverflowPolicy
    default_max_attempts: int
    budget: StorageBudget | None = field(default=None)

    def run(self, conn: sqlite3.Connection, now: float) -> tuple[Any, QueueChange | None]:
        if self.budget is None:
            return self._run_counted(conn, now)
        from peft_studio_offline.core.queue._budget import refused_by_budget

        decision = refused_by_budget(conn, self.requests, self.budget, self.overflow)
        refused = decision.refused
        if not refused:
            done, added = self._run_counted(conn, now)
            # Rows were removed to make room: which ones, the window learns by reading again.
            return done, QueueChange("external") if decision.removed else added
        kept = [r for index, r in enumerate(self.requests) if index not in refused]
        results: list[Any] = []
        change: QueueChange | None = None
        if kept:
            results, change = replace(self, requests=kept, budget=None)._run_counted(conn, now)
        admitted = iter(results)
        merged = [refused[i] if i in refused else next(admitted) for i in range(len(self.requests))]
        return merged, change

    def _run_counted(self, conn: sqlite3.Connection, now: float) -> tuple[Any, QueueChange | None]:
        if not self.max_size:
            shorts = [new.short for request in self.requests for new in request]
            if None not in shorts or all(n.plain for request in self.requests for n in request):
                return self._run_plain(conn, now, shorts)
        results: list[list[int] | Exception] = []
        existing = self._existing_dedup(conn)
        known_ids = self._existing_ids(conn)
        unfinished = _unfinished(conn) if self.max_size else 0
        next_id = _next_id(conn)
        stamp = timestamp_now(now)
        rows: list[InsertValues] = []
        dependencies: list[tuple[int, int]] = []
        planned_dedup: dict[str, int] = {}
        for request in self.requests:
            ids: list[int] = []
            new_rows: list[InsertValues] = []
            new_deps: list[tuple[int, int]] = []
            new_dedup: dict[str, int] = {}
            try:
                for new in request:
                    key = new.dedup_key
                    if key is not None:
                        found = existing.get(key) or planned_dedup.get(key) or new_dedup.get(key)
                        if found is not None:
                            ids.append(found)
                            continue
                    missing = [d for d in new.depends_on if d not in known_ids]
                    if missing:
                        raise InvalidOperationError(
                            f"depends_on names operation {missing[0]}, which does not exist."
                        )
                    op_id = next_id + len(rows) + len(new_rows)
                    new_rows.append(new.full_values(self.default_max_attempts))
                    new_deps.extend((op_id, dep) for dep in new.depends_on)
                    if key is not None:
                        new_dedup[key] = op_id
                    ids.append(op_id)
                if self.max_size and unfinished + len(new_rows) > self.max_size:
                    room = self._make_room(conn, now, unfinished + len(new_rows))
                    if not room:
                        raise QueueFullError(queue_full_message(self.max_size))
                    unfinished -= room
            except InvalidOperationError as exc:
                results.append(exc)
                continue
            unfinished += len(new_rows)
            rows.extend(new_rows)
            dependencies.extend(new_deps)
            planned_dedup.update(new_dedup)
            known_ids.update(range(next_id + len(rows) - len(new_rows), next_id + len(rows)))
            results.append(ids)
        if rows:
            insert_rows(conn, next_id, stamp, now, rows)
            add_to_counters(conn, OperationStatus.PENDING.value, len(rows), next_id + len(rows) - 1)
        if dependencies:
            conn.executemany(
                "INSERT OR IGNORE INTO operation_dependencies (operation_id, depends_on_id)"
                " VALUES (?, ?)",
                dependencies,
            )
        added = tuple(range(next_id, next_id + len(rows)))
        return results, QueueChange("added", added) if added else None

    def _run_plain(
        self, conn: sqlite3.Connection, now: float, shorts: list[tuple[str, str, int] | None]
    ) -> tuple[Any, QueueChange | None]:
        """The common case, with nothing to look up first: ids follow on from the last one.

        ``shorts`` holds each new operation's ``short``, in order.
        """
        first = _next_id(conn)
        if None not in shorts:
            short_rows = cast(list[tuple[str, str, int]], shorts)
            insert_short_rows(
                conn, first, timestamp_now(now), now, self.default_max_attempts, short_rows
            )
        else:
            rows = [
                new.full_values(self.default_max_attempts)
                for request in self.requests
                for new in request
            ]
            insert_rows(conn, first, timestamp_now(now), now, rows)
        count = len(shorts)
        add_to_counters(conn, OperationStatus.PENDING.value, count, first + count - 1)
        results: list[list[int]] = []
        op_id = first
        for request in self.requests:
            size = len(request)
            results.append([op_id] if size == 1 else list(range(op_id, op_id + size)))
            op_id += size
        return results, QueueChange("added", tuple(range(first, op_id)))

    def _existing_dedup(self, conn: sqlite3.Connection) -> dict[str, int]:
        keys = sorted({n.dedup_key for r in self.requests for n in r if n.dedup_key is not None})
        found: dict[str, int] = {}
        for chunk in _chunks(keys, 500):
            rows = conn.execute(
                "SELECT dedup_key, id FROM offline_operations WHERE dedup_key IN"
                f" ({', '.join('?' * len(chunk))}) AND status IN ('pending', 'in_progress')",
                chunk,
            ).fetchall()
            found.update({row[0]: row[1] for row in rows})
        return found

    def _existing_ids(self, conn: sqlite3.Connection) -> set[int]:
        wanted = sorted({d for r in self.requests for n in r for d in n.depends_on})
        found: set[int] = set()
        for chunk in _chunks(wanted, 500):
            rows = conn.execute(
                f"SELECT id FROM offline_operations WHERE id IN ({', '.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            found.update(row[0] for row in rows)
        return found

    def _make_room(self, conn: sqlite3.Connection, now: float, wanted: int) -> int:
        """Under ``drop_oldest``, cancel the least important pending operations; else 0."""
        if self.overflow is not OverflowPolicy.DROP_OLDEST:
            return 0
        excess = wanted - self.max_size
        rows = conn.execute(
            "SELECT id FROM offline_operations WHERE status = 'pending'"
            " ORDER BY priority ASC, id ASC LIMIT ?",
            (excess,),
        ).fetchall()
        if len(rows) < excess:
            return 0
        drop([row[0] for row in rows], conn, now, self.max_size)
        return excess


def drop(ids: Sequence[int], conn: sqlite3.Connection, now: float, max_size: int) -> None:
    """Cancel ``ids`` to make room in a full queue (``drop_oldest``), each with its entry."""
    message = f"Dropped to make room: the queue was full ({max_size} operations)."
    stamp = timestamp_now(now)
    conn.executemany(
        "UPDATE offline_operations SET status = 'cancelled', error_message = ?,"
        " updated_at = ? WHERE id = ?",
        [(message, stamp, op_id) for op_id in ids],
    )
    conn.executemany(
        "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, error)"
        " SELECT id, retry_count, ?, 'dropped', ? FROM offline_operations WHERE id = ?",
        [(stamp, message, op_id) for op_id in ids],
    )


# Rows go in several to a statement: executemany steps once per row, and every step lets go
# of the GIL and must take it back from the event loop's thread, which is what held back a
# busy writer. A few fixed sizes keep the distinct statements (each prepared once, then
# cached by sqlite3) few. Parameters ?1-?3 are the first id, the timestamp and the time of
# the commit; row k takes id ?1 + k and its own InsertValues after them.
_ROWS_PER_STATEMENT = (64, 16, 4, 1)


def _insert_statement(rows: int) -> str:
    tuples = []
    for k in range(rows):
        v = [f"?{4 + k * _VALUES_PER_ROW + i}" for i in range(_VALUES_PER_ROW)]
        tuples.append(
            f"(?1 + {k}, {v[0]}, {v[1]}, 'pending', ?2, ?2, 0, {v[2]}, {v[3]}, {v[4]},"
            f" max(?3, coalesce({v[5]}, ?3)), {v[6]}, {v[7]}, {v[8]}, {v[9]}, {v[10]}, {v[11]})"
        )
    return f"INSERT INTO offline_operations ({_INSERT_COLUMNS}) VALUES {', '.join(tuples)}"


_INSERT_STATEMENTS = {size: _insert_statement(size) for size in _ROWS_PER_STATEMENT}

# A new idempotency key made by SQLite, 32 hex digits like ``new_idempotency_key``: the
# commit's time in microseconds (?3 is in seconds), the row's id (low 32 bits) and 40
# random bits drawn once for the commit (?5), which tell this file's keys from another's;
# the id already tells the rows of one file apart. Keys of one commit ascend with the id,
# so they go to the end of the key index; random keys there would scatter a large batch
# across it. One printf a row costs a tenth less insert time than drawing random bits too.
_SQL_IDEMPOTENCY_KEY = (
    "printf('%014x%08x%s', CAST(?3 * 1000000 AS INTEGER), (?1 + {k}) & 4294967295, ?5)"
)


def _short_statement(rows: int) -> str:
    """Rows with every option at its default; ?4 is the queue's max_attempts."""
    tuples = []
    for k in range(rows):
        kind, text, priority = (f"?{6 + k * 3 + i}" for i in range(3))
        tuples.append(
            f"(?1 + {k}, {kind}, {text}, 'pending', ?2, ?2, 0, {priority},"
            f" {_SQL_IDEMPOTENCY_KEY.format(k=k)}, ?4, ?3, NULL, NULL, NULL, NULL, NULL, 0)"
        )
    return f"INSERT INTO offline_operations ({_INSERT_COLUMNS}) VALUES {', '.join(tuples)}"


_SHORT_STATEMENTS = {size: _short_statement(size) for size in _ROWS_PER_STATEMENT}


def insert_rows(
    conn: sqlite3.Connection, first_id: int, stamp: str, now: float, rows: list[InsertValues]
) -> None:
    """Insert new pending rows with ids from ``first_id`` on, created at ``now``."""
    _insert(conn, _INSERT_STATEMENTS, first_id, (stamp, now), rows)


def insert_short_rows(
    conn: sqlite3.Connection,
    first_id: int,
    stamp: str,
    now: float,
    max_attempts: int,
    rows: list[tuple[str, str, int]],
) -> None:
    """``insert_rows`` for rows that set no option (``NewOperation.short``)."""
    key_tail = f"{_KEY_RANDOM.getrandbits(40):010x}"
    _insert(conn, _SHORT_STATEMENTS, first_id, (stamp, now, max_attempts, key_tail), rows)


def _insert(
    conn: sqlite3.Connection,
    statements: dict[int, str],
    first_id: int,
    shared: tuple[object, ...],
    rows: Sequence[Sequence[object]],
) -> None:
    """Each statement binds its first id, then ``shared``, then its rows' values in turn."""
    start = 0
    for size in _ROWS_PER_STATEMENT:
        end = start + (len(rows) - start) // size * size
        if end > start:
            conn.executemany(
                statements[size],
                (
                    [first_id + i, *shared, *chain.from_iterable(rows[i : i + size])]
                    for i in range(start, end, size)
                ),
            )
        start = end


def _unfinished(conn: sqlite3.Connection) -> int:
    row = conn.execute(
        "SELECT coalesce(sum(count), 0) FROM queue_counters"
        " WHERE status IN ('pending', 'in_progress', 'conflict')"
    ).fetchone()
    return int(row[0])


def _next_id(conn: sqlite3.Connection) -> int:
    # AUTOINCREMENT's sequence never goes back, so a deleted id is never handed out again.
    row = conn.execute(
        "SELECT max(coalesce((SELECT seq FROM sqlite_sequence"
        " WHERE name = 'offline_operations'), 0),"
        " coalesce((SELECT max(id) FROM offline_operations), 0))"
    ).fetchone()
    return int(row[0]) + 1


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
