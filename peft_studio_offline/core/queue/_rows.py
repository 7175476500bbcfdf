"""Turning stored rows into records, tolerating rows this version cannot read."""

from __future__ import annotations

import codecs
import functools
import json
import sqlite3
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus, OperationType
from peft_studio_offline.core.operation import (
    Attempt,
    ConflictRecord,
    Operation,
    OperationSummary,
)
from peft_studio_offline.core.queue._codec import COMPRESSED_MARKER, decode_payload

_COLUMN_NAMES = (
    "id", "operation_type", "payload", "status", "created_at", "updated_at", "retry_count",
    "error_message", "priority", "idempotency_key", "max_attempts", "next_attempt_at",
    "expires_at", "dedup_key", "conflict_strategy", "resource_key", "lease_owner",
    "lease_expires_at", "payload_blob", "has_dependencies",
)  # fmt: skip


def operation_columns(alias: str = "") -> str:
    """The column list that ``row_to_operation`` reads, optionally qualified by a table alias."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + name for name in _COLUMN_NAMES)


OPERATION_COLUMNS = operation_columns()
# Positions in such a row, for reading it without a lookup by name.
ID_COLUMN = _COLUMN_NAMES.index("id")
HAS_DEPENDENCIES_COLUMN = _COLUMN_NAMES.index("has_dependencies")
PAYLOAD_COLUMN = _COLUMN_NAMES.index("payload")
PAYLOAD_BLOB_COLUMN = _COLUMN_NAMES.index("payload_blob")

# A summary reads the start of the payload, never all of it: SQLite still loads a large
# value to cut it, but on the reader's thread, and only this much reaches Python.
PAYLOAD_HEAD_CHARS = 4096
_BLOB_HEAD_BYTES = 8192  # compressed: enough of the stream for PAYLOAD_HEAD_CHARS and more
_SUMMARY_EXPRESSIONS = {
    "payload": "CASE WHEN payload_blob IS NULL"
    f" THEN substr(payload, 1, {PAYLOAD_HEAD_CHARS}) ELSE payload END",
    "payload_blob": f"substr(payload_blob, 1, {_BLOB_HEAD_BYTES})",
}
SUMMARY_COLUMNS = (
    ", ".join(_SUMMARY_EXPRESSIONS.get(name, name) for name in _COLUMN_NAMES)
    + ", CASE WHEN payload_blob IS NULL THEN length(CAST(payload AS BLOB)) END"
)

_KNOWN_TYPES = {t.value: t for t in OperationType}
_KNOWN_STATUSES = {s.value: s for s in OperationStatus}


def format_timestamp(moment: datetime) -> str:
    """UTC text in SQLite's own format, with microseconds, so that text order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def timestamp_now(now: float) -> str:
    return format_timestamp(datetime.fromtimestamp(now, UTC))


