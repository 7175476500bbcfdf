"""MLflow's tracking calls answered from the local record, with what must reach the server queued.

``LocalTracking.call(endpoint, request)`` takes the REST endpoint's name
(``runs/log-metric``) and its request (the JSON body, or the query of a GET) and answers
MLflow's response shape, or raises ``TrackingError`` with MLflow's error code. Runs and
experiments get local ids at once; everything the server must learn goes through the one
submit path as ``experiment_sync`` actions (``create_experiment``, ``create_run``,
``update_run``, tag deletion) and ``metric_log`` operations, which the MLflow handlers
deliver with local ids mapped to the server's. Operations of a run wait for the run's
creation (``depends_on``) until the server's id is known.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
import posixpath
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.errors import InvalidOperationError, StorageFullError
from peft_studio_offline.core.mlflow_local import (
    DEFAULT_EXPERIMENT_ID,
    ArtifactPath,
    ArtifactStaging,
    ExperimentRecord,
    LocalStore,
    NameTakenError,
    ParamChangedError,
    RunRecord,
    new_id,
    now_ms,
    parse_artifact_path,
    staging_root_for,
    store_path_for,
)

if TYPE_CHECKING:
    from peft_studio_offline.core.queue import EnqueueOptions, OfflineQueueManager
    from peft_studio_offline.core.settings import Settings


class TrackingHost(Protocol):
    """What the local tracking service needs of its runtime: the queue, its file, the
    settings, and the submit path."""

    @property
    def db_path(self) -> Path: ...

    @property
    def queue(self) -> OfflineQueueManager: ...

    @property
    def settings(self) -> Settings: ...

    async def submit(
        self,
        operation_type: OperationType | str,
        payload: Mapping[str, Any],
        priority: int = 0,
        **options: Unpack[EnqueueOptions],
    ) -> int: ...


Json = dict[str, Any]

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
_HTTP_STATUS = {
    "RESOURCE_DOES_NOT_EXIST": 404,
    "INVALID_PARAMETER_VALUE": 400,
    "RESOURCE_ALREADY_EXISTS": 400,
    "MALFORMED_REQUEST": 400,
    "ENDPOINT_NOT_FOUND": 404,
    "TEMPORARILY_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}


class TrackingError(Exception):
    """An answer in MLflow's error shape: ``{"error_code", "message"}`` and its HTTP status."""

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    @property
    def status_code(self) -> int:
        return _HTTP_STATUS.get(self.error_code, 400)

    def body(self) -> Json:
        return {"error_code": self.error_code, "message": self.message}


Handler = Callable[["LocalTracking", Mapping[str, Any]], Awaitable[Json]]


