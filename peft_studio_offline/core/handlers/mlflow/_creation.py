"""``experiment_sync`` actions for what the local MLflow endpoint made: experiments, runs, ends.

- ``create_experiment``: made on the server by name; an existing experiment of that name
  is taken instead (creation by name is once in effect by itself).
- ``create_run``: MLflow cannot make run creation idempotent, so the run is created with a
  tag holding its local id, and after a lost answer it is looked up by that tag before being
  created again. Once the mapping is recorded locally the tag is removed, so the server ends
  up with what a run logged to it directly holds.
- ``update_run``: status, end time and name of a run, by the server's id.

Each records the server's id in the local record (``RemoteIds``) before it reports done.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.base import Outcome, OutcomeKind
from peft_studio_offline.core.handlers.mlflow._client import MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._errors import MlflowError
from peft_studio_offline.core.handlers.mlflow._outcomes import outcome_for
from peft_studio_offline.core.mlflow_local import LOCAL_RUN_TAG, NotDeliveredError, RemoteIds

ACTIONS = ("create_experiment", "create_run", "update_run")
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")


def check_action(payload: Mapping[str, Any]) -> None:
    """The checks the submit path makes for an action payload."""
    action = payload.get("action")
    if action not in ACTIONS:
        raise InvalidOperationError(
            f"The action {action!r} is not one of {', '.join(ACTIONS)}.", field="payload.action"
        )
    key = "experiment_id" if action == "create_experiment" else "run_id"
    value = payload.get(key)
    # A local id goes into a search filter: letters, digits, '-' and '_' only.
    if not isinstance(value, str) or not value.replace("-", "").replace("_", "").isalnum():
        raise InvalidOperationError(
            f"The payload needs '{key}', a local id of letters, digits, '-' and '_'.",
            field=f"payload.{key}",
        )
    if action == "create_experiment" and not isinstance(payload.get("name"), str):
        raise InvalidOperationError("create_experiment needs 'name'.", field="payload.name")
    if action == "create_run" and not isinstance(payload.get("experiment_id"), str):
        raise InvalidOperationError(
            "create_run needs 'experiment_id'.", field="payload.experiment_id"
        )
    status = payload.get("status")
    if status is not None and status not in RUN_STATUSES:
        raise InvalidOperationError(f"{status!r} is not a run status.", field="payload.status")
    tags = payload.get("tags")
    if tags is not None and not isinstance(tags, Mapping):
        raise InvalidOperationError("'tags' must be an object.", field="payload.tags")


def waiting(message: str) -> Outcome:
    """Not sent: what it needs is not on the server yet. No attempt is used."""
    return Outcome(OutcomeKind.RETRY, message, retry_after=5.0, attempted=False)


async def run_action(
    client: MlflowRestClient, ids: RemoteIds | None, payload: Mapping[str, Any]
) -> Outcome:
    action = payload["action"]
    try:
        if action == "create_experiment":
            return await _create_experiment(client, ids, payload)
        if action == "create_run":
            return await _create_run(client, ids, payload)
        return await _update_run(client, ids, payload)
    except NotDeliveredError as exc:
        return waiting(str(exc))
    except MlflowError as exc:
        return outcome_for(exc)


async def _create_experiment(
    client: MlflowRestClient, ids: RemoteIds | None, payload: Mapping[str, Any]
) -> Outcome:
    name = str(payload["name"])
    try:
        remote = await client.create_experiment(name)
        created = True
    except MlflowError as exc:
        if exc.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        answer = await client.get_json("experiments/get-by-name", {"experiment_name": name})
        remote = str(answer["experiment"]["experiment_id"])
        created = False
    tags = [{"key": str(k), "value": str(v)} for k, v in (payload.get("tags") or {}).items()]
    for tag in tags:
        await client.post_json("experiments/set-experiment-tag", {"experiment_id": remote, **tag})
    if ids is not None:
        await ids.map_experiment(str(payload["experiment_id"]), remote)
    return Outcome.done(
        {
            "experiment_id": payload["experiment_id"],
            "remote_experiment_id": remote,
            "created": created,
        }
    )


async def _create_run(
    client: MlflowRestClient, ids: RemoteIds | None, payload: Mapping[str, Any]
) -> Outcome:
    local = str(payload["run_id"])
    experiment = str(payload["experiment_id"])
    remote = await ids.recorded_run(local) if ids is not None else None
    remote_experiment = await ids.experiment(experiment) if ids is not None else experiment
    if remote is None:
        remote = await _find_by_tag(client, remote_experiment, local)
    created = remote is None
    if remote is None:
        tags = {str(k): str(v) for k, v in (payload.get("tags") or {}).items()}
        tags[LOCAL_RUN_TAG] = local
        body: dict[str, Any] = {
            "experiment_id": remote_experiment,
            "start_time": payload.get("start_time"),
            "tags": [{"key": k, "value": v} for k, v in tags.items()],
        }
        for key in ("run_name", "user_id"):
            if payload.get(key):
                body[key] = payload[key]
        answer = await client.post_json("runs/create", body)
        remote = str(answer["run"]["info"]["run_id"])
    if ids is not None:
        await ids.map_run(local, remote, experiment)
    try:  # the mapping is kept here now: the server keeps only what the script logged
        await client.delete_tag(remote, LOCAL_RUN_TAG)
    except MlflowError as exc:
        if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
            raise
    return Outcome.done({"run_id": local, "remote_run_id": remote, "created": created})


async def _find_by_tag(client: MlflowRestClient, experiment_id: str, local: str) -> str | None:
    answer = await client.post_json(
        "runs/search",
        {
            "experiment_ids": [experiment_id],
            "filter": f"tags.`{LOCAL_RUN_TAG}` = '{local}'",
            "run_view_type": "ALL",
            "max_results": 1,
        },
    )
    runs = answer.get("runs") or []
    return str(runs[0]["info"]["run_id"]) if runs else None


async def _update_run(
    client: MlflowRestClient, ids: RemoteIds | None, payload: Mapping[str, Any]
) -> Outcome:
    local = str(payload["run_id"])
    remote = await ids.run(local) if ids is not None else local
    end_time = payload.get("end_time")
    await client.update_run(
        remote,
        status=payload.get("status"),
        end_time=None if end_time is None else int(end_time),
        run_name=payload.get("run_name"),
    )
    return Outcome.done({"run_id": local, "remote_run_id": remote})