# Rows written by one commit share their timestamps, so a claimed batch repeats a few texts.
@functools.lru_cache(maxsize=1024)
def parse_timestamp(text: str | None) -> datetime:
    if not text:
        return datetime.fromtimestamp(0, UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return datetime.fromtimestamp(0, UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


_PENDING = OperationStatus.PENDING


def from_epoch(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, UTC)


def row_to_operation(row: Sequence[Any], depends_on: tuple[int, ...] = ()) -> Operation:
    """An ``Operation`` from a row of ``OPERATION_COLUMNS``, which it reads in their order
    (by position: a lookup by name scans the names, and a claim converts 100 rows)."""
    (op_id, type_text, payload_text, status_text, created_at, updated_at, retry_count,
     error_message, priority, idempotency_key, max_attempts, next_attempt_at, expires_at,
     dedup_key, strategy_text, resource_key, lease_owner, lease_expires_at, payload_blob,
     _) = row  # fmt: skip
    problem: str | None = None
    operation_type: OperationType | str = _KNOWN_TYPES.get(type_text, str(type_text))
    if not isinstance(operation_type, OperationType):
        problem = f"unknown operation type {type_text!r}"
    try:
        payload = decode_payload(payload_text, payload_blob)
    except (ValueError, zlib.error) as exc:  # written by another version, or damaged
        payload = {}
        problem = problem or f"the payload cannot be read ({exc})"
    status = _KNOWN_STATUSES.get(status_text)
    if status is None:
        status = OperationStatus.PENDING
        problem = problem or f"unknown status {status_text!r}"
    strategy = None
    if strategy_text:
        try:
            strategy = ConflictResolution(strategy_text)
        except ValueError:
            problem = problem or f"unknown conflict strategy {strategy_text!r}"
    return Operation(
        id=op_id,
        operation_type=operation_type,
        payload=payload,
        status=status,
        priority=priority or 0,
        retry_count=retry_count or 0,
        error_message=error_message,
        created_at=parse_timestamp(created_at),
        updated_at=parse_timestamp(updated_at),
        idempotency_key=idempotency_key,
        max_attempts=max_attempts,
        # Only a pending operation has a next try: one that failed for good shows none.
        next_attempt_at=from_epoch(next_attempt_at) if status is _PENDING else None,
        expires_at=from_epoch(expires_at),
        depends_on=depends_on,
        dedup_key=dedup_key,
        conflict_strategy=strategy,
        resource_key=resource_key,
        lease_owner=lease_owner,
        lease_expires_at=from_epoch(lease_expires_at),
        problem=problem,
    )


def row_to_summary(row: Sequence[Any], depends_on: tuple[int, ...] = ()) -> OperationSummary:
    """An ``OperationSummary`` from a row of ``SUMMARY_COLUMNS``."""
    (op_id, type_text, head, status_text, created_at, updated_at, retry_count,
     error_message, priority, idempotency_key, max_attempts, next_attempt_at, expires_at,
     dedup_key, strategy_text, resource_key, lease_owner, lease_expires_at, blob_head,
     _, size) = row  # fmt: skip
    problem: str | None = None
    operation_type: OperationType | str = _KNOWN_TYPES.get(type_text, str(type_text))
    if not isinstance(operation_type, OperationType):
        problem = f"unknown operation type {type_text!r}"
    try:
        head, size, complete = _payload_head(head, blob_head, size)
    except (ValueError, zlib.error) as exc:
        head, size, complete = "{}", 0, True
        problem = problem or f"the payload cannot be read ({exc})"
    status = _KNOWN_STATUSES.get(status_text)
    if status is None:
        status = OperationStatus.PENDING
        problem = problem or f"unknown status {status_text!r}"
    strategy = None
    if strategy_text:
        try:
            strategy = ConflictResolution(strategy_text)
        except ValueError:
            problem = problem or f"unknown conflict strategy {strategy_text!r}"
    return OperationSummary(
        id=op_id,
        operation_type=operation_type,
        status=status,
        priority=priority or 0,
        retry_count=retry_count or 0,
        error_message=error_message,
        created_at=parse_timestamp(created_at),
        updated_at=parse_timestamp(updated_at),
        idempotency_key=idempotency_key,
        max_attempts=max_attempts,
        next_attempt_at=from_epoch(next_attempt_at),
        expires_at=from_epoch(expires_at),
        depends_on=depends_on,
        dedup_key=dedup_key,
        conflict_strategy=strategy,
        resource_key=resource_key,
        lease_owner=lease_owner,
        lease_expires_at=from_epoch(lease_expires_at),
        problem=problem,
        payload_size=size,
        payload_head=head,
        payload_complete=complete,
    )


def _payload_head(
    head: str | bytes | None, blob_head: bytes | None, size: int | None
) -> tuple[str, int, bool]:
    """(start of the JSON text, its whole size in bytes, whether the start is all of it)."""
    if blob_head is not None:
        stub = json.loads(head) if isinstance(head, str | bytes) else None
        if not isinstance(stub, dict) or COMPRESSED_MARKER not in stub:
            raise ValueError("the compressed payload has no size")
        size = int(stub.get("bytes", 0))
        raw = zlib.decompressobj().decompress(blob_head, PAYLOAD_HEAD_CHARS * 4)
        text = codecs.getincrementaldecoder("utf-8")().decode(raw, final=False)
        return text, size, len(raw) >= size
    if head is None:
        raise ValueError("the payload is missing")
    if isinstance(head, bytes):  # another program stored it as a BLOB
        head = codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    size = len(head.encode("utf-8")) if size is None else int(size)
    complete = len(head.encode("utf-8")) >= size
    # What can be checked without reading the rest: a whole (small) payload is decoded, the
    # start of a large one must open an object.
    if complete:
        decode_payload(head, None)
    elif not head.lstrip().startswith("{"):
        raise ValueError("the payload is not a JSON object")
    return head, size, complete


def _loads(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def row_to_attempt(row: sqlite3.Row) -> Attempt:
    details = _loads(row["details"])
    return Attempt(
        operation_id=row["operation_id"],
        attempt=row["attempt"],
        at=parse_timestamp(row["at"]),
        outcome=row["outcome"],
        error=row["error"],
        details=details if isinstance(details, dict) else {},
    )


def row_to_conflict(row: sqlite3.Row) -> ConflictRecord:
    return ConflictRecord(
        operation_id=row["operation_id"],
        local=_loads(row["local"]),
        remote=_loads(row["remote"]),
        base=_loads(row["base"]),
        detected_at=parse_timestamp(row["detected_at"]),
        remote_version=row["remote_version"],
        message=row["message"],
    )
