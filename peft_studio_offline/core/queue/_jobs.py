"""The queue's writes, as plain functions that run on the writer thread inside a transaction.

Each takes the connection and the batch's clock reading first, checks before it writes
(so a known error leaves nothing behind), and answers ``(result, change event)``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from peft_studio_offline.core.errors import InvalidStateError, OperationNotFoundError
from peft_studio_offline.core.events import QueueChange
from peft_studio_offline.core.queue._rows import OPERATION_COLUMNS, format_timestamp, timestamp_now
from peft_studio_offline.core.queue._schema import count_new_rows

Result = tuple[Any, QueueChange | None]


def _changed(*ids: int) -> QueueChange | None:
    return QueueChange("changed", tuple(ids)) if ids else None


def dump(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def row(conn: sqlite3.Connection, op_id: int) -> sqlite3.Row:
    found: sqlite3.Row | None = conn.execute(
        "SELECT id, status, retry_count, max_attempts, lease_owner FROM offline_operations"
        " WHERE id = ?",
        (op_id,),
    ).fetchone()
    if found is None:
        raise OperationNotFoundError(op_id)
    return found


def history(
    conn: sqlite3.Connection,
    op_id: int,
    attempt: int,
    now: float,
    outcome: str,
    error: str | None,
    details: Mapping[str, Any] | None = None,
) -> None:
    conn.execute(
        "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, error, details)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (
            op_id,
            attempt,
            timestamp_now(now),
            outcome,
            error,
            dump(dict(details)) if details else None,
        ),
    )


def mark_completed(
    conn: sqlite3.Connection,
    now: float,
    *,
    completions: Sequence[tuple[int, Mapping[str, Any] | None]],
) -> Result:
    """Record each operation as completed; the result is the ids that still existed.

    The operations travel as one JSON parameter, so a batch costs three statements however
    large it is: every statement step on this thread gives up the GIL and must win it back
    from a busy event loop, and a step per operation was most of a sync's writing time.
    """
    wanted = dict(completions)
    params = {
        "stamp": timestamp_now(now),
        # Details go in as text made by ``dump``, as every history entry is: SQLite's JSON
        # functions refuse what Python writes for NaN and infinity, which metrics can hold.
        "items": json.dumps(
            [[op_id, dump(dict(details)) if details else None] for op_id, details in wanted.items()]
        ),
    }
    recorded = conn.execute(
        "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, details)"
        " SELECT o.id, coalesce(o.retry_count, 0) + 1, :stamp, 'completed',"
        " json_extract(v.value, '$[1]') FROM json_each(:items) AS v"
        " JOIN offline_operations AS o ON o.id = json_extract(v.value, '$[0]')",
        params,
    ).rowcount
    conn.execute(
        "UPDATE offline_operations SET status = 'completed', error_message = NULL,"
        " lease_owner = NULL, lease_expires_at = NULL, updated_at = :stamp"
        f" WHERE id IN ({_ITEM_IDS})",
        params,
    )
    conn.execute(f"DELETE FROM operation_conflicts WHERE operation_id IN ({_ITEM_IDS})", params)
    found = tuple(wanted)
    if recorded != len(found):  # some were deleted meanwhile
        present = conn.execute(
            f"SELECT group_concat(id) FROM offline_operations WHERE id IN ({_ITEM_IDS})", params
        ).fetchone()[0]
        kept = {int(i) for i in (present or "").split(",") if i}
        found = tuple(op_id for op_id in found if op_id in kept)
    return found, _changed(*found)


_ITEM_IDS = "SELECT json_extract(value, '$[0]') FROM json_each(:items)"


def mark_failed(
    conn: sqlite3.Connection,
    now: float,
    *,
    op_id: int,
    message: str,
    retry_after: float | None,
    backoff: Callable[[int], float],
    permanent: bool,
    count_attempt: bool,
    default_max_attempts: int,
    details: Mapping[str, Any] | None,
    waiting: bool = False,
) -> Result:
    """Record a failed attempt; the result is the operation's row as it is afterwards.

    ``waiting``: nothing was sent, a setting is missing (recorded as ``waiting``, which
    ``wake_waiting`` looks for); it counts no attempt.
    """
    current = row(conn, op_id)
    retry_count = current["retry_count"] or 0
    # The backoff grows with attempts used; an unreachable service uses none.
    delay = retry_after if retry_after is not None else backoff(retry_count + 1)
    attempts = retry_count + (1 if count_attempt or permanent else 0)
    final = permanent or (
        count_attempt and attempts >= (current["max_attempts"] or default_max_attempts)
    )
    due = now + max(0.0, delay)
    after = conn.execute(
        "UPDATE offline_operations SET status = ?, retry_count = ?, error_message = ?,"
        " next_attempt_at = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?"
        f" WHERE id = ? RETURNING {OPERATION_COLUMNS}",
        ("failed" if final else "pending", attempts, message, due, timestamp_now(now), op_id),
    ).fetchall()[0]
    info = dict(details or {})
    if not final:
        info["retry_at"] = format_timestamp(datetime.fromtimestamp(due, UTC))
    if final:
        outcome = "failed"
    else:
        outcome = WAITING if waiting else ("retry" if count_attempt else "unreachable")
    history(conn, op_id, attempts, now, outcome, message, info)
    return after, _changed(op_id)


# The history outcome of an operation that waits for a setting (see ``mark_failed``).
WAITING = "waiting"


def wake_waiting(conn: sqlite3.Connection, now: float, *, ids: Sequence[int]) -> Result:
    """Make the given operations due now, if they are still pending.

    Their reason (what to set) is cleared: the setting may be there now, so nothing shows
    "needs a setting" until a sync finds it still missing and records the wait again. No
    history line is added: a wake comes with every change of settings and every first run
    of a process, and each would add one to every waiting operation.
    """
    woken: list[int] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        marks = ", ".join("?" * len(chunk))
        woken += [
            r[0]
            for r in conn.execute(
                "UPDATE offline_operations SET next_attempt_at = ?, error_message = NULL,"
                f" updated_at = ? WHERE status = 'pending' AND id IN ({marks}) RETURNING id",
                (now, timestamp_now(now), *chunk),
            )
        ]
    return len(woken), _changed(*woken)


def mark_conflict(
    conn: sqlite3.Connection,
    now: float,
    *,
    op_id: int,
    local: Any,
    remote: Any,
    base: Any,
    remote_version: str | None,
    message: str,
) -> Result:
    current = row(conn, op_id)
    stamp = timestamp_now(now)
    conn.execute(
        "UPDATE offline_operations SET status = 'conflict', error_message = ?,"
        " lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?",
        (message, stamp, op_id),
    )
    conn.execute(
        "INSERT OR REPLACE INTO operation_conflicts (operation_id, local, remote, base,"
        " remote_version, message, detected_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (op_id, dump(local), dump(remote), dump(base), remote_version, message, stamp),
    )
    history(conn, op_id, (current["retry_count"] or 0) + 1, now, "conflict", message)
    return None, _changed(op_id)


def release(
    conn: sqlite3.Connection,
    now: float,
    ids: Sequence[int],
    reason: str,
    record: bool = True,
    owner: str | None = None,
) -> tuple[int, ...]:
    """Put taken operations back as pending without counting an attempt.

    With ``owner``, only those that owner holds: one whose lease ran out may meanwhile be
    another process's, which is sending it.
    """
    stamp = timestamp_now(now)
    released: list[int] = []
    held_by = "" if owner is None else " AND lease_owner = ?"
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = conn.execute(
            "UPDATE offline_operations SET status = 'pending', lease_owner = NULL,"
            " lease_expires_at = NULL, updated_at = ?"
            f" WHERE status = 'in_progress' AND id IN ({', '.join('?' * len(chunk))}){held_by}"
            " RETURNING id, retry_count",
            (stamp, *chunk, *(() if owner is None else (owner,))),
        ).fetchall()
        if record:
            conn.executemany(
                "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, error)"
                " VALUES (?, ?, ?, 'released', ?)",
                [(r[0], r[1], stamp, f"Put back as pending: {reason}.") for r in rows],
            )
        released.extend(r[0] for r in rows)
    return tuple(released)


def release_job(
    conn: sqlite3.Connection,
    now: float,
    *,
    ids: Sequence[int],
    reason: str,
    record: bool,
    owner: str,
) -> Result:
    released = release(conn, now, ids, reason, record, owner)
    return len(released), _changed(*released)


def expire(conn: sqlite3.Connection, now: float) -> tuple[int, ...]:
    """Move pending operations whose time to live ran out to ``expired``, never silently."""
    stamp = timestamp_now(now)
    message = "Expired: its time to live ran out before it could be sent."
    rows = conn.execute(
        "UPDATE offline_operations INDEXED BY idx_operations_expiry"
        " SET status = 'expired', updated_at = ?, error_message = ?"
        " WHERE status = 'pending' AND expires_at IS NOT NULL AND expires_at <= ?"
        " RETURNING id, retry_count",
        (stamp, message, now),
    ).fetchall()
    conn.executemany(
        "INSERT INTO operation_attempts (operation_id, attempt, at, outcome, error)"
        " VALUES (?, ?, ?, 'expired', ?)",
        [(r[0], r[1], stamp, message) for r in rows],
    )
    return tuple(r[0] for r in rows)


def expire_job(conn: sqlite3.Connection, now: float) -> Result:
    ids = expire(conn, now)
    return len(ids), _changed(*ids)


def free_expired_leases(conn: sqlite3.Connection, now: float, owner: str) -> tuple[int, ...]:
    rows = conn.execute(
        "SELECT id FROM offline_operations INDEXED BY idx_operations_lease"
        " WHERE status = 'in_progress' AND lease_expires_at < ? AND lease_owner IS NOT ?",
        (now, owner),
    ).fetchall()
    return release(conn, now, [r[0] for r in rows], "its lease ran out") + expire(conn, now)


def claim(
    conn: sqlite3.Connection, now: float, *, sql: str, params: dict[str, Any], owner: str,
    lease_seconds: float,
) -> Result:  # fmt: skip
    freed = free_expired_leases(conn, now, owner)
    values = dict(params, now=now, stamp=timestamp_now(now), lease=now + lease_seconds)
    rows = conn.execute(sql, values).fetchall()
    rows.sort(key=lambda r: (-(r["priority"] or 0), r["id"]))
    ids = tuple(r["id"] for r in rows) + freed
    return rows, _changed(*ids)


def requeue(
    conn: sqlite3.Connection,
    now: float,
    *,
    op_id: int,
    owner: str,
    encoded: tuple[str, bytes | None] | None,
    note: str | None,
    reset_attempts: bool,
    clear_conflict: bool,
) -> Result:
    current = row(conn, op_id)
    if current["status"] == "in_progress" and current["lease_owner"] != owner:
        raise InvalidStateError(f"Operation {op_id} is being sent right now.")
    retry_count = 0 if reset_attempts else current["retry_count"]
    # A cancellation's reason is no error once the user asks for the operation again; a
    # failure's message stays, as the last error, until the next attempt replaces it.
    conn.execute(
        "UPDATE offline_operations SET status = 'pending', next_attempt_at = ?,"
        " retry_count = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ?,"
        " error_message = CASE WHEN status = 'cancelled' THEN NULL ELSE error_message END"
        " WHERE id = ?",
        (now, retry_count, timestamp_now(now), op_id),
    )
    if encoded is not None:
        conn.execute(
            "UPDATE offline_operations SET payload = ?, payload_blob = ? WHERE id = ?",
            (encoded[0], encoded[1], op_id),
        )
    if clear_conflict:
        conn.execute("DELETE FROM operation_conflicts WHERE operation_id = ?", (op_id,))
    if note is not None:
        history(conn, op_id, current["retry_count"] or 0, now, note, None)
    return None, _changed(op_id)


def cancel(conn: sqlite3.Connection, now: float, *, op_id: int, reason: str) -> Result:
    current = row(conn, op_id)
    if current["status"] in ("completed", "in_progress", "cancelled"):
        raise InvalidStateError(
            f"Operation {op_id} is {current['status'].replace('_', ' ')} and cannot be cancelled."
        )
    conn.execute(
        "UPDATE offline_operations SET status = 'cancelled', error_message = ?, updated_at = ?"
        " WHERE id = ?",
        (reason, timestamp_now(now), op_id),
    )
    history(conn, op_id, current["retry_count"] or 0, now, "cancelled", reason)
    return None, _changed(op_id)


def set_priority(conn: sqlite3.Connection, now: float, *, op_id: int, priority: int) -> Result:
    row(conn, op_id)
    conn.execute(
        "UPDATE offline_operations SET priority = ?, updated_at = ? WHERE id = ?",
        (priority, timestamp_now(now), op_id),
    )
    return None, _changed(op_id)


def record_event(
    conn: sqlite3.Connection,
    now: float,
    *,
    op_id: int,
    outcome: str,
    error: str | None,
    details: Mapping[str, Any] | None,
) -> Result:
    current = row(conn, op_id)
    history(conn, op_id, current["retry_count"] or 0, now, outcome, error, details)
    return None, _changed(op_id)


def after_event(
    conn: sqlite3.Connection,
    now: float,
    *,
    op_id: int,
    outcome: str,
    error: str | None,
    details: Mapping[str, Any] | None,
    change: Callable[[sqlite3.Connection, float], Result],
) -> Result:
    """A history line and the change it explains: neither is ever written without the
    other. A change that refuses (the operation is being sent by another process) undoes
    the line too: the writer commits what a job wrote before a refusal it raises."""
    conn.execute("SAVEPOINT explained")
    try:
        record_event(conn, now, op_id=op_id, outcome=outcome, error=error, details=details)
        result = change(conn, now)
    except BaseException:
        # A full disk has SQLite roll the whole transaction back itself: nothing to undo.
        with contextlib.suppress(sqlite3.OperationalError):
            conn.execute("ROLLBACK TO explained")
            conn.execute("RELEASE explained")
        raise
    conn.execute("RELEASE explained")
    return result


def delete(conn: sqlite3.Connection, now: float, *, ids: Sequence[int]) -> Result:
    deleted: list[int] = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start : start + 500])
        rows = conn.execute(
            f"DELETE FROM offline_operations WHERE id IN ({', '.join('?' * len(chunk))})"
            " RETURNING id",
            chunk,
        ).fetchall()
        deleted.extend(r[0] for r in rows)
    removed = tuple(sorted(deleted))
    return len(removed), QueueChange("removed", removed) if removed else None


FINISHED_STATUSES = ("completed", "failed", "cancelled", "expired")


def clear_completed(
    conn: sqlite3.Connection,
    now: float,
    *,
    cutoff: str | None,
    statuses: Sequence[str] = ("completed",),
) -> Result:
    # A completed operation that an unfinished one depends on stays, so that the dependent
    # can still see that it completed.
    wanted = [s for s in statuses if s in FINISHED_STATUSES]  # never one still to be sent
    if not wanted:
        return 0, None
    sql = (
        "DELETE FROM offline_operations WHERE status IN ("
        + ", ".join(f"'{s}'" for s in wanted)
        + ")"
        + (" AND updated_at < :cutoff" if cutoff else "")
        + " AND NOT EXISTS (SELECT 1 FROM operation_dependencies d"
        " JOIN offline_operations w ON w.id = d.operation_id"
        " WHERE d.depends_on_id = offline_operations.id"
        " AND w.status NOT IN ('completed', 'failed', 'cancelled', 'expired'))"
        " RETURNING id"
    )
    ids = tuple(r[0] for r in conn.execute(sql, {"cutoff": cutoff}).fetchall())
    return len(ids), QueueChange("removed", ids) if ids else None


def renew_leases(
    conn: sqlite3.Connection, now: float, *, owner: str, lease_seconds: float
) -> Result:
    cursor = conn.execute(
        "UPDATE offline_operations SET lease_expires_at = ?"
        " WHERE lease_owner = ? AND status = 'in_progress'",
        (now + lease_seconds, owner),
    )
    return cursor.rowcount, None


def recover_orphans(
    conn: sqlite3.Connection, now: float, *, owner: str, gone: Any, reason: str
) -> Result:
    """Operations held by a process that is gone, or whose lease ran out, are pending again."""
    ids = free_expired_leases(conn, now, owner)
    owners = conn.execute(
        "SELECT DISTINCT lease_owner FROM offline_operations WHERE status = 'in_progress'"
    ).fetchall()
    for (holder,) in owners:
        if holder != owner and gone(holder):
            rows = conn.execute(
                "SELECT id FROM offline_operations WHERE status = 'in_progress'"
                " AND lease_owner IS ?",
                (holder,),
            ).fetchall()
            ids += release(conn, now, [r[0] for r in rows], reason)
    return None, _changed(*ids)


def release_owned(conn: sqlite3.Connection, now: float, *, owner: str, reason: str) -> Result:
    rows = conn.execute(
        "SELECT id FROM offline_operations WHERE status = 'in_progress' AND lease_owner = ?",
        (owner,),
    ).fetchall()
    ids = release(conn, now, [r[0] for r in rows], reason)
    return None, _changed(*ids)


def count_external_rows(conn: sqlite3.Connection, now: float) -> Result:
    count_new_rows(conn)
    return None, None


def replace_payload(
    conn: sqlite3.Connection,
    now: float,
    *,
    op_id: int,
    encoded: tuple[str, bytes | None],
    was: tuple[str, bytes | None],
) -> Result:
    """Store the same payload written anew (its secrets sealed with another key), unless it
    changed since it was read (a re-queue with a new payload wins)."""
    conn.execute(
        "UPDATE offline_operations SET payload = ?, payload_blob = ?"
        " WHERE id = ? AND payload IS ? AND payload_blob IS ?",
        (encoded[0], encoded[1], op_id, was[0], was[1]),
    )
    return None, None


def replace_conflict_local(
    conn: sqlite3.Connection, now: float, *, op_id: int, local: Any, was: str
) -> Result:
    """Store a conflict's local side written anew (its secrets sealed with another key),
    unless it changed since it was read."""
    conn.execute(
        "UPDATE operation_conflicts SET local = ? WHERE operation_id = ? AND local IS ?",
        (dump(local), op_id, was),
    )
    return None, None
