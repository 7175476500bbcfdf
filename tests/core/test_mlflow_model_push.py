"""MODEL_PUSH to a real MLflow server: adapter files through the artifact proxy, one version."""

from __future__ import annotations

import dataclasses
import os
import uuid
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.handlers.mlflow import (
    IDEMPOTENCY_TAG,
    MlflowRestClient,
    prepare_mlflow_payload,
)
from peft_studio_offline.core.handlers.mlflow._client import artifact_url
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.mlflow_server import DroppingProxy, MlflowServer, mlflow_server, new_run

pytestmark = pytest.mark.mlflow

__all__ = ["mlflow_server"]

SIZES = {
    "adapter_config.json": 612,
    "adapter_model.safetensors": 6 * 1024 * 1024 + 17,
    "README.md": 1_500,
    "tokenizer/tokenizer.json": 300_000,
    "tokenizer/special tokens map.json": 0,
}


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    folder = tmp_path / "my-lora"
    for name, size in SIZES.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return folder


async def listed_sizes(rest: MlflowRestClient, root: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for entry in await rest.list_artifacts(root):
        if entry["is_dir"]:
            for name, size in (await listed_sizes(rest, f"{root}/{entry['path']}")).items():
                sizes[f"{entry['path']}/{name}"] = size
        else:
            sizes[entry["path"]] = entry.get("file_size", 0)  # 0 is left out
    return sizes


async def push(
    queue: OfflineQueueManager, adapter: Path, run_id: str, **extra: str
) -> tuple[int, str]:
    payload = prepare_mlflow_payload(
        "model_push", {"path": str(adapter), "run_id": run_id, **extra}
    )
    op_id = await queue.enqueue(OperationType.MODEL_PUSH, payload)
    op = await queue.get_operation(op_id)
    assert op is not None
    return op_id, op.idempotency_key


async def test_an_adapter_folder_lands_in_the_runs_artifacts_with_its_sizes(
    mlflow_server: MlflowServer,
    rest: MlflowRestClient,
    queue: OfflineQueueManager,
    adapter: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    experiment_id, run_id = await new_run(rest)
    op_id, _ = await push(queue, adapter, run_id, artifact_path="lora/v1")
    async with SyncEngine(queue, None) as engine:
        result = await engine.sync()
    assert result["completed"] == 1, result["errors"]
    root = f"{experiment_id}/{run_id}/artifacts/lora/v1"
    assert await listed_sizes(rest, root) == SIZES
    weights = await rest.http.get(rest.base_url + artifact_url(f"{root}/adapter_model.safetensors"))
    assert weights.content == (adapter / "adapter_model.safetensors").read_bytes()
    attempts = await queue.get_attempts(op_id)
    assert attempts[-1].details["bytes"] == sum(SIZES.values())
    assert attempts[-1].details["files"] == len(SIZES)


async def test_a_registered_model_gets_one_version_however_often_the_push_is_retried(
    mlflow_server: MlflowServer,
    rest: MlflowRestClient,
    queue: OfflineQueueManager,
    adapter: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, run_id = await new_run(rest)
    name = f"lora-{uuid.uuid4().hex[:8]}"
    with DroppingProxy(mlflow_server.port) as proxy:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
        op_id, key = await push(queue, adapter, run_id, registered_model_name=name)
        # Lose the answer at each step in turn: an upload, the listing, the model's
        # creation, the search, and the version's creation itself.
        for step in (
            "mlflow-artifacts/artifacts/",
            "GET /api/2.0/mlflow-artifacts/artifacts?",
            "registered-models/create",
            "model-versions/search",
            "model-versions/create",
        ):
            proxy.drop(step)
        async with SyncEngine(queue, None, breaker_threshold=1000) as engine:
            for _ in range(10):
                result = await engine.sync()
                op = await queue.get_operation(op_id)
                assert op is not None
                if op.status is not OperationStatus.PENDING:
                    break
                await queue.retry_now(op_id)
            assert len(proxy.dropped) == 5
            # Delivered once more after it completed (at-least-once): still no new version.
            await queue.requeue(op_id)
            assert (await engine.sync())["completed"] == 1
        # The lost creation was found by its tag on the retry, never sent twice.
        assert sum("model-versions/create" in line for line in proxy.requests) == 1
    assert op.status is OperationStatus.COMPLETED, result["errors"]
    versions = await rest.search_model_versions(f"name = '{name}'")
    assert len(versions) == 1
    tags = {t["key"]: t["value"] for t in versions[0]["tags"]}
    assert tags[IDEMPOTENCY_TAG] == key
    assert versions[0]["source"] == f"runs:/{run_id}/adapter"
    attempts = await queue.get_attempts(op_id)
    assert attempts[-1].details["version"] == "1"
    assert len([a for a in attempts if a.outcome == "retry"]) == 5


async def test_a_second_push_registers_a_second_version(
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    queue: OfflineQueueManager,
    adapter: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    _, run_id = await new_run(rest)
    name = f"lora-{uuid.uuid4().hex[:8]}"
    await push(queue, adapter, run_id, registered_model_name=name)
    await push(queue, adapter, run_id, registered_model_name=name, artifact_path="again")
    async with SyncEngine(queue, None) as engine:
        assert (await engine.sync())["completed"] == 2
    versions = await rest.search_model_versions(f"name = '{name}'")
    assert sorted(v["version"] for v in versions) == ["1", "2"]


async def test_missing_run_unusable_names_and_missing_folder_fail_for_good(
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    queue: OfflineQueueManager,
    adapter: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    _, run_id = await new_run(rest)
    no_run, _ = await push(queue, adapter, "f" * 32)
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "notes #1.txt").write_text("x")
    bad_name, _ = await push(queue, odd, run_id)
    gone = tmp_path / "gone"
    gone.mkdir()
    vanished = await queue.enqueue(
        "model_push", prepare_mlflow_payload("model_push", {"path": str(gone), "run_id": run_id})
    )
    gone.rmdir()
    async with SyncEngine(queue, None) as engine:
        result = await engine.sync()
    assert result["failed"] == 3
    messages = {}
    for op_id in (no_run, bad_name, vanished):
        op = await queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.FAILED
        messages[op_id] = op.error_message or ""
    assert f"MLflow has no run '{'f' * 32}'" in messages[no_run]
    assert "notes #1.txt" in messages[bad_name]
    assert f"{gone} does not exist" in messages[vanished]


# ------------------------------------------------- files leave only from allowed folders


def allowing(*roots: Path) -> Settings:
    settings = Settings.load()
    sync = dataclasses.replace(settings.sync, upload_roots=tuple(str(r) for r in roots))
    return dataclasses.replace(settings, sync=sync)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret.txt").write_text("the private key")
    (folder / "adapter_model.safetensors").write_bytes(b"someone else's weights")
    return folder


async def test_a_link_inside_an_adapter_folder_is_refused_by_name(
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    queue: OfflineQueueManager,
    tmp_path: Path,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    experiment_id, run_id = await new_run(rest)
    allowed = tmp_path / "allowed"
    folder = allowed / "lora"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    op_id, _ = await push(queue, folder, run_id)  # a link is refused at enqueue too
    (folder / "secret.txt").symlink_to(Path("..") / ".." / "outside" / "secret.txt")
    async with SyncEngine(queue, None, settings=allowing(allowed)) as engine:
        assert (await engine.sync())["failed"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.FAILED
    assert "symbolic links ('secret.txt')" in (op.error_message or "")
    assert await rest.list_artifacts(f"{experiment_id}/{run_id}/artifacts") == []


async def test_an_adapter_folder_swapped_for_a_link_or_outside_the_roots_is_not_pushed(
    rest: MlflowRestClient,
    mlflow_server: MlflowServer,
    queue: OfflineQueueManager,
    tmp_path: Path,
    outside: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    experiment_id, run_id = await new_run(rest)
    allowed = tmp_path / "allowed"
    folder = allowed / "lora"
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    swapped, _ = await push(queue, folder, run_id)
    (folder / "adapter_config.json").unlink()
    folder.rmdir()
    folder.symlink_to(outside, target_is_directory=True)
    # Queued when no folder was allowed; the roots set since then hold at send time.
    elsewhere, _ = await push(queue, outside, run_id, artifact_path="elsewhere")
    async with SyncEngine(queue, None, settings=allowing(allowed)) as engine:
        assert (await engine.sync())["failed"] == 2
    first, second = await queue.get_operation(swapped), await queue.get_operation(elsewhere)
    assert first is not None and second is not None
    assert "is a symbolic link" in (first.error_message or "")
    assert "outside the folders allowed" in (second.error_message or "")
    assert await rest.list_artifacts(f"{experiment_id}/{run_id}/artifacts") == []
