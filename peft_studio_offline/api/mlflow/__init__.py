"""MLflow's tracking REST API under ``/mlflow``, for unchanged MLflow training scripts."""

from peft_studio_offline.api.mlflow.routes import ARTIFACT_PREFIXES, MLFLOW_PREFIX, router

__all__ = ["ARTIFACT_PREFIXES", "MLFLOW_PREFIX", "router"]
