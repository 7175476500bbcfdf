"""The local record of MLflow runs and experiments, their staged artifacts, and id mapping.

The local endpoint (``core.mlflow_endpoint``) writes it as an unchanged MLflow client logs;
``RemoteIds`` is what the MLflow handlers use at delivery to turn local ids into the
server's, and to record the server's answers.
"""

from peft_studio_offline.core.mlflow_local._artifacts import (
    ArtifactPath,
    ArtifactStaging,
    parse_artifact_path,
    staging_root_for,
)
from peft_studio_offline.core.mlflow_local._ids import LOCAL_RUN_TAG, NotDeliveredError, RemoteIds
from peft_studio_offline.core.mlflow_local._store import (
    DEFAULT_EXPERIMENT_ID,
    ExperimentRecord,
    LocalStore,
    NameTakenError,
    ParamChangedError,
    RunRecord,
    new_id,
    now_ms,
    store_path_for,
)

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "LOCAL_RUN_TAG",
    "ArtifactPath",
    "ArtifactStaging",
    "ExperimentRecord",
    "LocalStore",
    "NameTakenError",
    "NotDeliveredError",
    "ParamChangedError",
    "RemoteIds",
    "RunRecord",
    "new_id",
    "now_ms",
    "parse_artifact_path",
    "staging_root_for",
    "store_path_for",
]
