"""An unchanged MLflow training script, logging with the tracking server gone.

The script runs in its own process with the real ``mlflow`` client library (the environment
the MLflow server of the test setup lives in), under ``peft-studio-offline run``: its calls
go to the local endpoint and into the queue. When the server is there, the app delivers, and
the server then holds exactly what the same script logged directly to it holds, once: params,
tags, status, every point of every metric with its step and value. Also after lost answers,
with the delivering app killed half-way, for a resumed run, and for two scripts at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from peft_studio_offline.core.mlflow_local import store_path_for
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.mlflow_server import (
    DroppingProxy,
    MlflowServer,
    ensure_mlflow_installed,
    mlflow_server,
    mlflow_venv,
)
from tests.support.servers import free_port
from tests.support.sqlite_files import connected

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

__all__ = ["mlflow_server"]

STEPS = 2000  # the scenario of the issue; the fault scenarios log fewer to keep the suite short
FAULT_STEPS = 400
SCRIPT = """
import os, sys
import mlflow

experiment, first, last = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
mlflow.set_experiment(experiment)
resume = os.environ.get("RESUME_RUN_ID") or None
with mlflow.start_run(run_id=resume, run_name=None if resume else "lora-r16") as run:
    if resume is None:
        mlflow.log_params({"learning_rate": "0.0002", "lora_r": 16, "lora_alpha": 32})
        mlflow.set_tags({"stage": "train", "base_model": "tiny-llama"})
        mlflow.set_tag("dataset", "alpaca")
        adapter = os.path.join(os.path.dirname(os.path.abspath(__file__)), "adapter")
        mlflow.log_artifact(os.path.join(adapter, "adapter_config.json"))
        mlflow.log_artifacts(adapter, artifact_path="adapter")
    for step in range(first, last):
        mlflow.log_metric("loss", 2.0 / (step + 1), step=step)
    if os.environ.get("FINAL", "1") == "1":
        mlflow.log_metric("final_loss", 0.0421)
    print("run_id=" + run.info.run_id, flush=True)
"""


@pytest.fixture
def script(tmp_path: Path) -> Path:
    ensure_mlflow_installed()
    path = tmp_path / "train.py"
    path.write_text(SCRIPT)
    adapter = tmp_path / "adapter"
    (adapter / "checkpoint").mkdir(parents=True)
    (adapter / "adapter_config.json").write_text('{"r": 16, "lora_alpha": 32}')
    (adapter / "adapter_model.safetensors").write_bytes(os.urandom(300_000))
    (adapter / "checkpoint" / "trainer_state.json").write_text("{}")
    return path


@pytest.fixture(autouse=True)
def no_stray_children() -> Iterator[None]:
    """Scripts a failed test left running are ended, by their ids."""
    yield
    for process in _children:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)
    _children.clear()


_children: list[subprocess.Popen[str]] = []


def script_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    env["PEFT_STUDIO_OFFLINE_API_PORT"] = "0"
    env.update(extra)
    return env


def start_offline(
    script: Path, experiment: str, first: int, last: int, *, target: str, **extra: str
) -> subprocess.Popen[str]:
    """``peft-studio-offline run -- python train.py``; the app's own target is ``target``."""
    python = str(mlflow_venv() / "bin" / "python")
    command = [sys.executable, "-m", "peft_studio_offline", "run", "--", python, str(script)]
    process = subprocess.Popen(
        [*command, experiment, str(first), str(last)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=script_env(MLFLOW_TRACKING_URI=target, **extra),
    )
    _children.append(process)
    return process


def finish(process: subprocess.Popen[str]) -> str:
    """The local run id the script printed, once it ended well."""
    out, err = process.communicate(timeout=280)
    assert process.returncode == 0, err[-3000:]
    return next(line[7:] for line in out.splitlines() if line.startswith("run_id="))


def log_offline(
    script: Path, experiment: str, first: int = 0, last: int = FAULT_STEPS, **extra: str
) -> str:
    # Nothing listens at the app's target while the script runs: the server is gone.
    target = f"http://127.0.0.1:{free_port()}"
    return finish(start_offline(script, experiment, first, last, target=target, **extra))


def log_directly(
    script: Path,
    server: MlflowServer,
    experiment: str,
    first: int = 0,
    last: int = FAULT_STEPS,
    **extra: str,
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(mlflow_venv() / "bin" / "python"), str(script), experiment, str(first), str(last)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=script_env(MLFLOW_TRACKING_URI=server.url, **extra),
    )
    _children.append(process)
    return process


def runtime_for(home: Path, target: str) -> Runtime:
    settings = Settings.load(AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(home)}))
    sync = dataclasses.replace(settings.sync, auto_sync=False, mlflow_tracking_uri=target)
    return Runtime(dataclasses.replace(settings, sync=sync))