class LocalTracking:
    """The local tracking service of one runtime (its queue, and the record beside it)."""

    def __init__(self, runtime: TrackingHost, store: LocalStore | None = None) -> None:
        self.runtime = runtime
        self.store = store or LocalStore(store_path_for(Path(runtime.db_path)))
        self.staging = ArtifactStaging(staging_root_for(Path(runtime.db_path)))
        self._runs: dict[str, RunRecord] = {}  # what a log call needs, without a read

    async def call(self, endpoint: str, request: Mapping[str, Any]) -> Json:
        handler = ENDPOINTS.get(endpoint)
        if handler is None:
            raise TrackingError(
                "ENDPOINT_NOT_FOUND", f"The local MLflow endpoint does not serve '{endpoint}'."
            )
        try:
            return await handler(self, request)
        except InvalidOperationError as exc:
            raise TrackingError("INVALID_PARAMETER_VALUE", str(exc)) from None

    def close(self) -> None:
        self.store.close()

    async def _db(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(function, *args, **kwargs)

    # --------------------------------------------------------------- experiments

    async def get_experiment_by_name(self, request: Mapping[str, Any]) -> Json:
        name = _text(request, "experiment_name")
        record = await self._db(self.store.experiment_by_name, name)
        if record is None:
            raise TrackingError(
                "RESOURCE_DOES_NOT_EXIST", f"Could not find experiment with name '{name}'"
            )
        return {"experiment": _experiment_json(record)}

    async def get_experiment(self, request: Mapping[str, Any]) -> Json:
        experiment_id = _text(request, "experiment_id")
        record = await self._db(self.store.experiment, experiment_id)
        if record is None:
            raise TrackingError(
                "RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={experiment_id} exists"
            )
        return {"experiment": _experiment_json(record)}

    async def create_experiment(self, request: Mapping[str, Any]) -> Json:
        name = _text(request, "name")
        tags = _pairs(request.get("tags"), "tags")
        location = request.get("artifact_location") or ""
        experiment_id = new_id()
        if await self._db(self.store.experiment_by_name, name) is not None:
            raise TrackingError("RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists.")
        payload: Json = {
            "action": "create_experiment",
            "experiment_id": experiment_id,
            "name": name,
            "tags": tags,
        }
        if location:
            payload["artifact_location"] = str(location)
        op_id = await self.runtime.submit(OperationType.EXPERIMENT_SYNC, payload)
        record = ExperimentRecord(experiment_id, name, None, str(location), now_ms(), tags, op_id)
        try:
            await self._db(self.store.add_experiment, record)
        except NameTakenError:  # made by another caller meanwhile: its creation stands
            await self.runtime.queue.cancel(op_id)
            raise TrackingError(
                "RESOURCE_ALREADY_EXISTS", f"Experiment '{name}' already exists."
            ) from None
        return {"experiment_id": experiment_id}

    # ---------------------------------------------------------------------- runs

    async def create_run(self, request: Mapping[str, Any]) -> Json:
        experiment_id = str(request.get("experiment_id") or DEFAULT_EXPERIMENT_ID)
        experiment = await self._db(self.store.experiment, experiment_id)
        if experiment is None:
            raise TrackingError(
                "RESOURCE_DOES_NOT_EXIST", f"No Experiment with id={experiment_id} exists"
            )
        tags = _pairs(request.get("tags"), "tags")
        run_name = str(request.get("run_name") or tags.get("mlflow.runName") or "")
        if run_name:
            tags.setdefault("mlflow.runName", run_name)
        start_time = _int(request.get("start_time"), "start_time", now_ms())
        user_id = str(request.get("user_id") or tags.get("mlflow.user") or "")
        run_id = new_id()
        payload: Json = {
            "action": "create_run",
            "run_id": run_id,
            "experiment_id": experiment_id,
            "start_time": start_time,
            "tags": tags,
        }
        if run_name:
            payload["run_name"] = run_name
        if user_id:
            payload["user_id"] = user_id
        waits = (
            [experiment.create_op] if experiment.remote_id is None and experiment.create_op else []
        )
        op_id = await self.runtime.submit(OperationType.EXPERIMENT_SYNC, payload, depends_on=waits)
        record = RunRecord(
            run_id,
            experiment_id,
            None,
            run_name,
            user_id,
            "RUNNING",
            start_time,
            None,
            f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts",
            op_id,
            tags=tags,
        )
        await self._db(self.store.add_run, record)
        self._runs[run_id] = record
        return {"run": _run_json(record)}

    async def get_run(self, request: Mapping[str, Any]) -> Json:
        run_id = _run_id(request)
        record = await self._db(self.store.run, run_id)
        if record is None:
            raise TrackingError(
                "RESOURCE_DOES_NOT_EXIST",
                f"Run '{run_id}' not found: it was not made through this app, and the app"
                " answers only for runs it knows.",
            )
        return {"run": _run_json(record)}

    async def update_run(self, request: Mapping[str, Any]) -> Json:
        run = await self._known_run(_run_id(request))
        status = request.get("status")
        if status is not None and status not in RUN_STATUSES:
            raise TrackingError("INVALID_PARAMETER_VALUE", f"Invalid run status {status!r}.")
        end_time = request.get("end_time")
        end = None if end_time is None else _int(end_time, "end_time", 0)
        run_name = request.get("run_name") or None
        payload: Json = {"action": "update_run", "run_id": run.id}
        for key, value in (("status", status), ("end_time", end), ("run_name", run_name)):
            if value is not None:
                payload[key] = value
        await self._submit_for(run, OperationType.EXPERIMENT_SYNC, payload)
        await self._db(
            self.store.update_run,
            run.id,
            status=status,
            end_time=end,
            run_name=None if run_name is None else str(run_name),
        )
        fresh = await self._db(self.store.run, run.id)
        return {"run_info": _run_json(fresh)["info"]}

    async def log_metric(self, request: Mapping[str, Any]) -> Json:
        point = _metric(request)
        await self._log(_run_id(request), metrics=[point])
        return {}

    async def log_batch(self, request: Mapping[str, Any]) -> Json:
        metrics = [_metric(m) for m in _list(request, "metrics")]
        params = _pairs(request.get("params"), "params")
        tags = _pairs(request.get("tags"), "tags")
        await self._log(_run_id(request), metrics=metrics, params=params, tags=tags)
        return {}

    async def log_param(self, request: Mapping[str, Any]) -> Json:
        key = _text(request, "key")
        await self._log(_run_id(request), params={key: _value(request.get("value"))})
        return {}

    async def set_tag(self, request: Mapping[str, Any]) -> Json:
        key = _text(request, "key")
        await self._log(_run_id(request), tags={key: _value(request.get("value"))})
        return {}

    async def delete_tag(self, request: Mapping[str, Any]) -> Json:
        run = await self._known_run(_run_id(request))
        key = _text(request, "key")
        if not await self._db(self.store.delete_tag, run.id, key):
            raise TrackingError(
                "RESOURCE_DOES_NOT_EXIST", f"No tag with name: {key} in run with id {run.id}"
            )
        await self._submit_for(
            run, OperationType.EXPERIMENT_SYNC, {"run_id": run.id, "tags": {key: None}}
        )
        return {}

    async def get_metric_history(self, request: Mapping[str, Any]) -> Json:
        run = await self._known_run(_run_id(request))
        key = _text(request, "metric_key")
        points = await self._db(self.store.metric_history, run.id, key)
        return {
            "metrics": [
                {"key": key, "value": _number(v), "timestamp": t, "step": s} for v, t, s in points
            ]
        }

    async def search_logged_models(self, request: Mapping[str, Any]) -> Json:
        """MLflow 3's client asks this when it lists a run's artifacts; none are made here."""
        return {"models": []}

    # ----------------------------------------------------------------- artifacts

    async def put_artifact(self, raw_path: str, chunks: AsyncIterator[bytes]) -> Json:
        """Stage one file a script logs, and queue its upload to the run's artifacts."""
        from peft_studio_offline.core.handlers.mlflow._payloads import check_artifact_path

        path, run = await self._artifact_run(raw_path)
        try:
            check_artifact_path(path.inside)
        except InvalidOperationError as exc:
            raise TrackingError("INVALID_PARAMETER_VALUE", str(exc)) from None
        # A file logged again replaces its staged copy, which an earlier upload may name.
        replaced = await asyncio.to_thread(self.staging.read_path, path) is not None
        try:
            staged = await self.staging.write(path, chunks)
        except InvalidOperationError as exc:
            raise TrackingError("INVALID_PARAMETER_VALUE", str(exc)) from None
        payload = {
            "path": str(staged),
            "run_id": run.id,
            "artifact_path": posixpath.dirname(path.inside),
        }
        budget = self.runtime.queue.storage_budget
        size = staged.stat().st_size
        if budget is not None:
            budget.add_staged(size)  # counted before the next walk of the staged tree
        try:
            await self._submit_for(run, OperationType.MODEL_PUSH, payload)
        except StorageFullError:
            # No room to queue its upload: a new staged copy would only take more room.
            if not replaced:
                staged.unlink(missing_ok=True)
                if budget is not None:
                    budget.add_staged(-size)
            raise
        return {}

    async def artifact_file(self, raw_path: str) -> Path:
        path, _ = await self._artifact_run(raw_path)
        found = await self._db(self.staging.read_path, path)
        if found is None:
            raise TrackingError(
                "RESOURCE_DOES_NOT_EXIST", f"No artifact {path.inside!r} was logged here."
            )
        return Path(found)

    async def list_artifacts(self, raw_path: str) -> Json:
        path, _ = await self._artifact_run(raw_path)
        return {"files": await self._db(self.staging.listing, path)}

    async def _artifact_run(self, raw_path: str) -> tuple[ArtifactPath, RunRecord]:
        try:
            path = parse_artifact_path(raw_path)
        except InvalidOperationError as exc:
            raise TrackingError("INVALID_PARAMETER_VALUE", str(exc)) from None
        run = await self._known_run(path.run_id)
        if run.experiment_id != path.experiment_id:
            raise TrackingError(
                "RESOURCE_DOES_NOT_EXIST",
                f"Run '{run.id}' is not in experiment '{path.experiment_id}'.",
            )
        return path, run

    # ------------------------------------------------------------------ plumbing

    async def _known_run(self, run_id: str) -> RunRecord:
        run = self._runs.get(run_id)
        if run is None:
            run = await self._db(self.store.run, run_id)
            if run is None:
                raise TrackingError(
                    "RESOURCE_DOES_NOT_EXIST",
                    f"Run '{run_id}' not found: it was not made through this app.",
                )
            self._runs[run_id] = run
        return run

    async def _submit_for(self, run: RunRecord, kind: OperationType, payload: Json) -> int:
        """Queue an operation of ``run``, after the run's creation while that is not done."""
        waits = [run.create_op] if run.remote_id is None and run.create_op else []
        try:
            return await self._submit(kind, payload, waits)
        except InvalidOperationError:
            if not waits:
                raise
        # The creation was delivered and cleared meanwhile: the run is mapped now.
        fresh = await self._db(self.store.run, run.id)
        if fresh is None or fresh.remote_id is None:
            raise TrackingError(
                "INTERNAL_ERROR", f"The creation of run {run.id} is no longer in the queue."
            )
        self._runs[run.id] = fresh
        return await self._submit(kind, payload, [])

    async def _submit(self, kind: OperationType, payload: Json, waits: list[int]) -> int:
        from peft_studio_offline.core.submit import submit

        settings = self.runtime.settings
        roots = settings.sync.upload_roots
        if kind is OperationType.MODEL_PUSH and roots:  # the staged tree is the app's own
            sync = dataclasses.replace(settings.sync, upload_roots=(*roots, str(self.staging.root)))
            settings = dataclasses.replace(settings, sync=sync)
        return await submit(self.runtime.queue, kind, payload, settings=settings, depends_on=waits)

    async def _log(
        self,
        run_id: str,
        *,
        metrics: list[tuple[str, str, int, int]] | None = None,
        params: dict[str, str] | None = None,
        tags: dict[str, str] | None = None,
    ) -> None:
        run = await self._known_run(run_id)
        try:
            await self._db(self.store.log, run.id, metrics=metrics or (), params=params, tags=tags)
        except ParamChangedError as exc:
            raise TrackingError("INVALID_PARAMETER_VALUE", str(exc)) from None
        payload: Json = {"run_id": run.id}
        if metrics:
            payload["metrics"] = [
                {"key": k, "value": v, "timestamp": t, "step": s} for k, v, t, s in metrics
            ]
        if params:
            payload["params"] = params
        if tags:
            payload["tags"] = tags
        if len(payload) > 1:
            await self._submit_for(run, OperationType.METRIC_LOG, payload)


ENDPOINTS: dict[str, Handler] = {
    "experiments/get-by-name": LocalTracking.get_experiment_by_name,
    "experiments/get": LocalTracking.get_experiment,
    "experiments/create": LocalTracking.create_experiment,
    "runs/create": LocalTracking.create_run,
    "runs/get": LocalTracking.get_run,
    "runs/update": LocalTracking.update_run,
    "runs/log-metric": LocalTracking.log_metric,
    "runs/log-batch": LocalTracking.log_batch,
    "runs/log-parameter": LocalTracking.log_param,
    "runs/set-tag": LocalTracking.set_tag,
    "runs/delete-tag": LocalTracking.delete_tag,
    "metrics/get-history": LocalTracking.get_metric_history,
    "logged-models/search": LocalTracking.search_logged_models,
}
READ_ENDPOINTS = frozenset(
    {"experiments/get-by-name", "experiments/get", "runs/get", "metrics/get-history"}
)


# ------------------------------------------------------------------ request reading


def _text(request: Mapping[str, Any], key: str) -> str:
    value = request.get(key)
    if isinstance(value, list) and len(value) == 1:  # a query parameter
        value = value[0]
    if not isinstance(value, str) or not value.strip():
        raise TrackingError(
            "INVALID_PARAMETER_VALUE", f"Missing value for required parameter '{key}'."
        )
    return value


def _run_id(request: Mapping[str, Any]) -> str:
    if request.get("run_id"):
        return _text(request, "run_id")
    return _text(request, "run_uuid")


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _list(request: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = request.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, Mapping) for v in value):
        raise TrackingError("INVALID_PARAMETER_VALUE", f"'{key}' must be a list of objects.")
    return value


