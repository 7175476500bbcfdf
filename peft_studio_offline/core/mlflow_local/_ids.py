"""Local ids to the tracking server's, as the MLflow handlers see them at delivery.

An id the local record does not know (a run made on the server directly) is the server's
own and passes unchanged. A local one maps to the server's id once its creation was
delivered; until then the operation waits (its ``depends_on`` normally sees to that).
Mappings never change once made, so they are kept in memory after the first read.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from peft_studio_offline.core.mlflow_local._store import LocalStore, store_path_for

# The tag a run is created with on the server, holding its local id: after a lost answer,
# the run is looked up by it before being created again.
LOCAL_RUN_TAG = "peft_studio_offline.local_run_id"


class NotDeliveredError(Exception):
    """A local run or experiment whose creation has not reached the server yet."""


class RemoteIds:
    """The id map of one queue's local record."""

    def __init__(self, queue_path: Path) -> None:
        self.store = LocalStore(store_path_for(queue_path))
        self._runs: dict[str, str] = {}
        self._experiments: dict[str, str] = {}

    async def run(self, run_id: str) -> str:
        """The server's id for ``run_id``; ``NotDeliveredError`` while it has none."""
        known = self._runs.get(run_id)
        if known is not None:
            return known
        local, remote = await asyncio.to_thread(self.store.remote_run, run_id)
        if not local:
            return run_id
        if remote is None:
            raise NotDeliveredError(f"Run {run_id} is not created on the MLflow server yet.")
        self._runs[run_id] = remote
        return remote

    async def recorded_run(self, run_id: str) -> str | None:
        """The server's id when its mapping is recorded, else None (never waits)."""
        known = self._runs.get(run_id)
        if known is None:
            _, known = await asyncio.to_thread(self.store.remote_run, run_id)
            if known is not None:
                self._runs[run_id] = known
        return known

    async def experiment(self, experiment_id: str) -> str:
        known = self._experiments.get(experiment_id)
        if known is not None:
            return known
        local, remote = await asyncio.to_thread(self.store.remote_experiment, experiment_id)
        if not local:
            return experiment_id
        if remote is None:
            raise NotDeliveredError(
                f"Experiment {experiment_id} is not created on the MLflow server yet."
            )
        self._experiments[experiment_id] = remote
        return remote

    async def latest_points(self, run_id: str) -> dict[tuple[str, int], tuple[str, int]]:
        """What was logged last for each (key, step) of a run made here (empty otherwise)."""
        points: dict[tuple[str, int], tuple[str, int]] = await asyncio.to_thread(
            self.store.latest_points, run_id
        )
        return points

    async def map_run(self, run_id: str, remote_id: str, experiment_id: str) -> None:
        await asyncio.to_thread(self.store.map_run, run_id, remote_id, experiment_id)
        self._runs[run_id] = remote_id

    async def map_experiment(self, experiment_id: str, remote_id: str) -> None:
        await asyncio.to_thread(self.store.map_experiment, experiment_id, remote_id)
        self._experiments[experiment_id] = remote_id

    def close(self) -> None:
        self.store.close()
