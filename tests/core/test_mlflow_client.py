"""The MLflow REST client against a real tracking server."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.core.handlers.mlflow._client import MlflowRestClient, artifact_url
from peft_studio_offline.core.handlers.mlflow._errors import (
    MlflowRequestError,
    MlflowUnreachableError,
)
from tests.support.mlflow_server import MlflowServer, mlflow_server
from tests.support.servers import refused_url

pytestmark = pytest.mark.mlflow

__all__ = ["mlflow_server"]


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


@pytest.fixture
def client(http: httpx.AsyncClient, mlflow_server: MlflowServer) -> MlflowRestClient:
    return MlflowRestClient(http, mlflow_server.url, idempotency_key="client-test")


async def new_run(client: MlflowRestClient) -> tuple[str, str]:
    experiment_id = await client.create_experiment(f"client-{uuid.uuid4().hex}")
    run = await client.create_run(experiment_id)
    return experiment_id, run["info"]["run_id"]


async def test_log_batch_round_trip_and_identical_resend_is_stored_once(
    client: MlflowRestClient,
) -> None:
    _, run_id = await new_run(client)
    points = [
        {"key": "loss", "value": 1.0 / (i + 1), "timestamp": 1000 + i, "step": i} for i in range(5)
    ]
    await client.log_batch(run_id, metrics=points, params=[{"key": "lr", "value": "0.1"}])
    # The handlers rely on this: a resend of the same points (and the same param) is a no-op.
    await client.log_batch(run_id, metrics=points, params=[{"key": "lr", "value": "0.1"}])

    history = await client.get_metric_history(run_id, "loss")
    assert sorted((p["step"], p["timestamp"], p["value"]) for p in history) == [
        (p["step"], p["timestamp"], p["value"]) for p in points
    ]
    run = await client.get_run(run_id)
    assert {"key": "lr", "value": "0.1"} in run["data"]["params"]


async def test_a_changed_param_is_refused_with_the_servers_message(
    client: MlflowRestClient,
) -> None:
    _, run_id = await new_run(client)
    await client.log_batch(run_id, params=[{"key": "lr", "value": "0.1"}])
    with pytest.raises(MlflowRequestError) as caught:
        await client.log_batch(run_id, params=[{"key": "lr", "value": "0.2"}])
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert caught.value.status_code == 400
    assert "Changing param values is not allowed" in (caught.value.server_message or "")
    assert not caught.value.transient


async def test_a_missing_run_is_a_resource_that_does_not_exist(client: MlflowRestClient) -> None:
    with pytest.raises(MlflowRequestError) as caught:
        await client.get_run(uuid.uuid4().hex)
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert caught.value.details()["status_code"] == 404


async def test_an_unreachable_server_is_transient(http: httpx.AsyncClient) -> None:
    client = MlflowRestClient(http, refused_url(), timeout=2.0)
    with pytest.raises(MlflowUnreachableError) as caught:
        await client.log_batch("abc", metrics=[{"key": "a", "value": 1, "timestamp": 1, "step": 0}])
    assert caught.value.transient
    assert "cannot be reached" in str(caught.value)


async def test_a_wrong_tracking_path_says_to_check_the_uri(
    http: httpx.AsyncClient, mlflow_server: MlflowServer
) -> None:
    client = MlflowRestClient(http, mlflow_server.url + "/not-mlflow")
    with pytest.raises(MlflowRequestError) as caught:
        await client.get_run("abc")
    assert caught.value.status_code == 404
    assert "tracking URI" in str(caught.value)


async def test_every_request_carries_the_idempotency_key(mlflow_server: MlflowServer) -> None:
    seen: list[str | None] = []

    async def record(request: httpx.Request) -> None:
        seen.append(request.headers.get("Idempotency-Key"))

    async with httpx.AsyncClient(event_hooks={"request": [record]}) as http:
        client = MlflowRestClient(http, mlflow_server.url, idempotency_key="op-7-key")
        _, run_id = await new_run(client)
        await client.log_batch(run_id, tags=[{"key": "a", "value": "b"}])
        await client.with_key("op-8-key").set_tag(run_id, "a", "c")
    assert seen == ["op-7-key", "op-7-key", "op-7-key", "op-8-key"]


async def test_artifacts_stream_to_the_proxy_with_their_sizes(
    client: MlflowRestClient, tmp_path: Path
) -> None:
    experiment_id, run_id = await new_run(client)
    big = tmp_path / "adapter_model.safetensors"
    big.write_bytes(os.urandom(2_500_000))
    odd = tmp_path / "a file (1).json"
    odd.write_text("{}")
    root = f"{experiment_id}/{run_id}/artifacts/adapter"

    assert (
        await client.upload_artifact(f"{root}/{big.name}", big, chunk_size=64 * 1024) == 2_500_000
    )
    assert await client.upload_artifact(f"{root}/sub/{odd.name}", odd) == 2

    listed = {f["path"]: f for f in await client.list_artifacts(root)}
    assert listed["adapter_model.safetensors"]["file_size"] == 2_500_000
    assert listed["sub"]["is_dir"] is True
    nested = await client.list_artifacts(f"{root}/sub")
    assert [(f["path"], f["file_size"]) for f in nested] == [("a file (1).json", 2)]
    downloaded = await client.http.get(client.base_url + artifact_url(f"{root}/{big.name}"))
    assert downloaded.content == big.read_bytes()


async def test_registry_create_is_reported_once_and_versions_are_found_by_tag(
    client: MlflowRestClient,
) -> None:
    _, run_id = await new_run(client)
    name = f"model-{uuid.uuid4().hex[:8]}"
    assert await client.create_registered_model(name) is True
    assert await client.create_registered_model(name) is False
    key = "peft_studio_offline.idempotency_key"
    version = await client.create_model_version(
        name, f"runs:/{run_id}/adapter", run_id=run_id, tags={key: "k-1"}
    )
    assert version["version"] == "1"
    found = await client.search_model_versions(f"name = '{name}' and tags.`{key}` = 'k-1'")
    assert [v["version"] for v in found] == ["1"]
    assert await client.search_model_versions(f"name = '{name}' and tags.`{key}` = 'k-2'") == []


async def test_tags_and_run_updates(client: MlflowRestClient) -> None:
    _, run_id = await new_run(client)
    await client.set_tag(run_id, "team", "nlp")
    await client.set_tag(run_id, "gone", "soon")
    await client.delete_tag(run_id, "gone")
    info = await client.update_run(run_id, run_name="renamed", status="FINISHED")
    assert info["run_name"] == "renamed"
    run = await client.get_run(run_id)
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert tags["team"] == "nlp"
    assert "gone" not in tags
    assert run["info"]["status"] == "FINISHED"
