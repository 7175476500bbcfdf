"""``MODEL_PUSH`` goes where its payload's ``target`` says: MLflow (the default) or the
Hugging Face Hub (``"target": "huggingface"``). One handler per target; this one chooses."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peft_studio_offline.core.handlers.base import HandlerContext, OperationHandler, Outcome
from peft_studio_offline.core.operation import Operation

HUGGINGFACE = "huggingface"


def is_hub_push(payload: Mapping[str, Any]) -> bool:
    return payload.get("target") == HUGGINGFACE


class ModelPushByTarget:
    """Hands each push to the handler of its target."""

    def __init__(self, mlflow: OperationHandler | None, huggingface: OperationHandler) -> None:
        self.mlflow = mlflow
        self.huggingface = huggingface

    def _for(self, payload: Mapping[str, Any]) -> OperationHandler | None:
        return self.huggingface if is_hub_push(payload) else self.mlflow

    def target(self, operation: Operation, context: HandlerContext) -> str | None:
        find = getattr(self._for(operation.payload), "target", None)
        return find(operation, context) if find is not None else None

    def resource_key(self, payload: Mapping[str, Any]) -> str | None:
        suggest = getattr(self._for(payload), "resource_key", None)
        return suggest(payload) if suggest is not None else None

    def bind_queue(self, queue: object) -> None:
        """Pass the engine's queue on to each target's handler that keeps state beside it
        (the MLflow handler's map of runs made through the local endpoint)."""
        for handler in (self.mlflow, self.huggingface):
            bind = getattr(handler, "bind_queue", None)
            if bind is not None:
                bind(queue)

    def release_queue(self) -> None:
        for handler in (self.mlflow, self.huggingface):
            release = getattr(handler, "release_queue", None)
            if release is not None:
                release()

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        handler = self._for(operation.payload)
        if handler is None:
            return Outcome.failed("No handler for MLflow model pushes is installed.")
        return await handler.handle(operation, context)
