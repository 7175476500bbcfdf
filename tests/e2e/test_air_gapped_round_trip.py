"""The air-gapped round trip, end to end: two homes on one machine stand for the two sides.

The air-gapped side queues work of every type (a file upload and an adapter push among it),
exports it, and deletes its source files. The connected side imports the bundle twice and
an overlapping one, then syncs to real loopback servers and the real MLflow server: every
key arrives once, with the right bytes. Its receipt, imported on the air-gapped side,
completes exactly those operations.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.handlers.mlflow import MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._client import artifact_url
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from tests.support.asgi import AsgiServer
from tests.support.mlflow_server import MlflowServer, mlflow_server, new_run
from tests.support.sync_apps import EffectsApp, UploadsApp

pytestmark = [pytest.mark.mlflow, pytest.mark.slow]

__all__ = ["mlflow_server"]

ADAPTER = {
    "adapter_config.json": 400,
    "adapter_model.safetensors": 3 * 1024 * 1024 + 5,
    "tokenizer/vocab.json": 20_000,
}


def side(root: Path, **sync: object) -> Runtime:
    settings = Settings.load(AppPaths.under(root), environ={})
    settings = dataclasses.replace(settings, sync=dataclasses.replace(settings.sync, **sync))
    return Runtime(settings)


@pytest.fixture
async def rest(mlflow_server: MlflowServer) -> AsyncIterator[MlflowRestClient]:
    async with httpx.AsyncClient(timeout=60) as http:
        yield MlflowRestClient(http, mlflow_server.url, timeout=60)


async def test_work_made_offline_is_delivered_once_and_its_receipt_completes_it(
    tmp_path: Path, mlflow_server: MlflowServer, rest: MlflowRestClient
) -> None:
    experiment_id, run_id = await new_run(rest, "air-gapped")
    effects, uploads = EffectsApp(), UploadsApp()
    work = tmp_path / "work"
    adapter = work / "lora"
    for name, size in ADAPTER.items():
        (adapter / name).parent.mkdir(parents=True, exist_ok=True)
        (adapter / name).write_bytes(os.urandom(size))
    data = work / "eval.bin"
    data.write_bytes(os.urandom(1_500_000))
    originals = {name: (adapter / name).read_bytes() for name in ADAPTER}
    original_data = data.read_bytes()

    with AsgiServer(effects) as api, AsgiServer(uploads) as store:
        # Both sides limit uploads to a folder: the connected side's imported copies must
        # be allowed to leave all the same, and nothing else.
        offline = side(tmp_path / "offline", upload_roots=(str(work),))
        connected = side(
            tmp_path / "connected",
            upload_roots=(str(tmp_path / "elsewhere"),),
            mlflow_tracking_uri=mlflow_server.url,
            auto_sync=False,
        )
        try:
            ids = [
                await offline.submit(
                    "api_call", {"url": api.url("/runs/notes"), "method": "POST", "data": {"n": 1}}
                ),
                await offline.submit("file_upload", {"path": str(data), "url": store.url("/eval")}),
                await offline.submit(
                    "metric_log", {"run_id": run_id, "metrics": {"loss": 0.25}, "step": 3}
                ),
                await offline.submit(
                    "experiment_sync", {"run_id": run_id, "tags": {"stage": "offline"}}
                ),
            ]
            ids.append(
                await offline.submit(
                    "model_push",
                    {"path": str(adapter), "run_id": run_id, "artifact_path": "lora"},
                    depends_on=[ids[2]],
                )
            )
            await offline.export_bundle(tmp_path / "drive" / "first", part_size=1_000_000)
            late = await offline.submit(
                "api_call", {"url": api.url("/runs/late"), "method": "PUT", "data": {"n": 2}}
            )
            await offline.export_bundle(tmp_path / "drive" / "again", everything=True)
            kept_back = await offline.submit("api_call", {"url": api.url("/never")})
            shutil.rmtree(work)  # the drive holds the only copy now

            first = await connected.import_bundle(tmp_path / "drive" / "first")
            twice = await connected.import_bundle(tmp_path / "drive" / "first")
            overlap = await connected.import_bundle(tmp_path / "drive" / "again")
            assert (first.added, twice.added, overlap.added) == (5, 0, 1)

            result = await connected.engine.sync()
            assert result["completed"] == 6, result["errors"]
            # A second sync finds nothing more to send.
            assert (await connected.engine.sync())["total"] == 0
        finally:
            await connected.close()

        keys = {
            op.id: op.idempotency_key
            for op in await offline.queue.list_operations()
            if op.id in (*ids, late)
        }
        seen = Counter(effects.keys())
        assert seen[keys[ids[0]]] == seen[keys[late]] == 1
        assert [path for path, _ in effects.applied] == ["/runs/notes", "/runs/late"]
        assert Counter(uploads.keys()) == Counter({keys[ids[1]]: 1})
        assert uploads.files["/eval"] == original_data

    history = await rest.get_metric_history(run_id, "loss")
    assert [(m["value"], int(m["step"])) for m in history] == [(0.25, 3)]
    run = await rest.get_run(run_id)
    tags = {t["key"]: t["value"] for t in run["data"].get("tags", [])}
    assert tags["stage"] == "offline"
    root = f"{experiment_id}/{run_id}/artifacts/lora"
    for name, content in originals.items():
        got = await rest.http.get(rest.base_url + artifact_url(f"{root}/{name}"))
        assert got.content == content

    connected = side(tmp_path / "connected")
    try:
        receipt = await connected.export_receipt(tmp_path / "drive" / "receipt.json")
    finally:
        await connected.close()
    assert receipt.deliveries == 6
    try:
        marked = await offline.import_receipt(tmp_path / "drive" / "receipt.json")
        again = await offline.import_receipt(tmp_path / "drive" / "receipt.json")
        statuses = {op.id: op.status for op in await offline.queue.list_operations()}
    finally:
        await offline.close()
    assert (marked.completed, again.completed, again.already_completed) == (6, 0, 6)
    assert {i for i, s in statuses.items() if s is OperationStatus.COMPLETED} == {*ids, late}
    assert statuses[kept_back] is OperationStatus.PENDING
