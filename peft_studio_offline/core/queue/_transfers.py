"""The queue's side of the air-gapped round trip (``core.transfer``): writes and reads.

An export marks what it wrote ``exported``; an import adds operations under the keys they
had at the source, skipping any key already here; a receipt completes operations by key.
Each write runs on the writer thread inside one transaction and checks before it writes.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from peft_studio_offline.core.enums import OverflowPolicy
from peft_studio_offline.core.errors import QueueFullError
from peft_studio_offline.core.events import QueueChange
from peft_studio_offline.core.queue._inserts import (
    InsertValues,
    _next_id,
    _unfinished,
    drop,
    insert_rows,
)
from peft_studio_offline.core.queue._jobs import Result, dump
from peft_studio_offline.core.queue._rows import timestamp_now
from peft_studio_offline.core.queue._schema import add_to_counters

# What an export may take (explicitly asked for: exported and failed ones too).
EXPORTABLE = ("pending", "exported", "failed")
# What a receipt completes: anything not finished and not being sent right now.
RECEIPT_COMPLETES = ("pending", "exported", "failed", "conflict")

EXPORTED = "exported"
IMPORTED = "imported"
# An imported operation that an unfinished one here stood for (the same dedup key): kept in
# that one's history, so that its receipt names the imported key too.
JOINED = "joined"
# SQLite's limit on bound values is 32,766; lookups go in chunks well below it.
_CHUNK = 500


@dataclass(frozen=True, slots=True)
class ImportedOperation:
    """One operation of a bundle as the source had it, with its dependencies' keys."""

    idempotency_key: str
    operation_type: str
    payload: dict[str, Any]
    priority: int = 0
    max_attempts: int | None = None
    conflict_strategy: str | None = None
    resource_key: str | None = None
    depends_on_keys: tuple[str, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)  # kept in its 'imported' entry
    dedup_key: str | None = None
    expires_at: float | None = None  # Unix seconds
    not_before: float | None = None  # Unix seconds


@dataclass(frozen=True, slots=True)
class ImportCount:
    added: tuple[int, ...]  # expired ones included
    already_here: int
    unknown_dependencies: tuple[str, ...]
    expired: tuple[int, ...] = ()  # added, but their time to live had run out
    deduplicated: int = 0  # not added: an unfinished operation here had their dedup key

    def check_limit(
        self, conn: sqlite3.Connection, now: float, max_size: int, overflow: OverflowPolicy
    ) -> None:
        """``QueueFullError`` when the import took the queue past ``max_size`` unfinished
        operations, unless ``drop_oldest`` could cancel enough of those that were here
        before it (the least important first, as an enqueue does)."""
        new = len(self.added) - len(self.expired)
        if not max_size or not new:
            return
        excess = _unfinished(conn) - max_size
        if excess <= 0:
            return
        if overflow is OverflowPolicy.DROP_OLDEST:
            rows = conn.execute(
                "SELECT id FROM offline_operations WHERE status = 'pending' AND id < ?"
                " ORDER BY priority ASC, id ASC LIMIT ?",
                (self.added[0], excess),
            ).fetchall()
            if len(rows) == excess:
                drop([int(r[0]) for r in rows], conn, now, max_size)
                return
        raise QueueFullError(import_limit_message(new, max_size))


@dataclass(frozen=True, slots=True)
class Delivery:
    """An operation delivered to its service, as a receipt reports it."""

    id: int
    idempotency_key: str
    operation_type: str
    delivered_at: str
    details: dict[str, Any]
    joined_keys: tuple[str, ...] = ()  # imported keys it stood for, delivered with it


def mark_exported(
    conn: sqlite3.Connection, now: float, *, ids: Sequence[int], details: dict[str, Any]
) -> Result:
    """``exported`` for each of ``ids`` still exportable; the result is how many changed.

    The ids travel as one JSON parameter: three statements however many there are (a
    statement per operation cost half a second for 20,000).
    """
    params = {"stamp": timestamp_now(now), "ids": json.dumps(list(ids)), "details": dump(details)}
    chosen = (
        "SELECT o.id FROM json_each(:ids) AS v JOIN offline_operations AS o"
        f" ON o.id = v.value WHERE o.status IN {EXPORTABLE}"
    )
    changed = [int(r[0]) for r in conn.execute(chosen, params)]
    conn.execute(
        "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, details)"
        " SELECT o.id, o.retry_count, :stamp, 'exported', :details FROM json_each(:ids) AS v"
        f" JOIN offline_operations AS o ON o.id = v.value WHERE o.status IN {EXPORTABLE}",
        params,
    )
    marked = conn.execute(
        "UPDATE offline_operations SET status = 'exported', error_message = NULL,"
        " lease_owner = NULL, lease_expires_at = NULL, updated_at = :stamp"
        f" WHERE id IN (SELECT value FROM json_each(:ids)) AND status IN {EXPORTABLE}",
        params,
    ).rowcount
    return marked, QueueChange("changed", tuple(changed)) if changed else None


