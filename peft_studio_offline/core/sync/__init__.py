"""Draining the queue: the sync engine, its handler seam and conflict handling."""

from peft_studio_offline.core.handlers.base import (
    FunctionHandler,
    HandlerContext,
    OperationHandler,
    Outcome,
    OutcomeKind,
    as_handler,
    default_resend_payload,
)
from peft_studio_offline.core.sync.engine import NetworkMonitorLike, SyncEngine
from peft_studio_offline.core.sync.merge import MergeResult, three_way_merge
from peft_studio_offline.core.sync.progress import SyncEvent

__all__ = [
    "FunctionHandler",
    "HandlerContext",
    "MergeResult",
    "NetworkMonitorLike",
    "OperationHandler",
    "Outcome",
    "OutcomeKind",
    "SyncEngine",
    "SyncEvent",
    "as_handler",
    "default_resend_payload",
    "three_way_merge",
]
