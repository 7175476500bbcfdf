"""Queue endpoints: enqueue, list, show, delete, stats, clear, cancel, retry, conflicts."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request

from peft_studio_offline.api.deps import engine_of, operation_json, queue_of, runtime_of
from peft_studio_offline.api.errors import ApiError
from peft_studio_offline.api.schemas import (
    ID_MAX,
    ClearedOut,
    ConflictListOut,
    DeletedOut,
    EnqueuedOut,
    EnqueueRequest,
    OperationDetailOut,
    OperationListOut,
    QueueStatsOut,
    ResolveRequest,
)
from peft_studio_offline.api.uploads import prepare_for_queue
from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.errors import OperationNotFoundError
from peft_studio_offline.core.masking import mask_secrets, payload_secrets
from peft_studio_offline.core.queue import OfflineQueueManager

router = APIRouter(tags=["queue"])

Queue = Annotated[OfflineQueueManager, Depends(queue_of)]
OpId = Annotated[int, Path(ge=1, le=ID_MAX, description="The operation's id.")]


@router.post("/queue", status_code=201, response_model=EnqueuedOut)
async def enqueue(body: EnqueueRequest, request: Request, queue: Queue) -> dict[str, Any]:
    """Add an operation to the offline queue (the spec's body, plus optional queue options)."""
    roots = runtime_of(request).settings.sync.upload_roots
    payload = await prepare_for_queue(body.operation_type, body.payload, roots)
    options: dict[str, Any] = {
        name: value
        for name in ("max_attempts", "ttl", "dedup_key", "resource_key", "conflict_strategy")
        if (value := getattr(body, name)) is not None
    }
    if body.depends_on:
        options["depends_on"] = body.depends_on
    op_id = await queue.enqueue(body.operation_type, payload, body.priority, **options)
    operation = await queue.get_operation(op_id)
    if operation is None:  # deleted in between by another client
        raise OperationNotFoundError(op_id)
    return operation_json(operation)


@router.get("/queue", response_model=OperationListOut)
async def list_queue(
    queue: Queue,
    status: Annotated[
        list[OperationStatus] | None, Query(description="Only these statuses (repeatable).")
    ] = None,
    operation_type: Annotated[
        list[OperationType] | None,
        Query(alias="type", description="Only these operation types (repeatable)."),
    ] = None,
    search: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=2**31)] = 0,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "asc",
) -> dict[str, Any]:
    """A page of operations (all statuses unless filtered), oldest first by default."""
    if search is not None:
        _check_text(search, "search")
    filters: dict[str, Any] = {"status": status, "operation_type": operation_type}
    if search:
        filters["search"] = search
    operations = await queue.list_operations(
        **filters, limit=limit, offset=offset, descending=order == "desc"
    )
    total = await queue.count_operations(**filters)
    end = offset + len(operations)
    return {
        "operations": [operation_json(op) for op in operations],
        "total": total,
        "limit": limit,
        "offset": offset,
        "next_offset": end if end < total and operations else None,
    }


@router.get("/queue/stats", response_model=QueueStatsOut)
async def queue_stats(queue: Queue) -> dict[str, int]:
    """Counts of operations per status, and the total."""
    return await queue.get_queue_stats()


@router.post("/queue/clear-completed", response_model=ClearedOut)
async def clear_completed(
    queue: Queue,
    older_than: Annotated[
        float | None,
        Query(ge=0, le=10 * 365 * 86400, description="Only those finished this many seconds ago."),
    ] = None,
) -> dict[str, int]:
    """Remove completed operations."""
    return {"removed": await queue.clear_completed(older_than)}


@router.get("/queue/{operation_id:int}", response_model=OperationDetailOut)
async def get_operation(operation_id: OpId, queue: Queue) -> dict[str, Any]:
    """One operation, with its history, why it waits, and its conflict if it has one."""
    return await _detail(queue, operation_id)


@router.delete("/queue/{operation_id:int}", response_model=DeletedOut)
async def delete_operation(operation_id: OpId, queue: Queue) -> dict[str, Any]:
    """Delete an operation from the queue."""
    if not await queue.delete_operation(operation_id):
        raise OperationNotFoundError(operation_id)
    return {"id": operation_id, "deleted": True}


@router.post("/queue/{operation_id:int}/cancel", response_model=OperationDetailOut)
async def cancel_operation(operation_id: OpId, queue: Queue) -> dict[str, Any]:
    """Stop an operation that has not been sent; it stays listed as cancelled."""
    await queue.cancel(operation_id)
    return await _detail(queue, operation_id)


@router.post("/queue/{operation_id:int}/retry", response_model=OperationDetailOut)
async def retry_operation(operation_id: OpId, queue: Queue) -> dict[str, Any]:
    """Make a failed, cancelled or waiting operation due now, with its attempts reset."""
    await queue.retry_now(operation_id)
    return await _detail(queue, operation_id)


@router.get("/conflicts", response_model=ConflictListOut)
async def list_conflicts(queue: Queue) -> dict[str, Any]:
    """Operations waiting for the user to settle a conflict, with both sides."""
    out = []
    for operation, record in await queue.list_conflicts():
        item = operation_json(operation)
        item["conflict"] = mask_secrets(record.to_dict(), payload_secrets(operation.payload))
        out.append(item)
    return {"conflicts": out}


@router.post("/conflicts/{operation_id:int}/resolve", response_model=OperationDetailOut)
async def resolve_conflict(
    operation_id: OpId, body: ResolveRequest, request: Request, queue: Queue
) -> dict[str, Any]:
    """Settle a conflict: keep the local side, take the remote one, merge, or give a payload."""
    operation = await queue.get_operation(operation_id)
    if operation is None:
        raise OperationNotFoundError(operation_id)
    if operation.status is not OperationStatus.CONFLICT:
        raise ApiError(
            409, f"Operation {operation_id} is {operation.status.value}, not in conflict."
        )
    await engine_of(request).resolve_conflict(operation_id, body.resolution, body.merged)
    return await _detail(queue, operation_id)


async def _detail(queue: OfflineQueueManager, operation_id: int) -> dict[str, Any]:
    operation = await queue.get_operation(operation_id)
    if operation is None:
        raise OperationNotFoundError(operation_id)
    data = operation_json(operation)
    secrets = payload_secrets(operation.payload)
    data["wait_reason"] = mask_secrets(await queue.wait_reason(operation_id), secrets)
    attempts = await queue.get_attempts(operation_id)
    data["attempts"] = [mask_secrets(a.to_dict(), secrets) for a in attempts]
    record = await queue.get_conflict(operation_id)
    data["conflict"] = None if record is None else mask_secrets(record.to_dict(), secrets)
    return data


def _check_text(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            422, f"The field '{field}' holds text that is not valid Unicode.", field
        ) from None
