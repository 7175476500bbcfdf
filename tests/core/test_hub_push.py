"""MODEL_PUSH to the Hugging Face Hub: the real ``huggingface_hub`` library, driven by the
handler, against the project's Hub-protocol server on 127.0.0.1 (tests/support/hub_server)."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.huggingface import KEY_TRAILER
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.submit import submit
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.asgi import AsgiServer
from tests.support.hub_server import HubApp
from tests.support.servers import SilentServer

TOKEN = "hf_test_token_0123"
REPO = "tester/my-lora"
SIZES = {
    "adapter_config.json": 612,
    "adapter_model.safetensors": 20 * 1024 * 1024,
    "README.md": 1_500,
}


@pytest.fixture(autouse=True)
def hub_library(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """The library online (for 127.0.0.1 only), without telemetry or a saved login."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "HF_HUB_DISABLE_TELEMETRY", True)
    yield


@pytest.fixture
def hub() -> Iterator[tuple[HubApp, AsgiServer]]:
    app = HubApp(token=TOKEN)
    with AsgiServer(app) as server:
        yield app, server
    assert app.refused == []  # the library used only the routes the server implements


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    folder = tmp_path / "adapters" / "my-lora"
    folder.mkdir(parents=True)
    for name, size in SIZES.items():
        if name.endswith((".md", ".json")):  # text, as the library reads a README.md
            (folder / name).write_text("x" * size)
        else:
            (folder / name).write_bytes(os.urandom(size))
    return folder


def hub_settings(tmp_path: Path, server: AsgiServer | SilentServer, **sync: Any) -> Settings:
    paths = AppPaths.under(tmp_path / "home")
    settings = Settings(paths)
    values = {
        "huggingface_endpoint": server.url("").rstrip("/"),
        "upload_roots": (str(tmp_path / "adapters"),),
        **sync,
    }
    return dataclasses.replace(settings, sync=dataclasses.replace(settings.sync, **values))


async def push(queue: OfflineQueueManager, settings: Settings, adapter: Path, **extra: Any) -> int:
    payload = {"target": "huggingface", "repo_id": REPO, "path": str(adapter), **extra}
    return await submit(queue, OperationType.MODEL_PUSH, payload, settings=settings)


