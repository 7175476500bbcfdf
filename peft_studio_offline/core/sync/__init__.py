"""Draining the queue: the sync engine, its handler seam and conflict handling."""

from peft_studio_offline.core.sync.handler import (
    FunctionHandler,
    HandlerContext,
    OperationHandler,
    Outcome,
    OutcomeKind,
    as_handler,
    default_resend_payload,
)

__all__ = [
    "FunctionHandler",
    "HandlerContext",
    "OperationHandler",
    "Outcome",
    "OutcomeKind",
    "as_handler",
    "default_resend_payload",
]
