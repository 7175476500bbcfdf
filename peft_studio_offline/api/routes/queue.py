"""Queue endpoints: enqueue, list, show, delete, stats, clear, cancel, retry, conflicts."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request, Response

from peft_studio_offline.api.deps import (
    engine_of,
    queue_dependency,
    runtime_of,
    summary_json,
)
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
from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.errors import OperationNotFoundError
from peft_studio_offline.core.masking import mask_secrets, payload_secrets
from peft_studio_offline.core.operation import OperationSummary
from peft_studio_offline.core.queue import OfflineQueueManager

router = APIRouter(tags=["queue"])

Queue = Annotated[OfflineQueueManager, Depends(queue_dependency)]
OpId = Annotated[int, Path(ge=1, le=ID_MAX, description="The operation's id.")]


@router.post("/queue", status_code=201, response_model=EnqueuedOut)
async def enqueue(body: EnqueueRequest, request: Request, queue: Queue) -> dict[str, Any]:
    """Add an operation to the offline queue (the spec's body, plus optional queue options)."""
    options: dict[str, Any] = {
        name: value
        for name in ("max_attempts", "ttl", "dedup_key", "resource_key", "conflict_strategy")
        if (value := getattr(body, name)) is not None
    }
    if body.depends_on:
        options["depends_on"] = body.depends_on
    # The core's one submit path: per-type checks, the upload folders, then the queue.
    op_id = await runtime_of(request).submit(
        body.operation_type, body.payload, body.priority, over_api=True, **options
    )
    summary = await queue.get_summary(op_id)
    if summary is None:  # deleted in between by another client
        raise OperationNotFoundError(op_id)
    return summary_json(summary)


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
    """A page of operations (all statuses unless filtered), oldest first by default.

    Each item carries its payload whole only when it is small; always its size and a
    preview. ``GET /queue/{id}`` gives the whole payload.
    """
    if search is not None:
        _check_text(search, "search")
    filters: dict[str, Any] = {"status": status, "operation_type": operation_type}
    if search:
        filters["search"] = search
    operations = await queue.list_summaries(
        **filters, limit=limit, offset=offset, descending=order == "desc"
    )
    total = await queue.count_operations(**filters)
    end = offset + len(operations)
    return {
        "operations": await _items(operations),
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
async def get_operation(operation_id: OpId, request: Request, queue: Queue) -> Response:
    """One operation with its whole payload, its history, why it waits, and its conflict."""
    return await _detail(request, queue, operation_id)


@router.delete("/queue/{operation_id:int}", response_model=DeletedOut)
async def delete_operation(operation_id: OpId, queue: Queue) -> dict[str, Any]:
    """Delete an operation from the queue."""
    if not await queue.delete_operation(operation_id):
        raise OperationNotFoundError(operation_id)
    return {"id": operation_id, "deleted": True}


@router.post("/queue/{operation_id:int}/cancel", response_model=OperationDetailOut)
async def cancel_operation(operation_id: OpId, request: Request, queue: Queue) -> Response:
    """Stop an operation that has not been sent; it stays listed as cancelled."""
    await queue.cancel(operation_id)
    return await _detail(request, queue, operation_id)


@router.post("/queue/{operation_id:int}/retry", response_model=OperationDetailOut)
async def retry_operation(operation_id: OpId, request: Request, queue: Queue) -> Response:
    """Make a failed, cancelled or waiting operation due now, with its attempts reset."""
    await queue.retry_now(operation_id)
    return await _detail(request, queue, operation_id)


@router.get("/conflicts", response_model=ConflictListOut)
async def list_conflicts(queue: Queue) -> dict[str, Any]:
    """Operations waiting for the user to settle a conflict, with both sides."""
    out = []
    for operation, record in await queue.list_conflicts():
        item = summary_json(operation)
        item["conflict"] = mask_secrets(record.to_dict(), payload_secrets(record.local))
        out.append(item)
    return {"conflicts": out}


@router.post("/conflicts/{operation_id:int}/resolve", response_model=OperationDetailOut)
async def resolve_conflict(
    operation_id: OpId, body: ResolveRequest, request: Request, queue: Queue
) -> Response:
    """Settle a conflict: keep the local side, take the remote one, merge, or give a payload."""
    operation = await queue.get_summary(operation_id)
    if operation is None:
        raise OperationNotFoundError(operation_id)
    if operation.status is not OperationStatus.CONFLICT:
        raise ApiError(
            409, f"Operation {operation_id} is {operation.status.value}, not in conflict."
        )
    await engine_of(request).resolve_conflict(operation_id, body.resolution, body.merged)
    return await _detail(request, queue, operation_id)


async def _items(summaries: list[OperationSummary]) -> list[dict[str, Any]]:
    """List items; their previews are made on a worker thread past a few (up to ~0.5 ms
    each, a page of 1,000 would hold the event loop, the window's when it serves the API)."""
    if len(summaries) <= 20:
        return [summary_json(op) for op in summaries]
    return await asyncio.to_thread(lambda: [summary_json(op) for op in summaries])


async def _detail(request: Request, queue: OfflineQueueManager, operation_id: int) -> Response:
    """The operation with its whole payload, as JSON made on a worker thread.

    A payload can be tens of megabytes: decoding, masking and encoding it here would hold
    the event loop (the window's, when the window serves the API) for seconds. The answer
    goes out as made, not through the response model, which would walk it once more.
    """
    summary = await queue.get_summary(operation_id)
    text = await queue.get_payload_text(operation_id)
    if summary is None or text is None:
        raise OperationNotFoundError(operation_id)
    data = summary_json(summary)
    for key in ("payload_preview", "payload_truncated"):
        del data[key]
    data["wait_reason"] = await _wait_reason(request, queue, operation_id)
    data["attempts"] = [a.to_dict() for a in await queue.get_attempts(operation_id)]
    record = await queue.get_conflict(operation_id)
    data["conflict"] = None if record is None else record.to_dict()
    body = await asyncio.to_thread(_with_payload, data, text)
    return Response(body, media_type="application/json")


def _with_payload(data: dict[str, Any], text: str) -> bytes:
    """The answer with the payload, every shown string masked with the payload's own
    secrets too (an echoing server can put them into an error)."""
    try:
        # Not orjson: it reads an integer beyond 64 bits as a float, changing the value.
        payload = json.loads(text)
    except ValueError:  # written by another version, or damaged: ``problem`` says so
        payload = {}
    secrets = payload_secrets(payload)
    for key in ("wait_reason", "attempts", "conflict", "error_message"):
        data[key] = mask_secrets(data[key], secrets)
    data["payload"] = mask_secrets(payload, secrets) if isinstance(payload, dict) else {}
    try:
        return orjson.dumps(data)
    except TypeError:
        return json.dumps(data, ensure_ascii=False).encode()


def _check_text(value: str, field: str) -> None:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ApiError(
            422, f"The field '{field}' holds text that is not valid Unicode.", field
        ) from None


async def _wait_reason(
    request: Request, queue: OfflineQueueManager, operation_id: int
) -> str | None:
    """Why it waits, with what the app's engine knows (the network, paused hosts, targets)."""
    try:
        engine = engine_of(request)
    except ApiError:  # no sync in this installation: what the queue alone knows
        return await queue.wait_reason(operation_id)
    return await engine.wait_reason(operation_id)
