"""Request and response bodies of the local HTTP API (they make its OpenAPI document)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt

from peft_studio_offline.core.enums import (
    ConflictResolution,
    NetworkStatus,
    OperationStatus,
    OperationType,
)
from peft_studio_offline.core.operation import PRIORITY_MAX, PRIORITY_MIN

# Ids beyond 2**53 do not survive JSON numbers read as floats; none will ever be that high.
ID_MAX = 2**53

OperationId = Annotated[int, Field(ge=1, le=ID_MAX)]
Key = Annotated[str, Field(min_length=1, max_length=512)]


class _Request(BaseModel):
    # An unknown field is a mistake worth naming, not something to ignore.
    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------------ requests


MAX_PAYLOAD_DEPTH = 32


def _shallow_enough(payload: Any) -> Any:
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_PAYLOAD_DEPTH:
            raise ValueError(f"it is nested deeper than {MAX_PAYLOAD_DEPTH} levels")
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values())
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
    return payload


Payload = Annotated[dict[str, Any], AfterValidator(_shallow_enough)]


class EnqueueRequest(_Request):
    """The spec's body (``operation_type``, ``payload``, ``priority``) plus queue options."""

    operation_type: OperationType
    payload: Payload
    priority: Annotated[StrictInt, Field(ge=PRIORITY_MIN, le=PRIORITY_MAX)] = 0
    max_attempts: Annotated[StrictInt, Field(ge=1, le=1000)] | None = None
    ttl: Annotated[float, Field(gt=0, le=10 * 365 * 86400, allow_inf_nan=False)] | None = Field(
        None, description="Seconds until the operation expires unsent."
    )
    depends_on: Annotated[list[OperationId], Field(max_length=1000)] = Field(
        default_factory=list, description="Ids of operations that must complete first."
    )
    dedup_key: Key | None = None
    resource_key: Key | None = None
    conflict_strategy: ConflictResolution | None = None


class ConflictStrategyRequest(_Request):
    strategy: ConflictResolution


class ResolveRequest(_Request):
    """How to settle a parked conflict: keep local, keep remote, or send a merged value."""

    resolution: Literal["local_wins", "remote_wins", "merge", "keep_local", "keep_remote", "merged"]
    merged: Annotated[Any, AfterValidator(_shallow_enough)] = Field(
        None,
        description="With `merge`: the merged value of the compared data (the conflict's"
        " local/remote/base shape).",
    )


# ----------------------------------------------------------------------- responses


class ErrorOut(BaseModel):
    detail: str = Field(description="One sentence that says what is wrong.")
    field: str | None = Field(None, description="The request field at fault, if one is.")


class OperationOut(BaseModel):
    """One queued operation; secrets in the payload are masked."""

    model_config = ConfigDict(extra="allow")

    id: int
    operation_type: str
    payload: dict[str, Any]
    status: OperationStatus
    priority: int
    retry_count: int
    max_attempts: int
    error_message: str | None
    created_at: str | None
    updated_at: str | None
    next_attempt_at: str | None = None
    expires_at: str | None = None
    idempotency_key: str | None = None
    depends_on: list[int] = Field(default_factory=list)
    dedup_key: str | None = None
    conflict_strategy: ConflictResolution | None = None
    resource_key: str | None = None
    problem: str | None = None


class AttemptOut(BaseModel):
    attempt: int
    at: str | None
    outcome: str
    error: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)


class ConflictOut(BaseModel):
    operation_id: int
    local: Any = None
    remote: Any = None
    base: Any = None
    detected_at: str | None = None
    remote_version: str | None = None
    message: str | None = None


class OperationItemOut(OperationOut):
    """An operation in a list: its payload whole only when small, always its size and the
    start of it (masked, on one line)."""

    payload: dict[str, Any] | None = Field(  # type: ignore[assignment]
        description="The whole payload when its JSON text is at most 4 KiB, else null."
    )
    payload_size: int = Field(description="Bytes of the payload's JSON text.")
    payload_preview: str = Field(
        description="The start of the payload as JSON on one line, at most about 1 KiB;"
        " cut parts are shown as '…'."
    )
    payload_truncated: bool = Field(description="`payload` is null: the preview is not all.")
    description: str = Field(
        default="",
        description="What the operation is in a few words (the run, the endpoint, the file),"
        " secrets masked: the window's 'What' column.",
    )


class OperationDetailOut(OperationOut):
    payload_size: int | None = Field(None, description="Bytes of the payload's JSON text.")
    wait_reason: str | None = None
    attempts: list[AttemptOut] = Field(default_factory=list)
    conflict: ConflictOut | None = None


class EnqueuedOut(OperationItemOut):
    """``POST /queue``: the new operation, ``id`` first, as a list shows it."""


class OperationListOut(BaseModel):
    operations: list[OperationItemOut]
    total: int = Field(description="How many operations match the filters.")
    limit: int
    offset: int
    next_offset: int | None = Field(description="The offset of the next page, or null at the end.")


class QueueStatsOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    pending: int
    in_progress: int
    completed: int
    failed: int
    conflict: int
    cancelled: int
    total: int


class ClearedOut(BaseModel):
    removed: int


class DeletedOut(BaseModel):
    id: int
    deleted: bool


class NetworkStatusOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    status: NetworkStatus
    is_online: bool
    last_check: str | None = None
    check_interval: float | None = None


class SyncErrorOut(BaseModel):
    id: int
    error: str


class SyncResultOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    total: int
    completed: int
    failed: int
    conflicts: int
    errors: list[SyncErrorOut]


class SyncStatusOut(BaseModel):
    model_config = ConfigDict(extra="allow")


class ConflictListOut(BaseModel):
    conflicts: list[OperationDetailOut]


class StrategyOut(BaseModel):
    strategy: ConflictResolution


class MessageOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    message: str