def add_imported(
    conn: sqlite3.Connection,
    now: float,
    *,
    read: Callable[[], Iterable[ImportedOperation]],
    check: Callable[[ImportedOperation], InsertValues],
    max_size: int = 0,
    overflow: OverflowPolicy = OverflowPolicy.REJECT,
) -> Result:
    """Insert the operations ``read`` yields, in order, each under its own key.

    A key already in the queue (an earlier import of the same work) is skipped. A
    dependency is found by key among the operations inserted before it or already here;
    one found nowhere is left out and reported. As for an enqueue, an operation whose
    deduplication key an unfinished one here already has is not added (its dependents wait
    for that one), and one whose time to live ran out is kept as ``expired``, never sent.
    ``max_size`` and ``overflow`` are the queue's limit, applied to the import as a whole.
    ``read`` is called here, on the writer thread, so that a large import is streamed from
    disk rather than held in memory. ``check`` turns one into the values to insert (the
    queue's own validation). Any known error undoes everything this import wrote, and only
    that.
    """
    conn.execute("SAVEPOINT add_imported")
    try:
        result = _Import(conn, now, check).run(read)
        result[0].check_limit(conn, now, max_size, overflow)
    except BaseException:
        conn.execute("ROLLBACK TO add_imported")
        conn.execute("RELEASE add_imported")
        raise
    conn.execute("RELEASE add_imported")
    return result


EXPIRED_MESSAGE = "Expired: its time to live ran out before it could be sent."