def _pairs(value: Any, key: str) -> dict[str, str]:
    """MLflow's ``[{"key", "value"}]`` as a dict, in order (a later value wins)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise TrackingError("INVALID_PARAMETER_VALUE", f"'{key}' must be a list of key/value.")
    out: dict[str, str] = {}
    for item in value:
        if not isinstance(item, Mapping) or not isinstance(item.get("key"), str):
            raise TrackingError("INVALID_PARAMETER_VALUE", f"Each of '{key}' needs a 'key'.")
        out[item["key"]] = _value(item.get("value"))
    return out


def _int(value: Any, key: str, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        raise TrackingError(
            "INVALID_PARAMETER_VALUE", f"'{key}' must be an integer, not {value!r}."
        ) from None


def _metric(item: Mapping[str, Any]) -> tuple[str, str, int, int]:
    """(key, value as stored text, timestamp, step) of one point."""
    key = _text(item, "key")
    raw = item.get("value")
    if isinstance(raw, bool) or raw is None:
        raise TrackingError("INVALID_PARAMETER_VALUE", f"Metric '{key}' needs a number value.")
    try:
        number = float(raw)
    except (TypeError, ValueError):
        raise TrackingError(
            "INVALID_PARAMETER_VALUE", f"The value of metric '{key}' must be a number."
        ) from None
    if math.isnan(number):
        text = "NaN"
    elif math.isinf(number):
        text = "Infinity" if number > 0 else "-Infinity"
    else:
        text = repr(number)
    return (
        key,
        text,
        _int(item.get("timestamp"), "timestamp", now_ms()),
        _int(item.get("step"), "step", 0),
    )


# ------------------------------------------------------------------ answer shapes


def _number(text: str) -> float | str:
    return text if text in ("NaN", "Infinity", "-Infinity") else float(text)


def _experiment_json(record: ExperimentRecord) -> Json:
    return {
        "experiment_id": record.id,
        "name": record.name,
        "artifact_location": record.artifact_location or f"mlflow-artifacts:/{record.id}",
        "lifecycle_stage": "active",
        "creation_time": record.creation_time,
        "last_update_time": record.creation_time,
        "tags": [{"key": k, "value": v} for k, v in record.tags.items()],
    }


def _run_json(record: RunRecord) -> Json:
    info: Json = {
        "run_id": record.id,
        "run_uuid": record.id,
        "experiment_id": record.experiment_id,
        "run_name": record.run_name,
        "user_id": record.user_id,
        "status": record.status,
        "artifact_uri": record.artifact_uri,
        "lifecycle_stage": "active",
    }
    if record.start_time is not None:
        info["start_time"] = record.start_time
    if record.end_time is not None:
        info["end_time"] = record.end_time
    return {
        "info": info,
        "data": {
            "metrics": [
                {"key": k, "value": _number(v), "timestamp": t, "step": s}
                for k, (v, t, s) in record.latest.items()
            ],
            "params": [{"key": k, "value": v} for k, v in record.params.items()],
            "tags": [{"key": k, "value": v} for k, v in record.tags.items()],
        },
        "inputs": {},
    }