async def deliver(home: Path, target: str, rounds: int = 8) -> dict[str, int]:
    """What the app does when the server is back: sync until nothing is left to send."""
    async with runtime_for(home, target) as runtime:
        await runtime.queue.open()
        async with SyncEngine(runtime.queue, None, settings=runtime.settings) as engine:
            for _ in range(rounds):
                await engine.sync()
                for op in await runtime.queue.list_operations(status="pending"):
                    await runtime.queue.retry_now(op.id)
                stats = await runtime.queue.get_queue_stats()
                if stats["pending"] == 0 and stats["in_progress"] == 0:
                    break
        return stats


def wait_for_local_experiment(home: Path, name: str, process: subprocess.Popen[str]) -> None:
    """Until the local endpoint serving ``process`` has recorded the experiment ``name``."""
    queue_path = AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(home)}).database
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if store_path_for(queue_path).exists():
            with connected(store_path_for(queue_path), timeout=30) as conn:
                if conn.execute("SELECT 1 FROM experiments WHERE name = ?", (name,)).fetchone():
                    return
        time.sleep(0.05)
    raise AssertionError(f"the first script made no experiment {name!r} in time")


def assert_every_run_delivered(home: Path, run_ids: set[str]) -> None:
    """Each run the scripts made has a server id, and the queue's counters match its rows."""
    queue_path = AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(home)}).database
    with connected(queue_path) as conn:
        counted = dict(
            conn.execute("SELECT status, count FROM queue_counters WHERE status NOT LIKE '#%'")
        )
        rows = dict(conn.execute("SELECT status, count(*) FROM offline_operations GROUP BY status"))
        creations = conn.execute(
            "SELECT id, status, payload FROM offline_operations WHERE payload LIKE '%create_run%'"
        ).fetchall()
    assert {k: v for k, v in counted.items() if v} == rows, (counted, rows)
    with connected(store_path_for(queue_path)) as conn:
        mapped = dict(conn.execute("SELECT id, remote_id FROM runs"))
    assert all(mapped.get(run) for run in run_ids), (mapped, creations)
    assert len({mapped[run] for run in run_ids}) == len(run_ids), (mapped, creations)


def snapshot(server: MlflowServer, experiment: str) -> list[dict[str, Any]]:
    """Every run of the experiment as the server holds it, without ids and times."""
    api = f"{server.url}/api/2.0/mlflow/"
    with httpx.Client(timeout=30) as http:
        found = http.get(api + "experiments/get-by-name", params={"experiment_name": experiment})
        assert found.status_code == 200, found.text
        experiment_id = found.json()["experiment"]["experiment_id"]
        answer = http.post(
            api + "runs/search",
            json={"experiment_ids": [experiment_id], "run_view_type": "ALL", "max_results": 100},
        ).json()
        runs = []
        for run in answer.get("runs", []):
            run_id = run["info"]["run_id"]
            metrics = {}
            for latest in run["data"].get("metrics", []):
                history = http.get(
                    api + "metrics/get-history",
                    params={"run_id": run_id, "metric_key": latest["key"], "max_results": 25000},
                ).json()["metrics"]
                metrics[latest["key"]] = sorted(
                    (int(p.get("step", 0)), float(p["value"])) for p in history
                )
            runs.append(
                {
                    "artifacts": listed_artifacts(http, server, run["info"]["artifact_uri"]),
                    "status": run["info"]["status"],
                    "lifecycle_stage": run["info"]["lifecycle_stage"],
                    "params": {p["key"]: p["value"] for p in run["data"].get("params", [])},
                    "tags": {t["key"]: t["value"] for t in run["data"].get("tags", [])},
                    "metrics": metrics,
                }
            )
    return sorted(runs, key=repr)


def listed_artifacts(http: httpx.Client, server: MlflowServer, uri: str) -> list[tuple[str, int]]:
    """Every file under a run's artifact root, with its size, through the server's proxy."""
    root = uri.removeprefix("mlflow-artifacts:").strip("/")
    found: list[tuple[str, int]] = []
    folders = [""]
    while folders:
        folder = folders.pop()
        answer = http.get(
            f"{server.url}/api/2.0/mlflow-artifacts/artifacts",
            params={"path": f"{root}/{folder}".rstrip("/")},
        ).json()
        for entry in answer.get("files", []):
            path = f"{folder}/{entry['path']}".strip("/")
            if entry.get("is_dir"):
                folders.append(path)
            else:
                found.append((path, int(entry.get("file_size", 0))))
    return sorted(found)


def check_same(
    server: MlflowServer,
    offline: str,
    direct: str,
    *,
    runs: int = 1,
    steps: int = FAULT_STEPS,
    direct_server: MlflowServer | None = None,
) -> None:
    got, expected = snapshot(server, offline), snapshot(direct_server or server, direct)
    assert len(expected) == runs
    assert len(expected[0]["metrics"]["loss"]) == steps
    assert len(expected[0]["artifacts"]) == 4
    assert got == expected


def new_name(what: str) -> str:
    return f"{what}-{uuid.uuid4().hex[:12]}"


