"""The built-in operation handlers and the helpers enqueuers share with them.

``builtin_handlers()`` gives a fresh handler for each type this package can send; every
new ``SyncEngine`` starts from it. The MLflow types come from the ``mlflow`` subpackage,
which exposes ``builtin_handlers() -> Mapping[OperationType | str, OperationHandler]``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from peft_studio_offline.core.enums import OperationType, parse_operation_type
from peft_studio_offline.core.handlers.base import OperationHandler, as_handler
from peft_studio_offline.core.handlers.http import ApiCallHandler
from peft_studio_offline.core.handlers.httputil import (
    IDEMPOTENCY_HEADER,
    classify_response,
    parse_retry_after,
    server_message,
    transport_failure,
)
from peft_studio_offline.core.handlers.huggingface import HubPushHandler, prepare_hub_push
from peft_studio_offline.core.handlers.model_push import ModelPushByTarget, is_hub_push
from peft_studio_offline.core.handlers.upload import (
    FileUploadHandler,
    check_upload_path,
    file_facts,
    prepare_upload_payload,
)
from peft_studio_offline.core.settings import Settings

__all__ = [
    "IDEMPOTENCY_HEADER",
    "ApiCallHandler",
    "FileUploadHandler",
    "builtin_handlers",
    "check_upload_path",
    "classify_response",
    "file_facts",
    "parse_retry_after",
    "prepare_payload",
    "resource_key_for",
    "server_message",
    "transport_failure",
]


def builtin_handlers() -> dict[OperationType, OperationHandler]:
    """A new handler for every operation type the package knows how to send."""
    # Imported here: the MLflow handlers import this package's helpers.
    from peft_studio_offline.core.handlers.mlflow import builtin_handlers as mlflow_handlers

    handlers: dict[OperationType, OperationHandler] = {
        OperationType.API_CALL: ApiCallHandler(),
        OperationType.FILE_UPLOAD: FileUploadHandler(),
    }
    for kind, handler in mlflow_handlers().items():
        handlers[parse_operation_type(kind)] = as_handler(handler)
    handlers[OperationType.MODEL_PUSH] = ModelPushByTarget(
        handlers.get(OperationType.MODEL_PUSH), HubPushHandler()
    )
    return handlers


def prepare_payload(
    operation_type: OperationType | str,
    payload: Mapping[str, Any],
    *,
    settings: Settings | None = None,
    upload_roots: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Complete a payload before it is queued (``core.submit``, the one submit path, calls
    this after its own checks; every front-end goes through that path).

    For a file upload: the path made absolute and checked against the allowed upload
    folders, and its ``sha256``/``size`` recorded, so that a file changed later is refused
    rather than sent. It reads the whole file: call it off the event loop for large files.
    A push to the Hugging Face Hub: its defaults filled in, the folder listed.
    MLflow types: see ``prepare_mlflow_payload`` (metric timestamps fixed now). Others are
    returned as they are. Raises ``InvalidOperationError`` (a ``ValueError``).
    """
    kind = parse_operation_type(operation_type)
    if kind is OperationType.FILE_UPLOAD:
        if upload_roots is None:
            upload_roots = (settings or Settings.load()).sync.upload_roots
        return prepare_upload_payload(payload, upload_roots)
    if kind is OperationType.MODEL_PUSH and is_hub_push(payload):
        if upload_roots is None:
            upload_roots = (settings or Settings.load()).sync.upload_roots
        return prepare_hub_push(payload, upload_roots)
    if kind in (OperationType.METRIC_LOG, OperationType.MODEL_PUSH, OperationType.EXPERIMENT_SYNC):
        # Metric timestamps and steps fixed now, so that a resend is the same data.
        from peft_studio_offline.core.handlers.mlflow import prepare_mlflow_payload

        return prepare_mlflow_payload(kind, payload)
    return dict(payload)


def resource_key_for(operation_type: OperationType | str, payload: Mapping[str, Any]) -> str | None:
    """The ``resource_key`` enqueue option a built-in handler suggests for a payload.

    Operations with the same key are sent in queue order; pass it to ``enqueue`` to have
    the queue enforce that order across syncs and retries.
    """
    handler = builtin_handlers().get(parse_operation_type(operation_type))
    suggest = getattr(handler, "resource_key", None)
    if suggest is None:
        return None
    key = suggest(payload)
    return key if isinstance(key, str) else None
