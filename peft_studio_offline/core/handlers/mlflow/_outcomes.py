"""From MLflow's answers to outcomes, with messages that say what is missing."""

from __future__ import annotations

from typing import Any

from peft_studio_offline.core.handlers.base import Outcome
from peft_studio_offline.core.handlers.mlflow._client import MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._errors import MlflowError, MlflowUnreachableError

_INACTIVE = "must be in the 'active' state"


def outcome_for(exc: MlflowError, message: str | None = None) -> Outcome:
    """Retry what may work later; fail for good what the server refused (keeping its words)."""
    text = message or str(exc)
    details: dict[str, Any] = exc.details()
    if isinstance(exc, MlflowUnreachableError) and not exc.reached:
        return Outcome.unreachable(text, details=details)
    if exc.transient:
        return Outcome.retry(text, retry_after=exc.retry_after, details=details)
    return Outcome.failed(text, details=details)


def with_server_words(sentence: str, exc: MlflowError) -> str:
    """``sentence`` followed by what the server said, for the attempt history."""
    said = exc.server_message or ""
    return f"{sentence} (MLflow said: {said})" if said else sentence


async def run_problem(client: MlflowRestClient, run_id: str, exc: MlflowError) -> str | None:
    """A sentence naming the missing run or experiment, when that is what ``exc`` is about."""
    if exc.transient:
        return None
    if exc.error_code == "RESOURCE_DOES_NOT_EXIST" and exc.endpoint and "runs/" in exc.endpoint:
        return f"MLflow has no run {run_id!r}."
    if _INACTIVE not in (exc.server_message or ""):
        return None
    try:
        run = await client.get_run(run_id)
    except MlflowError:
        return f"The MLflow run {run_id} is deleted."
    return await _deleted(client, run_id, str(run.get("info", {}).get("experiment_id", "")))


async def _deleted(client: MlflowRestClient, run_id: str, experiment_id: str) -> str:
    """Which is deleted: the run alone, or its whole experiment."""
    try:
        experiment = await client.get_experiment(experiment_id) if experiment_id else {}
    except MlflowError:
        experiment = {}
    if experiment.get("lifecycle_stage") == "deleted":
        name = experiment.get("name")
        label = f"{experiment_id} ({name!r})" if name else experiment_id
        return f"The MLflow experiment {label} of run {run_id} is deleted."
    return f"The MLflow run {run_id} is deleted."


async def check_run_active(client: MlflowRestClient, run_id: str) -> dict[str, Any]:
    """The run, or ``MlflowError`` whose message names the missing run or experiment."""
    try:
        run = await client.get_run(run_id)
    except MlflowError as exc:
        problem = await run_problem(client, run_id, exc)
        if problem is None:
            raise
        raise type(exc)(
            with_server_words(problem, exc),
            status_code=exc.status_code,
            error_code=exc.error_code,
            server_message=exc.server_message,
            method=exc.method,
            endpoint=exc.endpoint,
        ) from exc
    info = run.get("info", {})
    if info.get("lifecycle_stage") == "deleted":
        raise MlflowRunGoneError(await _deleted(client, run_id, str(info.get("experiment_id", ""))))
    return run


class MlflowRunGoneError(MlflowError):
    """The run exists but it (or its experiment) is deleted: nothing can be logged to it."""