def test_a_script_logged_while_the_server_was_gone_lands_as_if_logged_directly(
    script: Path, isolated_home: Path, tmp_path: Path, mlflow_server: MlflowServer
) -> None:
    server = MlflowServer(tmp_path / "late-server", port=free_port())  # not started: gone
    offline, direct = new_name("offline"), new_name("direct")
    # The reference: the same script logging directly to a server (another one, meanwhile).
    reference = log_directly(script, mlflow_server, direct, 0, STEPS)
    local_id = finish(start_offline(script, offline, 0, STEPS, target=server.url))
    assert local_id
    server.start()
    try:
        stats = asyncio.run(deliver(isolated_home, server.url))
        assert stats["completed"] == stats["total"], stats
        finish(reference)
        check_same(server, offline, direct, steps=STEPS, direct_server=mlflow_server)
    finally:
        server.stop()


def test_lost_answers_change_nothing(
    script: Path, isolated_home: Path, mlflow_server: MlflowServer
) -> None:
    offline, direct = new_name("lost"), new_name("lost-direct")
    reference = log_directly(script, mlflow_server, direct)
    log_offline(script, offline)
    proxy = DroppingProxy(mlflow_server.port).start()
    try:
        proxy.drop("runs/create", 1)
        proxy.drop("runs/log-batch", 1)
        proxy.drop("runs/update", 1)
        stats = asyncio.run(deliver(isolated_home, proxy.url))
        assert len(proxy.dropped) == 3, proxy.dropped
    finally:
        proxy.stop()
    assert stats["completed"] == stats["total"], stats
    finish(reference)
    check_same(mlflow_server, offline, direct)


def test_the_app_killed_while_delivering_delivers_once_after_a_restart(
    script: Path, isolated_home: Path, mlflow_server: MlflowServer
) -> None:
    offline, direct = new_name("killed"), new_name("killed-direct")
    reference = log_directly(script, mlflow_server, direct)
    log_offline(script, offline)
    serve = subprocess.Popen(
        [sys.executable, "-m", "peft_studio_offline", "serve", "--port", "0"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=script_env(MLFLOW_TRACKING_URI=mlflow_server.url, PEFT_STUDIO_OFFLINE_AUTO_SYNC="1"),
    )
    try:
        completed = asyncio.run(wait_for_completed(isolated_home / "data" / "queue.db", 2))
    finally:
        serve.send_signal(signal.SIGKILL)
        serve.wait(30)
    assert completed >= 2
    stats = asyncio.run(deliver(isolated_home, mlflow_server.url))
    assert stats["completed"] == stats["total"], stats
    finish(reference)
    check_same(mlflow_server, offline, direct)


async def wait_for_completed(db: Path, at_least: int, timeout: float = 120) -> int:
    async with OfflineQueueManager(db) as queue:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = (await queue.get_queue_stats())["completed"]
            if done >= at_least:
                return done
            await asyncio.sleep(0.02)
    return 0


def test_a_resumed_run_continues_the_same_run(
    script: Path, isolated_home: Path, mlflow_server: MlflowServer
) -> None:
    offline, direct = new_name("resumed"), new_name("resumed-direct")
    half = FAULT_STEPS // 2
    local_id = log_offline(script, offline, 0, half, FINAL="0")
    # The first part reaches the server (the run is created there) before the second starts.
    asyncio.run(deliver(isolated_home, mlflow_server.url))
    again = log_offline(script, offline, half, FAULT_STEPS, RESUME_RUN_ID=local_id)
    assert again == local_id
    stats = asyncio.run(deliver(isolated_home, mlflow_server.url))
    assert stats["completed"] == stats["total"], stats

    run_id = finish(log_directly(script, mlflow_server, direct, 0, half, FINAL="0"))
    finish(log_directly(script, mlflow_server, direct, half, FAULT_STEPS, RESUME_RUN_ID=run_id))
    check_same(mlflow_server, offline, direct)


def test_two_scripts_at_once(
    script: Path, isolated_home: Path, mlflow_server: MlflowServer
) -> None:
    offline, direct = new_name("two"), new_name("two-direct")
    target = f"http://127.0.0.1:{free_port()}"
    # The second starts once the first has made the experiment: when two processes create
    # the same experiment at once, MLflow's client leaves the loser's experiment unset and
    # its run goes to "Default" (mlflow.set_experiment returns early on
    # RESOURCE_ALREADY_EXISTS), against a real server as against this endpoint.
    first = start_offline(script, offline, 0, FAULT_STEPS, target=target)
    wait_for_local_experiment(isolated_home, offline, first)
    both = [first, start_offline(script, offline, 0, FAULT_STEPS, target=target)]
    ids = {finish(process) for process in both}
    assert len(ids) == 2
    stats = asyncio.run(deliver(isolated_home, mlflow_server.url))
    assert stats["completed"] == stats["total"], stats
    assert_every_run_delivered(isolated_home, ids)
    first = log_directly(script, mlflow_server, direct)
    finish(first)  # the second directly: the experiment exists then (MLflow's client races)
    finish(log_directly(script, mlflow_server, direct))
    check_same(mlflow_server, offline, direct, runs=2)
