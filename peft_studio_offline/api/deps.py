"""What routes get from the app: the runtime and its services, or a clear 503."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import Request

from peft_studio_offline.api.errors import ApiError
from peft_studio_offline.core.masking import masked_operation
from peft_studio_offline.core.operation import Operation, OperationSummary
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.runtime import Runtime

if TYPE_CHECKING:
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.sync.engine import SyncEngine


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def queue_of(request: Request) -> OfflineQueueManager:
    return runtime_of(request).queue


async def queue_dependency(request: Request) -> OfflineQueueManager:
    """``queue_of`` for ``Depends``: a coroutine, so FastAPI does not hop to a thread for it."""
    return runtime_of(request).queue


def monitor_of(request: Request) -> NetworkMonitor:
    try:
        return runtime_of(request).monitor
    except ImportError as exc:
        raise ApiError(503, "Network monitoring is not available in this installation.") from exc


def engine_of(request: Request) -> SyncEngine:
    try:
        return runtime_of(request).engine
    except ImportError as exc:
        raise ApiError(503, "Synchronisation is not available in this installation.") from exc


def operation_json(operation: Operation) -> dict[str, Any]:
    """The operation as the API shows it: the contract's fields, secrets masked."""
    return masked_operation(operation.to_dict())


def summary_json(summary: OperationSummary) -> dict[str, Any]:
    """An operation as a list shows it (``OperationItemOut``), secrets masked."""
    return masked_operation(summary.to_dict())
