"""Immutable records of queued operations, their attempts and their conflicts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus, OperationType
from peft_studio_offline.core.errors import InvalidOperationError

# A priority is a signed 32-bit integer, the same bounds everywhere it is accepted.
PRIORITY_MIN = -(2**31)
PRIORITY_MAX = 2**31 - 1
PRIORITY_BOUNDS = f"between {PRIORITY_MIN} and {PRIORITY_MAX}"


def attempts_made(status: OperationStatus, retry_count: int) -> int:
    """Attempts made so far, as the history counts them: ``retry_count`` counts the failed
    ones; the attempt that went through (or met a conflict) is one more."""
    ended = status in (OperationStatus.COMPLETED, OperationStatus.CONFLICT)
    return retry_count + (1 if ended else 0)


def check_priority(priority: object) -> int:
    """The priority as given, or ``InvalidOperationError`` naming the bounds."""
    if isinstance(priority, bool) or not isinstance(priority, int):
        raise InvalidOperationError(
            f"The priority must be an integer {PRIORITY_BOUNDS}, not {priority!r}."
        )
    if not PRIORITY_MIN <= priority <= PRIORITY_MAX:
        raise InvalidOperationError(f"The priority must be {PRIORITY_BOUNDS}, not {priority}.")
    return priority


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


@dataclass(frozen=True, slots=True)
class Operation:
    """One queued operation as it is stored.

    ``operation_type`` is a plain ``str`` only for a row this version cannot read (written by
    another version); ``problem`` then says what is wrong, and the sync engine skips it.
    """

    id: int
    operation_type: OperationType | str
    payload: dict[str, Any]
    status: OperationStatus
    priority: int
    retry_count: int
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    idempotency_key: str
    max_attempts: int
    next_attempt_at: datetime | None = None
    expires_at: datetime | None = None
    depends_on: tuple[int, ...] = ()
    dedup_key: str | None = None
    conflict_strategy: ConflictResolution | None = None
    resource_key: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    problem: str | None = None

    @property
    def readable(self) -> bool:
        return self.problem is None

    @property
    def attempts_made(self) -> int:
        return attempts_made(self.status, self.retry_count)

    @property
    def attempts_left(self) -> int:
        return max(0, self.max_attempts - self.retry_count)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the HTTP API's and the CLI's operation object)."""
        return {
            "id": self.id,
            "operation_type": str(self.operation_type),
            "payload": self.payload,
            "status": self.status.value,
            "priority": self.priority,
            "retry_count": self.retry_count,
            "max_attempts": self.max_attempts,
            "error_message": self.error_message,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "next_attempt_at": iso(self.next_attempt_at),
            "expires_at": iso(self.expires_at),
            "idempotency_key": self.idempotency_key,
            "depends_on": list(self.depends_on),
            "dedup_key": self.dedup_key,
            "conflict_strategy": None
            if self.conflict_strategy is None
            else self.conflict_strategy.value,
            "resource_key": self.resource_key,
            "problem": self.problem,
        }


@dataclass(frozen=True, slots=True)
class HistoryEvent:
    """A line for an operation's history written with the change it explains (a conflict
    resolved, a local change dropped), in the same transaction."""

    outcome: str
    message: str | None = None
    details: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Attempt:
    """One entry of an operation's history: an attempt, or an event such as a resolution."""

    operation_id: int
    attempt: int
    at: datetime
    outcome: str
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "attempt": self.attempt,
            "at": iso(self.at),
            "outcome": self.outcome,
            "error": self.error,
            "details": self.details,
        }


@dataclass(frozen=True, slots=True)
class ConflictRecord:
    """Both sides of a conflict, kept with the operation until the user decides."""

    operation_id: int
    local: Any
    remote: Any
    base: Any
    detected_at: datetime
    remote_version: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "operation_id": self.operation_id,
            "local": self.local,
            "remote": self.remote,
            "base": self.base,
            "detected_at": iso(self.detected_at),
            "remote_version": self.remote_version,
            "message": self.message,
        }


# A list item carries its payload whole up to this size (the usual metric or API call);
# beyond it, only a preview and the size.
LIST_PAYLOAD_BYTES = 4096


@dataclass(frozen=True, slots=True)
class OperationSummary:
    """An operation as lists and tables show it: everything but the payload, which is
    represented by its size and the start of its JSON text. Reading one costs the same
    whatever the payload's size."""

    id: int
    operation_type: OperationType | str
    status: OperationStatus
    priority: int
    retry_count: int
    error_message: str | None
    created_at: datetime
    updated_at: datetime
    idempotency_key: str
    max_attempts: int
    next_attempt_at: datetime | None = None
    expires_at: datetime | None = None
    depends_on: tuple[int, ...] = ()
    dedup_key: str | None = None
    conflict_strategy: ConflictResolution | None = None
    resource_key: str | None = None
    lease_owner: str | None = None
    lease_expires_at: datetime | None = None
    problem: str | None = None
    payload_size: int = 0  # bytes of the payload's JSON text
    payload_head: str = ""  # the start of that text, secrets NOT masked
    payload_complete: bool = True  # ``payload_head`` is the whole text

    @property
    def readable(self) -> bool:
        return self.problem is None

    @property
    def attempts_made(self) -> int:
        return attempts_made(self.status, self.retry_count)

    def payload_preview(self, limit: int) -> str:
        """The start of the payload on one line, secrets masked, at most about ``limit``."""
        from peft_studio_offline.core.payload_preview import preview

        try:
            shown = preview(
                self.payload_head,
                limit,
                size=self.payload_size,
                complete=self.payload_complete,
                indent=None,
            )
        except ValueError:
            return ""
        return shown.text

    def description(self) -> str:
        """What the operation is in a few words, masked (``core.describe``)."""
        from peft_studio_offline.core.describe import describe_operation

        return describe_operation(self).text

    def small_payload(self) -> dict[str, Any] | None:
        """The whole payload when it is small (``LIST_PAYLOAD_BYTES``), else None."""
        if not self.payload_complete or self.payload_size > LIST_PAYLOAD_BYTES:
            return None
        import json

        try:
            value = json.loads(self.payload_head)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def to_dict(self, preview_chars: int = 1024) -> dict[str, Any]:
        """A list item of the HTTP API and the CLI: the payload whole only when small, its
        preview and size always. Secrets in ``payload`` are not masked yet."""
        return {
            "id": self.id,
            "operation_type": str(self.operation_type),
            "payload": self.small_payload(),
            "payload_size": self.payload_size,
            "payload_preview": self.payload_preview(preview_chars),
            "payload_truncated": not self.payload_complete
            or self.payload_size > LIST_PAYLOAD_BYTES,
            "description": self.description(),
            "status": self.status.value,
            "priority": self.priority,
            "retry_count": self.retry_count,
            "max_attempts": self.max_attempts,
            "error_message": self.error_message,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "next_attempt_at": iso(self.next_attempt_at),
            "expires_at": iso(self.expires_at),
            "idempotency_key": self.idempotency_key,
            "depends_on": list(self.depends_on),
            "dedup_key": self.dedup_key,
            "conflict_strategy": None
            if self.conflict_strategy is None
            else self.conflict_strategy.value,
            "resource_key": self.resource_key,
            "problem": self.problem,
        }
