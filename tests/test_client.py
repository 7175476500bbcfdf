"""The training-script client: through a running app's API, or straight into the database."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline import client as client_module
from peft_studio_offline.api.server import ApiServer
from peft_studio_offline.client import ClientError, OfflineClient
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from tests.support.servers import SilentServer, refused_url


def read_queue(path: Path) -> list[Operation]:
    async def read() -> list[Operation]:
        async with OfflineQueueManager(path) as queue:
            return await queue.list_operations()

    return asyncio.run(read())


@dataclass
class RunningApp:
    server: ApiServer
    db_path: Path
    loop: asyncio.AbstractEventLoop


@pytest.fixture
def running_app(isolated_home: Path, tmp_path: Path) -> Iterator[RunningApp]:
    """The app's API in a thread with its own loop, over a database of its own.

    Its file differs from the client's default one, so a test can tell which path an
    operation took.
    """
    uploads = tmp_path / "uploads"
    uploads.mkdir()
    paths = AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(isolated_home)})
    base = Settings.load(paths)
    settings = dataclasses.replace(
        base, sync=dataclasses.replace(base.sync, auto_sync=False, upload_roots=(str(uploads),))
    )
    db_path = tmp_path / "app.db"
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        runtime = Runtime(settings, db_path=db_path)
        await runtime.queue.open()
        server = ApiServer(runtime, port=0)
        await server.start()
        holder.update(server=server, runtime=runtime)
        started.set()
        await server.wait_closed()
        await runtime.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield RunningApp(holder["server"], db_path, loop)
    finally:
        asyncio.run_coroutine_threadsafe(holder["server"].stop(), loop).result(30)
        thread.join(30)
        loop.close()


@pytest.fixture(autouse=True)
def fresh_default_client() -> Iterator[None]:
    yield
    if client_module._default is not None:
        client_module._default.close()
        client_module._default = None


def default_db(home: Path) -> Path:
    return home / "data" / "queue.db"


# ----------------------------------------------------------------- no app running


def test_log_metrics_without_an_app_goes_into_the_database(isolated_home: Path) -> None:
    op_id = client_module.log_metrics("run-1", {"loss": 0.25, "lr": 1e-4}, step=10)
    assert isinstance(op_id, int)
    client_module.get_client().close()
    [operation] = read_queue(default_db(isolated_home))
    assert operation.id == op_id
    assert operation.operation_type == "metric_log"
    assert operation.payload["run_id"] == "run-1"
    metrics = {m["key"]: m for m in operation.payload["metrics"]}
    assert metrics["loss"]["value"] == 0.25
    assert metrics["loss"]["step"] == 10
    assert isinstance(metrics["loss"]["timestamp"], int)


def test_a_training_loop_logs_every_step(isolated_home: Path) -> None:
    with OfflineClient() as client:
        ids = [
            client.log_metrics("run-2", {"loss": 1.0 / (step + 1)}, step=step) for step in range(50)
        ]
    assert len(set(ids)) == 50
    operations = read_queue(default_db(isolated_home))
    assert [op.payload["metrics"][0]["step"] for op in operations] == list(range(50))


def test_not_finite_values_are_kept_as_mlflow_spells_them(isolated_home: Path) -> None:
    with OfflineClient() as client:
        first = client.log_metrics("run-3", {"loss": float("nan"), "acc": 0.5}, step=1)
        second = client.log_metrics("run-3", {"loss": float("inf")}, step=2)
    operations = read_queue(default_db(isolated_home))
    assert [op.id for op in operations] == [first, second]
    values = [[m["value"] for m in op.payload["metrics"]] for op in operations]
    assert values == [["NaN", 0.5], ["Infinity"]]


def test_bad_input_raises_client_error(isolated_home: Path, tmp_path: Path) -> None:
    with OfflineClient() as client:
        with pytest.raises(ClientError, match="must be a number, not 'low'"):
            client.log_metrics("run", {"loss": "low"})
        with pytest.raises(ClientError, match="run_id"):
            client.log_metrics("", {"loss": 1.0})
        with pytest.raises(ClientError, match="Unknown operation type"):
            client.enqueue("teleport", {})
        with pytest.raises(ClientError, match="does not exist"):
            client.push_adapter(tmp_path / "missing-adapter", run_id="run")
        with pytest.raises(ValueError, match="JSON"):
            client.call_api("/x", data={"when": object()})
    assert not default_db(isolated_home).exists() or read_queue(default_db(isolated_home)) == []


def test_every_kind_of_operation(isolated_home: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"12345")
    with OfflineClient() as client:
        client.call_api("/api/models", "post", data={"name": "a"}, headers={"X-Api-Key": "k"})
        client.call_api("https://example.test/hook")
        client.push_adapter(adapter, run_id="run-4", registered_model_name="my-adapter")
        client.upload_file(weights, "http://127.0.0.1:9/upload")
        client.sync_experiment("run-4", {"stage": "done"}, note="finished")
    operations = read_queue(default_db(isolated_home))
    call, hook = (op.payload for op in operations if op.operation_type == "api_call")
    assert call["endpoint"] == "/api/models"
    assert call["method"] == "POST"
    assert call["data"] == {"name": "a"}
    assert hook == {"url": "https://example.test/hook", "method": "GET"}
    by_type = {op.operation_type: op.payload for op in operations}
    assert by_type["model_push"]["path"] == str(adapter.resolve())
    assert by_type["model_push"]["run_id"] == "run-4"
    assert by_type["file_upload"]["size"] == 5
    assert by_type["experiment_sync"]["tags"] == {"stage": "done"}
    assert by_type["experiment_sync"]["note"] == "finished"


def test_an_unusable_database_is_reported_not_raised(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("not a database")
    with OfflineClient(db_path=path) as client:
        assert client.log_metrics("run", {"loss": 1.0}) is None
    assert path.read_text() == "not a database"


def test_a_dead_app_is_not_waited_for(isolated_home: Path) -> None:
    data = isolated_home / "data"
    data.mkdir(parents=True)
    (data / "api-server.json").write_text(
        json.dumps({"url": refused_url().rstrip("/"), "pid": 2**22 + 4321})
    )
    (data / "api-token").write_text("t" * 43)
    with OfflineClient() as client:
        assert client.log_metrics("run", {"loss": 1.0}) is not None
    assert len(read_queue(default_db(isolated_home))) == 1


def test_a_refused_connection_falls_back_to_the_database(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEFT_STUDIO_OFFLINE_API_URL", refused_url().rstrip("/"))
    monkeypatch.setenv("PEFT_STUDIO_OFFLINE_API_TOKEN", "t" * 43)
    assert client_module.log_metrics("run", {"loss": 1.0}, step=1) is not None
    assert client_module.log_metrics("run", {"loss": 0.9}, step=2) is not None
    client_module.get_client().close()
    assert len(read_queue(default_db(isolated_home))) == 2


def test_a_server_that_never_answers_is_given_up_and_left_alone(isolated_home: Path) -> None:
    with (
        SilentServer() as silent,
        OfflineClient(api_url=silent.url("/"), token="t" * 43, timeout=0.5) as client,
    ):
        for step in range(5):
            assert client.log_metrics("run", {"loss": 1.0}, step=step) is not None
        # One try, then the server is left alone for a while rather than asked every step.
        assert silent.connection_count == 1
    assert len(read_queue(default_db(isolated_home))) == 5


# ------------------------------------------------------------------ app running


def test_with_a_running_app_operations_go_through_its_api(
    running_app: RunningApp, isolated_home: Path
) -> None:
    op_id = client_module.log_metrics("run-5", {"loss": 0.5}, step=3)
    client_module.call_api("/api/models", "GET")
    client_module.get_client().close()
    stored = read_queue(running_app.db_path)
    assert [op.id for op in stored][0] == op_id
    assert [op.operation_type for op in stored] == ["metric_log", "api_call"]
    assert not default_db(isolated_home).exists()


def test_the_api_refusal_of_a_path_is_raised(running_app: RunningApp, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    with OfflineClient() as client, pytest.raises(ClientError, match="outside the folders"):
        client.upload_file(secret, "http://127.0.0.1:9/u")
    assert read_queue(running_app.db_path) == []


def test_a_wrong_token_falls_back_to_the_database(
    running_app: RunningApp, isolated_home: Path
) -> None:
    with OfflineClient(api_url=running_app.server.url, token="w" * 43) as client:
        assert client.log_metrics("run", {"loss": 1.0}) is not None
    assert read_queue(running_app.db_path) == []
    assert len(read_queue(default_db(isolated_home))) == 1


def test_use_api_false_always_writes_the_database(
    running_app: RunningApp, isolated_home: Path
) -> None:
    with OfflineClient(use_api=False) as client:
        client.log_metrics("run", {"loss": 1.0})
    assert read_queue(running_app.db_path) == []
    assert len(read_queue(default_db(isolated_home))) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_forked_worker_logs_without_waiting_on_the_parent(isolated_home: Path) -> None:
    with OfflineClient() as client:
        assert client.log_metrics("run", {"loss": 1.0}, step=0) is not None  # thread started
        pid = os.fork()
        if pid == 0:  # the child: a data-loader worker
            code = 0 if client.log_metrics("run", {"loss": 0.5}, step=1) else 3
            client.close()
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert client.log_metrics("run", {"loss": 0.25}, step=2) is not None
    steps = [op.payload["metrics"][0]["step"] for op in read_queue(default_db(isolated_home))]
    assert sorted(steps) == [0, 1, 2]


def test_an_adapter_is_queued_for_the_hugging_face_hub(isolated_home: Path, tmp_path: Path) -> None:
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    (adapter / "adapter_model.safetensors").write_bytes(b"\0" * 64)
    with OfflineClient() as client:
        op_id = client.push_adapter(
            adapter, target="huggingface", repo_id="me/my-lora", private=True,
            ignore_patterns=["*.md"],
        )  # fmt: skip
        with pytest.raises(ClientError, match="owner/name"):
            client.push_adapter(adapter, target="huggingface", repo_id="my-lora")
        with pytest.raises(ClientError, match="mlflow or huggingface"):
            client.push_adapter(adapter, target="s3")
    [operation] = read_queue(default_db(isolated_home))
    assert operation.id == op_id and operation.operation_type == "model_push"
    assert operation.payload == {
        "path": str(adapter.resolve()),
        "target": "huggingface",
        "repo_id": "me/my-lora",
        "private": True,
        "ignore_patterns": ["*.md"],
        "revision": "main",
        "commit_message": "Upload adapter",
        "create_repo": True,
        "path_in_repo": "",
    }


def test_a_value_json_cannot_carry_is_refused_with_the_database_paths_sentence(
    running_app: RunningApp,
) -> None:
    """Through the app's API the same sentence as without it, never a raw TypeError."""
    with OfflineClient() as client:
        with pytest.raises(ClientError, match="must be a number"):
            client.log_metrics("run", {"loss": {1, 2}}, step=1)  # type: ignore[dict-item]
        with pytest.raises(ClientError, match="cannot be stored as JSON"):
            client.call_api("http://127.0.0.1:9/x", "POST", data={"s": {1, 2}})


def test_a_buffered_client_beside_a_serving_app_stores_everything_at_once(
    running_app: RunningApp, isolated_home: Path
) -> None:
    """Groups go straight into the database: one request per call through the API could not
    keep up, and closing gave up after 30 s with the rest unstored."""
    with OfflineClient(durability="buffered") as client:
        for step in range(20_000):
            client.log_metrics("run", {"loss": 1.0}, step=step)
        assert client.flush()
        assert client.held_in_memory == 0
    steps = [op.payload["metrics"][0]["step"] for op in read_all(default_db(isolated_home))]
    assert steps == list(range(20_000))


def read_all(path: Path) -> list[Operation]:
    async def read() -> list[Operation]:
        async with OfflineQueueManager(path) as queue:
            return await queue.list_operations(limit=None)

    return asyncio.run(read())
