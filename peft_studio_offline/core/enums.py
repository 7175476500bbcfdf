"""The string enums of the public contract."""

from __future__ import annotations

from enum import StrEnum

from peft_studio_offline.core.errors import InvalidOperationError


class OperationType(StrEnum):
    """What kind of network work an operation is."""

    API_CALL = "api_call"
    FILE_UPLOAD = "file_upload"
    METRIC_LOG = "metric_log"
    MODEL_PUSH = "model_push"
    EXPERIMENT_SYNC = "experiment_sync"


class OperationStatus(StrEnum):
    """Where an operation is in its life."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"
    CONFLICT = "conflict"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    # Written into a transfer bundle on an air-gapped machine: it waits for the receipt
    # from the connected side, and is neither sent from here nor exported again unasked.
    EXPORTED = "exported"

    @property
    def is_final(self) -> bool:
        """True when nothing will happen to the operation any more without the user."""
        return self in _FINAL_STATUSES


_FINAL_STATUSES = frozenset(
    {
        OperationStatus.COMPLETED,
        OperationStatus.FAILED,
        OperationStatus.CANCELLED,
        OperationStatus.EXPIRED,
    }
)


class ConflictResolution(StrEnum):
    """How a conflict between the local operation and the remote state is settled."""

    LOCAL_WINS = "local_wins"
    REMOTE_WINS = "remote_wins"
    MERGE = "merge"
    MANUAL = "manual"


class NetworkStatus(StrEnum):
    """What the network monitor last concluded."""

    ONLINE = "online"
    OFFLINE = "offline"
    LIMITED = "limited"  # answered, but not by our service: a captive portal or proxy
    UNKNOWN = "unknown"


class OverflowPolicy(StrEnum):
    """What a full queue does with a new operation."""

    REJECT = "reject"
    DROP_OLDEST = "drop_oldest"


def parse_operation_type(value: object) -> OperationType:
    """Accept the enum or its string value; anything else is a ``ValueError``."""
    try:
        found = _TYPES_BY_VALUE.get(value) if isinstance(value, str) else None
    except TypeError:  # a str subclass that cannot be hashed
        found = None
    if found is not None:
        return found
    known = ", ".join(t.value for t in OperationType)
    raise InvalidOperationError(f"Unknown operation type {value!r}; expected one of: {known}.")


_TYPES_BY_VALUE: dict[str, OperationType] = {t.value: t for t in OperationType}


def parse_conflict_resolution(value: object) -> ConflictResolution:
    """Accept the enum or its string value; anything else is a ``ValueError``."""
    if isinstance(value, ConflictResolution):
        return value
    if isinstance(value, str):
        try:
            return ConflictResolution(value)
        except ValueError:
            pass
    known = ", ".join(s.value for s in ConflictResolution)
    raise InvalidOperationError(f"Unknown conflict strategy {value!r}; expected one of: {known}.")
