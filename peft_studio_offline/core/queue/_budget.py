"""The storage budget applied to an insert, on the writer's connection, in its transaction.

``queue.overflow`` decides in bytes as it does in counts: ``reject`` refuses the requests
that do not fit (each caller hears ``StorageBudgetError``; the others still go in), and
``drop_oldest`` first removes the oldest finished operations (what retention would remove
later anyway), then the least important pending ones. Removed, not cancelled: a cancelled
row keeps its bytes.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from peft_studio_offline.core.enums import OverflowPolicy
from peft_studio_offline.core.errors import StorageBudgetError
from peft_studio_offline.core.storage_budget import ROW_OVERHEAD, budget_full_message

if TYPE_CHECKING:
    from peft_studio_offline.core.storage_budget import StorageBudget


log = logging.getLogger(__name__)


class StoredRow(Protocol):
    """A new row as the budget sees it (an ``_inserts.NewOperation``)."""

    @property
    def stored_bytes(self) -> int: ...


_ROW_BYTES = f"length(payload) + coalesce(length(payload_blob), 0) + {ROW_OVERHEAD}"
# Finished operations that no unfinished one depends on (the rule of ``clear_completed``).
_FINISHED = f"""
    SELECT id, {_ROW_BYTES} FROM offline_operations
    WHERE status IN ('completed', 'cancelled', 'expired', 'failed')
      AND NOT EXISTS (SELECT 1 FROM operation_dependencies d
        JOIN offline_operations w ON w.id = d.operation_id
        WHERE d.depends_on_id = offline_operations.id
          AND w.status NOT IN ('completed', 'failed', 'cancelled', 'expired'))
    ORDER BY id
"""
# Pending operations no other unfinished one depends on: dropping one that is depended on
# would hold its dependents for good.
_PENDING = f"""
    SELECT id, {_ROW_BYTES} FROM offline_operations WHERE status = 'pending'
      AND NOT EXISTS (SELECT 1 FROM operation_dependencies d
        JOIN offline_operations w ON w.id = d.operation_id
        WHERE d.depends_on_id = offline_operations.id
          AND w.status NOT IN ('completed', 'failed', 'cancelled', 'expired'))
    ORDER BY priority ASC, id ASC
"""


def request_bytes(request: Sequence[StoredRow]) -> int:
    """About what a request's rows take in the file."""
    return sum(new.stored_bytes for new in request)


@dataclass
class BudgetDecision:
    refused: dict[int, Exception]  # by the index of the request: its error
    removed: bool = False  # operations were removed to make room


def refused_by_budget(
    conn: sqlite3.Connection,
    requests: Sequence[Sequence[StoredRow]],
    budget: StorageBudget,
    overflow: OverflowPolicy,
) -> BudgetDecision:
    """The requests the budget refuses, each with its error (none when all fit, after
    making room under ``drop_oldest``)."""
    sizes = [request_bytes(request) for request in requests]
    used, over = budget.over_by(conn, sum(sizes))
    if not over:
        return BudgetDecision({})
    if overflow is OverflowPolicy.DROP_OLDEST and _make_room(conn, over):
        return BudgetDecision({}, removed=True)
    refused: dict[int, Exception] = {}
    admitted = 0
    for index, size in enumerate(sizes):
        if used + admitted + size > budget.limit:
            refused[index] = StorageBudgetError(budget_full_message(used, size, budget.limit))
        else:
            admitted += size
    return BudgetDecision(refused)


def _make_room(conn: sqlite3.Connection, wanted: int) -> bool:
    """Remove finished operations, then pending ones, until about ``wanted`` bytes are
    freed; False (nothing removed) when the queue does not hold that much."""
    finished, freed = _oldest(conn, _FINISHED, wanted)
    pending: list[int] = []
    if freed < wanted:
        pending, more = _oldest(conn, _PENDING, wanted - freed)
        freed += more
    if freed < wanted:
        return False
    for start in range(0, len(finished + pending), 500):
        chunk = (finished + pending)[start : start + 500]
        conn.execute(
            f"DELETE FROM offline_operations WHERE id IN ({', '.join('?' * len(chunk))})", chunk
        )
    if pending:
        log.warning(
            "The storage budget was reached: %d pending operations (ids %d to %d) were"
            " dropped to make room (queue.overflow is drop_oldest).",
            len(pending),
            min(pending),
            max(pending),
        )
    if finished:
        log.info("The storage budget was reached: %d finished operations removed.", len(finished))
    return True


def _oldest(conn: sqlite3.Connection, sql: str, wanted: int) -> tuple[list[int], int]:
    ids: list[int] = []
    freed = 0
    cursor = conn.execute(sql)
    try:
        while freed < wanted:
            rows = cursor.fetchmany(200)
            if not rows:
                break
            for op_id, size in rows:
                if freed >= wanted:
                    break
                ids.append(int(op_id))
                freed += int(size)
    finally:
        cursor.close()  # before the rows it read are deleted
    return ids, freed
