"""The queue's side of the air-gapped round trip (``core.transfer``): writes and reads.

An export marks what it wrote ``exported``; an import adds operations under the keys they
had at the source, skipping any key already here; a receipt completes operations by key.
Each write runs on the writer thread inside one transaction and checks before it writes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from peft_studio_offline.core.events import QueueChange
from peft_studio_offline.core.queue._inserts import InsertValues, _next_id, insert_rows
from peft_studio_offline.core.queue._jobs import Result, dump
from peft_studio_offline.core.queue._rows import timestamp_now
from peft_studio_offline.core.queue._schema import add_to_counters

# What an export may take (explicitly asked for: exported and failed ones too).
EXPORTABLE = ("pending", "exported", "failed")
# What a receipt completes: anything not finished and not being sent right now.
RECEIPT_COMPLETES = ("pending", "exported", "failed", "conflict")

EXPORTED = "exported"
IMPORTED = "imported"
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


@dataclass(frozen=True, slots=True)
class ImportCount:
    added: tuple[int, ...]
    already_here: int
    unknown_dependencies: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Delivery:
    """An operation delivered to its service, as a receipt reports it."""

    id: int
    idempotency_key: str
    operation_type: str
    delivered_at: str
    details: dict[str, Any]


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
) -> Result:
    """Insert the operations ``read`` yields, in order, each under its own key.

    A key already in the queue (an earlier import of the same work) is skipped. A
    dependency is found by key among the operations inserted before it or already here;
    one found nowhere is left out and reported. ``read`` is called here, on the writer
    thread, so that a large import is streamed from disk rather than held in memory.
    ``check`` turns one into the values to insert (the queue's own validation). Any known
    error undoes everything this import wrote, and only that.
    """
    conn.execute("SAVEPOINT add_imported")
    try:
        result = _add_imported(conn, now, read, check)
    except BaseException:
        conn.execute("ROLLBACK TO add_imported")
        conn.execute("RELEASE add_imported")
        raise
    conn.execute("RELEASE add_imported")
    return result


def _add_imported(
    conn: sqlite3.Connection,
    now: float,
    read: Callable[[], Iterable[ImportedOperation]],
    check: Callable[[ImportedOperation], InsertValues],
) -> Result:
    stamp = timestamp_now(now)
    first = next_id = _next_id(conn)
    batch: list[InsertValues] = []
    dependencies: list[tuple[int, int]] = []
    history: list[tuple[int, str, str, str | None]] = []
    new_keys: dict[str, int] = {}
    already = 0
    unknown: list[str] = []

    def flush() -> None:
        nonlocal next_id
        if batch:
            insert_rows(conn, next_id, stamp, now, batch)
            next_id += len(batch)
            batch.clear()

    for item in read():
        key = item.idempotency_key
        if key in new_keys or _id_of(conn, key) is not None:
            already += 1
            continue
        op_id = next_id + len(batch)
        found: list[int] = []
        for dep_key in item.depends_on_keys:
            dep_id = new_keys.get(dep_key) or _id_of(conn, dep_key)
            if dep_id is None:
                unknown.append(dep_key)
            else:
                found.append(dep_id)
        values = check(item)._replace(has_dependencies=1 if found else 0)
        batch.append(values)
        dependencies.extend((op_id, dep) for dep in dict.fromkeys(found))
        history.append((op_id, stamp, IMPORTED, dump(item.details)))
        new_keys[key] = op_id
        if len(batch) >= 256:
            flush()
    flush()
    added = tuple(range(first, next_id))
    if added:
        add_to_counters(conn, "pending", len(added), next_id - 1)
    conn.executemany(
        "INSERT INTO operation_dependencies (operation_id, depends_on_id) VALUES (?, ?)",
        dependencies,
    )
    conn.executemany(
        "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, details)"
        " VALUES (?, 0, ?, ?, ?)",
        history,
    )
    count = ImportCount(added, already, tuple(dict.fromkeys(unknown)))
    return count, QueueChange("added", added) if added else None


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
        WHERE i.operation_id = o.id AND i.outcome = 'imported'))
ORDER BY o.id LIMIT :limit
"""


def chunks(items: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def marks(count: int) -> str:
    return ", ".join("?" * count)


def row_to_delivery(row: Sequence[Any]) -> Delivery:
    op_id, key, kind, updated_at, details = row
    try:
        parsed = json.loads(details) if details else {}
    except ValueError:
        parsed = {}
    return Delivery(
        int(op_id), str(key), str(kind), str(updated_at), parsed if isinstance(parsed, dict) else {}
    )
