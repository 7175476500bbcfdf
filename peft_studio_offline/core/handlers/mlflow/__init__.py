"""Built-in handlers that deliver to an MLflow tracking server over its REST API.

``METRIC_LOG`` (``runs/log-batch``, coalesced per run), ``MODEL_PUSH`` (adapter files through
the artifact proxy, then one model version) and ``EXPERIMENT_SYNC`` (run tags and the note,
with conflict detection against ``base``). No ``mlflow`` package is needed at run time.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from peft_studio_offline.core.enums import OperationType, parse_operation_type
from peft_studio_offline.core.handlers.base import OperationHandler
from peft_studio_offline.core.handlers.mlflow._batching import MLFLOW_LIMITS, BatchLimits
from peft_studio_offline.core.handlers.mlflow._client import LOOP_HEADER, MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._errors import (
    MlflowConfigurationError,
    MlflowError,
    MlflowRequestError,
    MlflowServerError,
    MlflowUnreachableError,
)
from peft_studio_offline.core.handlers.mlflow._experiment_sync import ExperimentSyncHandler
from peft_studio_offline.core.handlers.mlflow._metric_log import MetricLogHandler
from peft_studio_offline.core.handlers.mlflow._model_push import IDEMPOTENCY_TAG, ModelPushHandler
from peft_studio_offline.core.handlers.mlflow._payloads import (
    NOTE_TAG,
    prepare_experiment_sync,
    prepare_metric_log,
    prepare_model_push,
)

__all__ = [
    "IDEMPOTENCY_TAG",
    "LOOP_HEADER",
    "MLFLOW_LIMITS",
    "MLFLOW_TYPES",
    "NOTE_TAG",
    "BatchLimits",
    "ExperimentSyncHandler",
    "MetricLogHandler",
    "MlflowConfigurationError",
    "MlflowError",
    "MlflowRequestError",
    "MlflowRestClient",
    "MlflowServerError",
    "MlflowUnreachableError",
    "ModelPushHandler",
    "builtin_handlers",
    "prepare_experiment_sync",
    "prepare_metric_log",
    "prepare_mlflow_payload",
    "prepare_model_push",
]

MLFLOW_TYPES = frozenset(
    {OperationType.METRIC_LOG, OperationType.MODEL_PUSH, OperationType.EXPERIMENT_SYNC}
)


def builtin_handlers(tracking_uri: str | None = None) -> dict[OperationType, OperationHandler]:
    """A new handler for each MLflow type; the target comes from the engine's settings."""
    return {
        OperationType.METRIC_LOG: MetricLogHandler(tracking_uri=tracking_uri),
        OperationType.MODEL_PUSH: ModelPushHandler(tracking_uri=tracking_uri),
        OperationType.EXPERIMENT_SYNC: ExperimentSyncHandler(tracking_uri=tracking_uri),
    }


def prepare_mlflow_payload(
    operation_type: OperationType | str,
    payload: Mapping[str, Any],
    *,
    now_ms: int | None = None,
    base_dir: Path | None = None,
) -> dict[str, Any]:
    """Check and complete an MLflow payload before it is queued.

    ``metric_log``: every point gets its timestamp (now, in ms) and step, so a resend is the
    same data; ``model_push``: the folder made absolute, the artifact path filled in;
    ``experiment_sync``: checked. Raises ``InvalidOperationError`` (a ``ValueError``).
    """
    kind = parse_operation_type(operation_type)
    if kind is OperationType.METRIC_LOG:
        return prepare_metric_log(payload, now_ms)
    if kind is OperationType.MODEL_PUSH:
        return prepare_model_push(payload, base_dir)
    if kind is OperationType.EXPERIMENT_SYNC:
        return prepare_experiment_sync(payload)
    return dict(payload)