class _Import:
    """One import on the writer thread: rows go in by batches, each with its history."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        now: float,
        check: Callable[[ImportedOperation], InsertValues],
    ) -> None:
        self.conn = conn
        self.now = now
        self.check = check
        self.stamp = timestamp_now(now)
        self.first = self.next_id = _next_id(conn)
        self.batch: list[InsertValues] = []
        self.batch_dedup: set[str] = set()
        self.expiring: list[int] = []
        self.dependencies: list[tuple[int, int]] = []
        self.history: list[tuple[int, str, str, str | None]] = []
        self.expired: list[int] = []

    def run(self, read: Callable[[], Iterable[ImportedOperation]]) -> Result:
        new_keys: dict[str, int] = {}
        new_dedup: dict[str, int] = {}  # dedup key -> the unfinished operation added with it
        already = deduplicated = 0
        unknown: list[str] = []
        for item in read():
            key = item.idempotency_key
            if key in new_keys or _id_of(self.conn, key) is not None:
                already += 1
                continue
            dedup = item.dedup_key
            if dedup is not None:
                joined = new_dedup.get(dedup) or _unfinished_with_dedup(self.conn, dedup)
                if joined is not None:  # as an enqueue: the unfinished one stands for it
                    new_keys[key] = joined
                    deduplicated += 1
                    joining = {**item.details, "idempotency_key": key}
                    self.history.append((joined, self.stamp, JOINED, dump(joining)))
                    continue
                if dedup in self.batch_dedup:  # an expired one of this batch holds it
                    self._flush()
            op_id = self.next_id + len(self.batch)
            found: list[int] = []
            for dep_key in item.depends_on_keys:
                dep_id = new_keys.get(dep_key) or _id_of(self.conn, dep_key)
                if dep_id is None:
                    unknown.append(dep_key)
                else:
                    found.append(dep_id)
            values = self.check(item)._replace(has_dependencies=1 if found else 0)
            self.batch.append(values)
            self.dependencies.extend((op_id, dep) for dep in dict.fromkeys(found))
            self.history.append((op_id, self.stamp, IMPORTED, dump(item.details)))
            new_keys[key] = op_id
            if item.expires_at is not None and item.expires_at <= self.now:
                self.expiring.append(op_id)
                if dedup is not None:
                    self.batch_dedup.add(dedup)
            elif dedup is not None:
                new_dedup[dedup] = op_id
                self.batch_dedup.add(dedup)
            if len(self.batch) >= 256:
                self._flush()
        self._flush()
        added = tuple(range(self.first, self.next_id))
        count = ImportCount(
            added, already, tuple(dict.fromkeys(unknown)), tuple(self.expired), deduplicated
        )
        return count, QueueChange("added", added) if added else None

    def _flush(self) -> None:
        """Insert the batch with its dependencies and history, then expire what arrived
        with its time to live already run out (as the queue's expiry does)."""
        conn = self.conn
        if self.batch:
            insert_rows(conn, self.next_id, self.stamp, self.now, self.batch)
            self.next_id += len(self.batch)
            add_to_counters(conn, "pending", len(self.batch), self.next_id - 1)
        conn.executemany(
            "INSERT INTO operation_dependencies (operation_id, depends_on_id) VALUES (?, ?)",
            self.dependencies,
        )
        conn.executemany(
            "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, details)"
            " VALUES (?, 0, ?, ?, ?)",
            self.history,
        )
        if self.expiring:
            conn.execute(
                "UPDATE offline_operations SET status = 'expired', error_message = ?"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (EXPIRED_MESSAGE, json.dumps(self.expiring)),
            )
            conn.executemany(
                "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, error)"
                " VALUES (?, 0, ?, 'expired', ?)",
                [(op_id, self.stamp, EXPIRED_MESSAGE) for op_id in self.expiring],
            )
            self.expired.extend(self.expiring)
        self.batch.clear()
        self.batch_dedup.clear()
        self.expiring.clear()
        self.dependencies.clear()
        self.history.clear()


def _unfinished_with_dedup(conn: sqlite3.Connection, dedup_key: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM offline_operations WHERE dedup_key = ?"
        " AND status IN ('pending', 'in_progress')",
        (dedup_key,),
    ).fetchone()
    return None if row is None else int(row[0])


def import_limit_message(new: int, max_size: int) -> str:
    return (
        f"Importing the bundle's {new} new operations would take the queue past its limit of"
        f" {max_size} unfinished operations (queue.max_size in the settings); nothing was"
        " imported."
    )


def _id_of(conn: sqlite3.Connection, key: str) -> int | None:
    row = conn.execute(
        "SELECT id FROM offline_operations WHERE idempotency_key = ?", (key,)
    ).fetchone()
    return None if row is None else int(row[0])


def complete_delivered(
    conn: sqlite3.Connection, now: float, *, deliveries: Sequence[tuple[str, dict[str, Any]]]
) -> Result:
    """Complete the operations a receipt names by key; counts of what each key met.

    A key this queue never had changes nothing; one already completed neither.
    """
    stamp = timestamp_now(now)
    counts = {"completed": 0, "already_completed": 0, "unknown": 0, "busy": 0}
    changed: list[int] = []
    wanted = dict(deliveries)
    keys = list(wanted)
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        rows = conn.execute(
            "SELECT idempotency_key, id, status, retry_count FROM offline_operations"
            f" WHERE idempotency_key IN ({', '.join('?' * len(chunk))})",
            chunk,
        ).fetchall()
        counts["unknown"] += len(chunk) - len(rows)
        done: list[tuple[int, int, str, str | None]] = []
        for key, op_id, status, retry_count in rows:
            if status == "completed":
                counts["already_completed"] += 1
            elif status in RECEIPT_COMPLETES:
                done.append((op_id, retry_count or 0, stamp, dump(wanted[key])))
            else:
                counts["busy"] += 1
        conn.executemany(
            "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, details)"
            " VALUES (?, ? + 1, ?, 'completed', ?)",
            done,
        )
        conn.executemany(
            "UPDATE offline_operations SET status = 'completed', error_message = NULL,"
            " lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?",
            [(stamp, op_id) for op_id, *_ in done],
        )
        conn.executemany(
            "DELETE FROM operation_conflicts WHERE operation_id = ?",
            [(op_id,) for op_id, *_ in done],
        )
        counts["completed"] += len(done)
        changed.extend(op_id for op_id, *_ in done)
    return counts, QueueChange("changed", tuple(changed)) if changed else None


# --------------------------------------------------------------------------- reads

KEYS_OF_IDS = "SELECT id, idempotency_key FROM offline_operations WHERE id IN ({marks})"
STATUS_OF_KEYS = (
    "SELECT idempotency_key, id, status FROM offline_operations WHERE idempotency_key IN ({marks})"
)
# Completed operations with the details of their completion; ``imported`` keeps those that
# came in through a bundle (what a receipt answers for).
DELIVERED = """
SELECT o.id, o.idempotency_key, o.operation_type, o.updated_at,
    (SELECT c.details FROM operation_attempts c WHERE c.operation_id = o.id
     AND c.outcome = 'completed' ORDER BY c.id DESC LIMIT 1)
FROM offline_operations o
WHERE o.status = 'completed' AND o.id > :after
    AND (:everything OR EXISTS (SELECT 1 FROM operation_attempts i
        WHERE i.operation_id = o.id AND i.outcome IN ('imported', 'joined')))
ORDER BY o.id LIMIT :limit
"""
# The imported keys that delivered operations stood for (``JOINED``).
JOINED_KEYS = (
    "SELECT operation_id, details FROM operation_attempts"
    " WHERE outcome = 'joined' AND operation_id IN ({marks}) ORDER BY id"
)


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def marks(count: int) -> str:
    return ", ".join("?" * count)


def with_joined_keys(delivered: list[Delivery], rows: Iterable[Sequence[Any]]) -> list[Delivery]:
    """``delivered`` with the keys each stood for, from its ``JOINED_KEYS`` rows."""
    found: dict[int, list[str]] = {}
    for op_id, details in rows:
        try:
            key = json.loads(details).get("idempotency_key") if details else None
        except (ValueError, AttributeError):
            key = None
        if isinstance(key, str) and key:
            found.setdefault(int(op_id), []).append(key)
    return [
        dataclasses.replace(d, joined_keys=tuple(found[d.id])) if d.id in found else d
        for d in delivered
    ]


def row_to_delivery(row: Sequence[Any]) -> Delivery:
    op_id, key, kind, updated_at, details = row
    try:
        parsed = json.loads(details) if details else {}
    except ValueError:
        parsed = {}
    return Delivery(
        int(op_id), str(key), str(kind), str(updated_at), parsed if isinstance(parsed, dict) else {}
    )
