"""MLflow's tracking API served locally: the record of runs and experiments, and id mapping.

``LocalTracking`` answers the REST calls of an unchanged MLflow client from the local record
and queues what the tracking server must learn; ``RemoteIds`` is what the MLflow handlers
use at delivery to turn local ids into the server's, and to record the server's answers.
"""

from peft_studio_offline.core.mlflow_local._ids import LOCAL_RUN_TAG, NotDeliveredError, RemoteIds
from peft_studio_offline.core.mlflow_local._store import (
    DEFAULT_EXPERIMENT_ID,
    LocalStore,
    store_path_for,
)
from peft_studio_offline.core.mlflow_local._tracking import (
    ENDPOINTS,
    READ_ENDPOINTS,
    LocalTracking,
    TrackingError,
)

__all__ = [
    "DEFAULT_EXPERIMENT_ID",
    "ENDPOINTS",
    "LOCAL_RUN_TAG",
    "READ_ENDPOINTS",
    "LocalStore",
    "LocalTracking",
    "NotDeliveredError",
    "RemoteIds",
    "TrackingError",
    "store_path_for",
]
