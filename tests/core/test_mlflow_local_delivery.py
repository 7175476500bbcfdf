"""What the local MLflow endpoint queued, delivered to a real MLflow server once, ids mapped."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.handlers.mlflow import MlflowRestClient
from peft_studio_offline.core.mlflow_local import LOCAL_RUN_TAG
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.mlflow_server import DroppingProxy, MlflowServer, mlflow_server

pytestmark = pytest.mark.mlflow

__all__ = ["mlflow_server"]


def make_runtime(home: Path) -> Runtime:
    settings = Settings.load(AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(home)}))
    settings = dataclasses.replace(
        settings, sync=dataclasses.replace(settings.sync, auto_sync=False)
    )
    return Runtime(settings)


@pytest.fixture
async def runtime(tmp_path: Path) -> AsyncIterator[Runtime]:
    async with make_runtime(tmp_path / "home") as rt:
        await rt.queue.open()
        yield rt


async def sync_all(runtime: Runtime, rounds: int = 6) -> dict[str, int]:
    """Sync until nothing is pending (a lost answer leaves work for the next run)."""
    async with SyncEngine(runtime.queue, None, settings=runtime.settings) as engine:
        for _ in range(rounds):
            await engine.sync()
            for op in await runtime.queue.list_operations(status="pending"):
                await runtime.queue.retry_now(op.id)
            stats = await runtime.queue.get_queue_stats()
            if stats["pending"] == 0:
                return stats
    return await runtime.queue.get_queue_stats()


async def log_a_run(runtime: Runtime, name: str) -> str:
    mlflow = runtime.mlflow
    experiment_id = (await mlflow.call("experiments/create", {"name": name}))["experiment_id"]
    run = await mlflow.call(
        "runs/create",
        {
            "experiment_id": experiment_id,
            "start_time": 1000,
            "run_name": "first",
            "tags": [{"key": "mlflow.user", "value": "me"}],
        },
    )
    run_id: str = run["run"]["info"]["run_id"]
    await mlflow.call("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"})
    await mlflow.call("runs/set-tag", {"run_id": run_id, "key": "stage", "value": "train"})
    for step in range(30):
        await mlflow.call(
            "runs/log-metric",
            {
                "run_id": run_id,
                "key": "loss",
                "value": 1 / (step + 1),
                "timestamp": 2000 + step,
                "step": step,
            },
        )
    await mlflow.call("runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 9000})
    return run_id


async def remote_runs(rest: MlflowRestClient, name: str) -> list[dict[str, Any]]:
    answer = await rest.get_json("experiments/get-by-name", {"experiment_name": name})
    experiment_id = answer["experiment"]["experiment_id"]
    found = await rest.post_json(
        "runs/search", {"experiment_ids": [experiment_id], "run_view_type": "ALL"}
    )
    runs: list[dict[str, Any]] = found.get("runs", [])
    return runs


async def check_delivered(rest: MlflowRestClient, name: str) -> str:
    runs = await remote_runs(rest, name)
    assert len(runs) == 1
    run = runs[0]
    assert run["info"]["status"] == "FINISHED"
    assert int(run["info"]["end_time"]) == 9000
    assert int(run["info"]["start_time"]) == 1000
    data = run["data"]
    assert {p["key"]: p["value"] for p in data["params"]} == {"lr": "0.1"}
    assert {t["key"]: t["value"] for t in data["tags"]} == {
        "mlflow.user": "me",
        "mlflow.runName": "first",
        "stage": "train",
    }
    remote_id: str = run["info"]["run_id"]
    history = await rest.get_metric_history(remote_id, "loss")
    points = sorted((int(p["step"]), float(p["value"]), int(p["timestamp"])) for p in history)
    assert points == [(s, 1 / (s + 1), 2000 + s) for s in range(30)]
    return remote_id


async def test_a_run_made_offline_is_delivered_once(
    runtime: Runtime,
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    name = f"offline-{uuid.uuid4().hex}"
    local_id = await log_a_run(runtime, name)
    stats = await sync_all(runtime)
    assert stats["completed"] == stats["total"]
    remote_id = await check_delivered(rest, name)
    assert remote_id != local_id
    # Reads keep answering with the local id, from local state.
    answer = await runtime.mlflow.call("runs/get", {"run_id": local_id})
    assert answer["run"]["info"]["run_id"] == local_id
    # A second sync sends nothing again.
    assert (await sync_all(runtime))["total"] == stats["total"]
    await check_delivered(rest, name)


async def test_a_lost_answer_to_run_creation_makes_no_second_run(
    runtime: Runtime,
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    proxy = DroppingProxy(mlflow_server.port).start()
    try:
        proxy.drop("runs/create", 1)
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
        name = f"lost-{uuid.uuid4().hex}"
        await log_a_run(runtime, name)
        stats = await sync_all(runtime)
        assert proxy.dropped and "runs/create" in proxy.dropped[0]
    finally:
        proxy.stop()
    assert stats["completed"] == stats["total"]
    await check_delivered(rest, name)


async def test_a_run_created_before_its_mapping_was_recorded_is_found_by_its_tag(
    runtime: Runtime,
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As when the app died between the server's answer and recording the id."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    name = f"found-{uuid.uuid4().hex}"
    local_id = await log_a_run(runtime, name)
    experiment_id = await rest.create_experiment(name)
    await rest.post_json(
        "runs/create",
        {
            "experiment_id": experiment_id,
            "start_time": 1000,
            "run_name": "first",
            "tags": [
                {"key": "mlflow.user", "value": "me"},
                {"key": LOCAL_RUN_TAG, "value": local_id},
            ],
        },
    )
    stats = await sync_all(runtime)
    assert stats["completed"] == stats["total"]
    await check_delivered(rest, name)


async def test_the_mapping_outlives_the_process(
    tmp_path: Path,
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    name = f"resumed-{uuid.uuid4().hex}"
    async with make_runtime(tmp_path / "home") as first:
        await first.queue.open()
        local_id = await log_a_run(first, name)
        await sync_all(first)
    remote_id = await check_delivered(rest, name)
    async with make_runtime(tmp_path / "home") as second:  # a new process, the run resumed
        await second.queue.open()
        run = await second.mlflow.call("runs/get", {"run_id": local_id})
        assert run["run"]["info"]["status"] == "FINISHED"
        await second.mlflow.call("runs/update", {"run_id": local_id, "status": "RUNNING"})
        await second.mlflow.call(
            "runs/log-metric",
            {"run_id": local_id, "key": "loss", "value": 0.01, "timestamp": 3000, "step": 30},
        )
        await second.mlflow.call(
            "runs/update", {"run_id": local_id, "status": "FINISHED", "end_time": 9000}
        )
        stats = await sync_all(second)
        assert stats["completed"] == stats["total"]
    history = await rest.get_metric_history(remote_id, "loss")
    assert len(history) == 31
    assert len(await remote_runs(rest, name)) == 1


async def log_from_checkpoint(runtime: Runtime, name: str) -> None:
    """Steps 0-29, then the script restarts from its checkpoint at 20 and logs 20-39."""
    mlflow = runtime.mlflow
    experiment_id = (await mlflow.call("experiments/create", {"name": name}))["experiment_id"]
    run = await mlflow.call("runs/create", {"experiment_id": experiment_id, "start_time": 1})
    run_id = run["run"]["info"]["run_id"]
    for first, last, stamp, value in ((0, 30, 2000, 1.0), (20, 40, 3000, 2.0)):
        for step in range(first, last):
            await mlflow.call(
                "runs/log-metric",
                {
                    "run_id": run_id,
                    "key": "loss",
                    "value": value,
                    "timestamp": stamp + step,
                    "step": step,
                },
            )


@pytest.mark.parametrize("replace", [True, False])
async def test_points_logged_again_from_a_checkpoint_replace_the_queued_ones(
    tmp_path: Path,
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    monkeypatch: pytest.MonkeyPatch,
    replace: bool,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    runtime = make_runtime(tmp_path / "home")
    sync = dataclasses.replace(runtime.settings.sync, mlflow_replace_queued_points=replace)
    runtime.settings = dataclasses.replace(runtime.settings, sync=sync)
    name = f"checkpoint-{uuid.uuid4().hex}"
    async with runtime:
        await runtime.queue.open()
        await log_from_checkpoint(runtime, name)
        stats = await sync_all(runtime)
    assert stats["completed"] == stats["total"]
    (run,) = await remote_runs(rest, name)
    history = await rest.get_metric_history(run["info"]["run_id"], "loss")
    points = sorted((int(p["step"]), float(p["value"])) for p in history)
    if replace:
        assert points == [(s, 1.0) for s in range(20)] + [(s, 2.0) for s in range(20, 40)]
    else:
        assert len(points) == 50
