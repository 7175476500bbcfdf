"""The local MLflow endpoint over HTTP: MLflow's paths, answer shapes, errors and the queue."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.api.conftest import LiveApi

API = "/mlflow/api/2.0/mlflow/"


async def call(
    api: LiveApi, endpoint: str, body: dict[str, Any] | None = None, **query: Any
) -> Any:
    if body is None:
        return await api.client.get(API + endpoint, params=query)
    return await api.client.post(API + endpoint, json=body)


async def new_run(api: LiveApi, experiment: str = "exp") -> tuple[str, str]:
    answer = await call(api, "experiments/create", {"name": experiment})
    assert answer.status_code == 200, answer.text
    experiment_id = answer.json()["experiment_id"]
    answer = await call(
        api,
        "runs/create",
        {
            "experiment_id": experiment_id,
            "start_time": 1000,
            "run_name": "r1",
            "tags": [{"key": "mlflow.user", "value": "me"}],
        },
    )
    assert answer.status_code == 200, answer.text
    return experiment_id, answer.json()["run"]["info"]["run_id"]


async def test_the_token_is_needed(live_api: LiveApi) -> None:
    answer = await live_api.anonymous.get(
        API + "experiments/get-by-name", params={"experiment_name": "Default"}
    )
    assert answer.status_code == 401


@pytest.mark.parametrize("root", ["/mlflow/api/2.0/mlflow/", "/mlflow/ajax-api/2.0/mlflow/"])
async def test_the_default_experiment_is_known(live_api: LiveApi, root: str) -> None:
    answer = await live_api.client.get(
        root + "experiments/get-by-name", params={"experiment_name": "Default"}
    )
    assert answer.status_code == 200
    assert answer.json()["experiment"]["experiment_id"] == "0"
    answer = await live_api.client.get(root + "experiments/get", params={"experiment_id": "0"})
    assert answer.json()["experiment"]["name"] == "Default"


async def test_unknown_things_are_mlflow_errors(live_api: LiveApi) -> None:
    answer = await call(live_api, "experiments/get-by-name", experiment_name="nope")
    assert answer.status_code == 404
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    answer = await call(live_api, "runs/get", run_id="f" * 32)
    assert (answer.status_code, answer.json()["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")
    answer = await call(live_api, "runs/log-metric", {"run_id": "f" * 32, "key": "a", "value": 1})
    assert answer.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    answer = await call(live_api, "experiments/get-by-name")
    assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    answer = await live_api.client.post(API + "runs/log-metric", content=b"{not json")
    assert (answer.status_code, answer.json()["error_code"]) == (400, "MALFORMED_REQUEST")
    answer = await call(live_api, "registered-models/list", {})
    assert (answer.status_code, answer.json()["error_code"]) == (404, "ENDPOINT_NOT_FOUND")
    assert await live_api.runtime.queue.get_queue_stats() == {**_zero(), "total": 0}


async def test_an_experiment_name_is_taken_once(live_api: LiveApi) -> None:
    await call(live_api, "experiments/create", {"name": "twice"})
    answer = await call(live_api, "experiments/create", {"name": "twice"})
    assert (answer.status_code, answer.json()["error_code"]) == (400, "RESOURCE_ALREADY_EXISTS")
    ops = await live_api.runtime.queue.list_operations()
    assert [op.payload["action"] for op in ops] == ["create_experiment"]


async def test_a_run_is_answered_from_local_state_and_queued(live_api: LiveApi) -> None:
    experiment_id, run_id = await new_run(live_api)
    logged = [
        ("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}),
        ("runs/set-tag", {"run_id": run_id, "key": "stage", "value": "train"}),
        (
            "runs/log-metric",
            {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 5, "step": 1},
        ),
        (
            "runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": "loss", "value": 0.25, "timestamp": 6, "step": 2}],
                "params": [{"key": "r", "value": "16"}],
                "tags": [{"key": "gone", "value": "x"}],
            },
        ),
        ("runs/delete-tag", {"run_id": run_id, "key": "gone"}),
        ("runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 9}),
    ]
    for endpoint, body in logged:
        answer = await call(live_api, endpoint, body)
        assert answer.status_code == 200, (endpoint, answer.text)
        assert answer.json() == {} or endpoint == "runs/update"
    run = (await call(live_api, "runs/get", run_uuid=run_id)).json()["run"]
    assert run["info"]["status"] == "FINISHED"
    assert run["info"]["end_time"] == 9
    assert run["info"]["experiment_id"] == experiment_id
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.1", "r": "16"}
    assert {t["key"]: t["value"] for t in run["data"]["tags"]} == {
        "mlflow.user": "me",
        "mlflow.runName": "r1",
        "stage": "train",
    }
    assert run["data"]["metrics"] == [{"key": "loss", "value": 0.25, "timestamp": 6, "step": 2}]
    history = await call(live_api, "metrics/get-history", run_id=run_id, metric_key="loss")
    assert [m["value"] for m in history.json()["metrics"]] == [0.5, 0.25]

    ops = await live_api.runtime.queue.list_operations()
    create_run = ops[1]
    assert create_run.payload["action"] == "create_run"
    assert create_run.depends_on == (ops[0].id,)
    kinds = [(op.operation_type, op.payload.get("action")) for op in ops[2:]]
    assert kinds == [
        (OperationType.METRIC_LOG, None),
        (OperationType.METRIC_LOG, None),
        (OperationType.METRIC_LOG, None),
        (OperationType.METRIC_LOG, None),
        (OperationType.EXPERIMENT_SYNC, None),
        (OperationType.EXPERIMENT_SYNC, "update_run"),
    ]
    assert all(op.depends_on == (create_run.id,) for op in ops[2:])
    assert ops[4].payload["metrics"] == [{"key": "loss", "value": 0.5, "timestamp": 5, "step": 1}]
    assert ops[6].payload["tags"] == {"gone": None}


async def test_a_param_cannot_change(live_api: LiveApi) -> None:
    _, run_id = await new_run(live_api)
    await call(live_api, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    before = await live_api.runtime.queue.get_queue_stats()
    answer = await call(
        live_api, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.2"}
    )
    assert (answer.status_code, answer.json()["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert "Changing param values is not allowed" in answer.json()["message"]
    assert await live_api.runtime.queue.get_queue_stats() == before
    same = await call(
        live_api, "runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}
    )
    assert same.status_code == 200


async def test_non_finite_values_are_kept(live_api: LiveApi) -> None:
    _, run_id = await new_run(live_api)
    body = json.dumps({"run_id": run_id, "key": "loss", "value": "NaN", "timestamp": 1, "step": 0})
    answer = await live_api.client.post(API + "runs/log-metric", content=body)
    assert answer.status_code == 200
    run = (await call(live_api, "runs/get", run_id=run_id)).json()["run"]
    assert run["data"]["metrics"][0]["value"] == "NaN"
    ops = await live_api.runtime.queue.list_operations(operation_type=OperationType.METRIC_LOG)
    assert ops[0].payload["metrics"][0]["value"] == "NaN"


def _zero() -> dict[str, int]:
    statuses = (
        "pending", "in_progress", "completed", "failed", "conflict", "cancelled", "expired",
        "exported",
    )  # fmt: skip
    return dict.fromkeys(statuses, 0)


ARTIFACTS = "/mlflow/api/2.0/mlflow-artifacts/artifacts"


async def test_artifacts_are_staged_listed_read_and_queued(live_api: LiveApi) -> None:
    experiment_id, run_id = await new_run(live_api)
    root = f"{experiment_id}/{run_id}/artifacts"
    put = await live_api.client.put(f"{ARTIFACTS}/{root}/adapter/config.json", content=b"{}")
    assert put.status_code == 200, put.text
    await live_api.client.put(f"{ARTIFACTS}/{root}/notes.txt", content=b"hello")
    listed = await live_api.client.get(ARTIFACTS, params={"path": root})
    assert listed.json()["files"] == [
        {"path": "adapter", "is_dir": True},
        {"path": "notes.txt", "is_dir": False, "file_size": 5},
    ]
    read = await live_api.client.get(f"{ARTIFACTS}/{root}/notes.txt")
    assert read.content == b"hello"
    pushes = await live_api.runtime.queue.list_operations(operation_type=OperationType.MODEL_PUSH)
    assert [(op.payload["run_id"], op.payload["artifact_path"]) for op in pushes] == [
        (run_id, "adapter"),
        (run_id, ""),
    ]
    assert pushes[0].depends_on == (pushes[0].id - 1,)  # the run's creation
    assert Path(pushes[1].payload["path"]).read_bytes() == b"hello"


async def test_artifact_paths_outside_a_run_are_refused(live_api: LiveApi) -> None:
    experiment_id, run_id = await new_run(live_api)
    before = await live_api.runtime.queue.get_queue_stats()
    for path in (
        f"{experiment_id}/{run_id}/artifacts/../../escape.txt",
        f"{experiment_id}/{run_id}/elsewhere/a.txt",
        f"other/{run_id}/artifacts/a.txt",
        f"{experiment_id}/{'e' * 32}/artifacts/a.txt",
    ):
        answer = await live_api.client.put(f"{ARTIFACTS}/{path}", content=b"x")
        assert answer.status_code in (400, 404), (path, answer.text)
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    assert await live_api.runtime.queue.get_queue_stats() == before


async def test_the_app_delivering_to_its_own_endpoint_waits_and_changes_nothing(
    live_api: LiveApi,
) -> None:
    _, run_id = await new_run(live_api)
    await call(live_api, "runs/log-metric", {"run_id": run_id, "key": "a", "value": 1, "step": 0})
    queued = await live_api.runtime.queue.get_queue_stats()
    own = dataclasses.replace(
        live_api.runtime.settings,
        sync=dataclasses.replace(
            live_api.runtime.settings.sync,
            mlflow_tracking_uri=live_api.base.replace("/api/offline", "/mlflow"),
        ),
    )
    async with SyncEngine(live_api.runtime.queue, None, settings=own) as engine:
        await engine.sync()
    ops = await live_api.runtime.queue.list_operations()
    assert await live_api.runtime.queue.get_queue_stats() == queued, [
        (o.status, o.error_message) for o in ops
    ]
    ops = await live_api.runtime.queue.list_operations()
    reason = await live_api.runtime.queue.wait_reason(ops[0].id)
    assert reason is not None and "own local MLflow endpoint" in reason
    assert all(op.retry_count == 0 for op in ops)


async def test_an_artifact_larger_than_the_body_limit_is_staged_whole(live_api: LiveApi) -> None:
    """Adapter weights are often larger than the API's body limit; they stream to disk."""
    limit = live_api.runtime.settings.api.max_request_bytes
    experiment_id, run_id = await new_run(live_api)
    size = limit + 1024

    async def body() -> Any:
        chunk = b"w" * (1024 * 1024)
        sent = 0
        while sent < size:
            part = chunk[: min(len(chunk), size - sent)]
            sent += len(part)
            yield part

    path = f"{ARTIFACTS}/{experiment_id}/{run_id}/artifacts/adapter/adapter_model.safetensors"
    answer = await live_api.client.put(path, content=body(), timeout=120)
    assert answer.status_code == 200, answer.text
    listed = await live_api.client.get(
        ARTIFACTS, params={"path": f"{experiment_id}/{run_id}/artifacts/adapter"}
    )
    assert listed.json()["files"][0]["file_size"] == size
    # Elsewhere the limit holds.
    too_big = await live_api.client.post(API + "runs/log-batch", content=b" " * (limit + 1))
    assert too_big.status_code == 413