async def sync_once(queue: OfflineQueueManager, settings: Settings, **options: Any) -> Any:
    async with SyncEngine(queue, None, settings=settings, **options) as engine:
        return await engine.sync()


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_three_file_adapter_lands_in_one_commit_with_its_weights_through_lfs(
    hub: tuple[HubApp, AsgiServer], queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    app, server = hub
    settings = hub_settings(tmp_path, server)
    op_id = await push(queue, settings, adapter, private=True, commit_message="LoRA r=8")
    result = await sync_once(queue, settings)
    assert result["completed"] == 1, result["errors"]
    initial, commit = app.commits(REPO)[::-1]
    assert initial.title == "initial commit" and app.repos[REPO].private
    assert commit.title == "LoRA r=8" and sorted(commit.changed) == sorted(SIZES)
    weights = app.file(REPO, "adapter_model.safetensors")
    assert weights is not None and weights.lfs_sha256 == sha256(
        adapter / "adapter_model.safetensors"
    )
    assert app.uploaded == [weights.lfs_sha256]  # the 20 MB file went through LFS, once
    assert app.objects[weights.lfs_sha256] == (adapter / "adapter_model.safetensors").read_bytes()
    config = app.file(REPO, "adapter_config.json")
    assert config is not None and config.lfs_sha256 is None and config.size == 612
    attempts = await queue.get_attempts(op_id)
    details = attempts[-1].details
    assert details["commit"] == commit.oid and details["files_sent"] == 3
    assert details["bytes_sent"] == sum(SIZES.values())


async def test_a_push_whose_commit_answer_was_lost_makes_one_commit(
    hub: tuple[HubApp, AsgiServer], queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    app, server = hub
    settings = hub_settings(tmp_path, server)
    op_id = await push(queue, settings, adapter)
    app.lose_next_commit_answer = True
    first = await sync_once(queue, settings)
    assert first["completed"] == 0 and first["retrying"] == 1
    await queue.retry_now(op_id)
    second = await sync_once(queue, settings)
    assert second["completed"] == 1, second["errors"]
    op = await queue.get_operation(op_id)
    assert op is not None
    assert len(app.commits(REPO)) == 2  # the initial commit and this push, once
    assert f"{KEY_TRAILER}: {op.idempotency_key}" in app.commits(REPO)[0].message
    attempts = await queue.get_attempts(op_id)
    assert attempts[-1].details["found"] is True
    assert sum(1 for method, path in app.requests if path.endswith("/commit/main")) == 1


async def test_a_rate_limited_commit_waits_for_its_retry_after_without_using_an_attempt(
    hub: tuple[HubApp, AsgiServer], queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    app, server = hub
    settings = hub_settings(tmp_path, server)
    op_id = await push(queue, settings, adapter)
    app.throttle_commits = [120]
    result = await sync_once(queue, settings)
    assert result["retrying"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0
    assert op.next_attempt_at is not None
    wait = op.next_attempt_at.timestamp() - op.updated_at.timestamp()
    assert 110 <= wait <= 130
    assert "429" in str(op.error_message) and "rate limit" in str(op.error_message)
    await queue.retry_now(op_id)
    assert (await sync_once(queue, settings))["completed"] == 1
    assert len(app.commits(REPO)) == 2


async def test_the_same_adapter_again_makes_no_commit_and_a_changed_one_sends_only_the_change(
    hub: tuple[HubApp, AsgiServer], queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    app, server = hub
    settings = hub_settings(tmp_path, server)
    await push(queue, settings, adapter)
    assert (await sync_once(queue, settings))["completed"] == 1
    uploads = len(app.uploaded)
    again = await push(queue, settings, adapter)
    assert (await sync_once(queue, settings))["completed"] == 1
    assert len(app.commits(REPO)) == 2 and len(app.uploaded) == uploads
    assert (await queue.get_attempts(again))[-1].details["unchanged"] is True
    (adapter / "adapter_config.json").write_text('{"r": 16}')
    changed = await push(queue, settings, adapter)
    assert (await sync_once(queue, settings))["completed"] == 1
    head = app.commits(REPO)[0]
    assert len(app.commits(REPO)) == 3 and head.changed == ["adapter_config.json"]
    assert len(app.uploaded) == uploads  # the 20 MB weights were not sent again
    assert (await queue.get_attempts(changed))[-1].details["files_sent"] == 1


async def test_a_wrong_token_fails_for_good_with_the_hubs_sentence(
    hub: tuple[HubApp, AsgiServer],
    queue: OfflineQueueManager,
    adapter: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, server = hub
    monkeypatch.setenv("HF_TOKEN", "hf_wrong")
    settings = hub_settings(tmp_path, server)
    op_id = await push(queue, settings, adapter)
    result = await sync_once(queue, settings)
    assert result["failed_for_good"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.FAILED
    assert "401" in str(op.error_message)
    assert "Invalid credentials in Authorization header" in str(op.error_message)
    assert REPO not in app.repos


async def test_a_missing_repository_is_not_created_when_create_repo_is_false(
    hub: tuple[HubApp, AsgiServer], queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    app, server = hub
    settings = hub_settings(tmp_path, server)
    op_id = await push(queue, settings, adapter, create_repo=False)
    result = await sync_once(queue, settings)
    assert result["failed_for_good"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.FAILED
    assert "404" in str(op.error_message) and "Repository not found" in str(op.error_message)
    assert REPO not in app.repos
    # An existing repository is pushed to without being created.
    app.add_repo(REPO)
    await queue.requeue(op_id)
    assert (await sync_once(queue, settings))["completed"] == 1
    assert not any(path == "/api/repos/create" for _, path in app.requests)


async def test_the_commit_budget_makes_further_pushes_to_a_repository_wait(
    hub: tuple[HubApp, AsgiServer], queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    app, server = hub
    # The repository's initial commit and one push fill a budget of two an hour.
    settings = hub_settings(tmp_path, server, huggingface_commits_per_hour=2)
    await push(queue, settings, adapter)
    assert (await sync_once(queue, settings))["completed"] == 1
    (adapter / "README.md").write_text("v2")
    op_id = await push(queue, settings, adapter)
    result = await sync_once(queue, settings)
    assert result["retrying"] == 1 and result["completed"] == 0
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0
    assert "sync.huggingface_commits_per_hour" in str(op.error_message)
    assert op.next_attempt_at is not None
    assert op.next_attempt_at.timestamp() - op.updated_at.timestamp() > 3000
    assert len(app.commits(REPO)) == 2


async def test_a_push_without_endpoint_or_token_waits_and_contacts_nothing(
    hub: tuple[HubApp, AsgiServer],
    queue: OfflineQueueManager,
    adapter: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, server = hub
    settings = hub_settings(tmp_path, server, huggingface_endpoint="")
    op_id = await push(queue, settings, adapter)
    result = await sync_once(queue, settings)
    assert result["waiting_for"] == ["sync.huggingface_endpoint"]
    monkeypatch.delenv("HF_TOKEN")
    settings = hub_settings(tmp_path, server)
    await queue.retry_now(op_id)
    result = await sync_once(queue, settings)
    assert result["waiting_for"] == ["credentials.huggingface_token"]
    named = dataclasses.replace(
        settings, credentials=dataclasses.replace(settings.credentials, huggingface_token="hub")
    )
    await queue.retry_now(op_id)
    result = await sync_once(queue, named, credentials={"hub": TOKEN}.get)
    assert result["completed"] == 1, result["errors"]
    op = await queue.get_operation(op_id)
    assert op is not None and op.retry_count == 0
    assert len(app.commits(REPO)) == 2


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"repo_id": "no-owner"}, "payload.repo_id"),
        ({"repo_id": "a/b/c"}, "payload.repo_id"),
        ({"repo_id": "a/b..c"}, "payload.repo_id"),
        ({"private": "yes"}, "payload.private"),
        ({"create_repo": 1}, "payload.create_repo"),
        ({"revision": 3}, "payload.revision"),
        ({"path_in_repo": "../up"}, "payload.path_in_repo"),
        ({"allow_patterns": [1]}, "payload.allow_patterns"),
        ({"target": "s3"}, "payload.target"),
        ({"ignore_patterns": "*"}, "payload.path"),  # nothing left to push
    ],
)
async def test_a_bad_hub_payload_is_refused_with_its_field(
    queue: OfflineQueueManager, adapter: Path, tmp_path: Path, extra: dict[str, Any], field: str
) -> None:
    settings = Settings(AppPaths.under(tmp_path / "home"))
    payload = {"target": "huggingface", "repo_id": REPO, "path": str(adapter), **extra}
    with pytest.raises(InvalidOperationError) as caught:
        await submit(queue, OperationType.MODEL_PUSH, payload, settings=settings)
    assert caught.value.field == field
    assert (await queue.get_queue_stats())["total"] == 0


async def test_a_link_in_the_adapter_folder_is_refused_when_queued(
    queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the Hub")
    (adapter / "notes.txt").symlink_to(secret)
    settings = Settings(AppPaths.under(tmp_path / "home"))
    payload = {"target": "huggingface", "repo_id": REPO, "path": str(adapter)}
    with pytest.raises(InvalidOperationError, match="symbolic link"):
        await submit(queue, OperationType.MODEL_PUSH, payload, settings=settings)


async def test_defaults_are_fixed_when_queued_and_patterns_pick_the_files(
    hub: tuple[HubApp, AsgiServer], queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    app, server = hub
    settings = hub_settings(tmp_path, server)
    op_id = await push(queue, settings, adapter, path_in_repo="v1/", ignore_patterns=["*.md"])
    op = await queue.get_operation(op_id)
    assert op is not None
    assert op.payload["revision"] == "main" and op.payload["create_repo"] is True
    assert op.payload["path_in_repo"] == "v1"
    assert (await sync_once(queue, settings))["completed"] == 1
    assert sorted(app.commits(REPO)[0].changed) == [
        "v1/adapter_config.json",
        "v1/adapter_model.safetensors",
    ]


async def test_a_file_swapped_for_a_link_after_queueing_is_never_sent(
    hub: tuple[HubApp, AsgiServer], queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    app, server = hub
    settings = hub_settings(tmp_path, server)
    op_id = await push(queue, settings, adapter)
    secret = tmp_path / "id_ed25519"
    secret.write_text("private key")
    (adapter / "adapter_config.json").unlink()
    (adapter / "adapter_config.json").symlink_to(secret)
    result = await sync_once(queue, settings)
    assert result["failed_for_good"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and "symbolic link" in str(op.error_message)
    assert REPO not in app.repos and app.uploaded == []


async def test_the_connectivity_check_probes_the_hub_only_while_pushes_wait(
    hub: tuple[HubApp, AsgiServer], adapter: Path, tmp_path: Path
) -> None:
    from peft_studio_offline.core.runtime import Runtime

    app, server = hub
    settings = hub_settings(tmp_path, server)
    async with Runtime(settings, db_path=tmp_path / "runtime.db") as runtime:
        await runtime.queue.open()
        monitor = runtime.monitor
        await monitor.check_connectivity()
        assert monitor.urls() == set() and app.requests == []  # no work: never contacted
        payload = {"target": "huggingface", "repo_id": REPO, "path": str(adapter)}
        op_id = await runtime.submit(OperationType.MODEL_PUSH, payload)
        assert await monitor.check_connectivity() is True
        assert monitor.urls() == {server.url("/")}
        if monitor._background_check is not None:  # the check the submit asked for
            await monitor._background_check
        probes = len(app.requests)
        assert probes >= 1 and set(app.requests) == {("GET", "/")}
        await runtime.queue.cancel(op_id)
        await monitor.check_connectivity()
        assert monitor.urls() == set() and len(app.requests) == probes


async def test_a_hub_that_never_answers_makes_a_retry_not_a_sync_that_never_ends(
    queue: OfflineQueueManager, adapter: Path, tmp_path: Path
) -> None:
    with SilentServer() as silent:
        settings = hub_settings(tmp_path, silent, request_timeout=1.0)
        op_id = await push(queue, settings, adapter)
        result = await asyncio.wait_for(sync_once(queue, settings), timeout=60)
    assert result["retrying"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.PENDING
    assert "Hugging Face Hub" in str(op.error_message)
