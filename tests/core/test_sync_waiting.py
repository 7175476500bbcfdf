"""Work whose target or credential is not configured yet waits for it; it never fails.

Real queue files and real servers on 127.0.0.1: operations are queued before any target is
set, a sync uses no attempt on them, and once the setting appears (given to the engine, in
the settings file of a running runtime, or in a credential store) they go.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from peft_studio_offline.core.sync.progress import outcome_phrases
from tests.support.asgi import AsgiServer
from tests.support.servers import refused_url
from tests.support.sync_apps import EffectsApp, ScriptedApp


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    async with OfflineQueueManager(tmp_path / "q.db", backoff_base=0.01) as q:
        yield q


@pytest.fixture
def effects() -> Iterator[tuple[EffectsApp, AsgiServer]]:
    app = EffectsApp()
    with AsgiServer(app) as server:
        yield app, server


def settings_with(paths: AppPaths, **sync: object) -> Settings:
    base = Settings(paths=paths)
    return dataclasses.replace(base, sync=dataclasses.replace(base.sync, **sync))


async def until(condition: Callable[[], object], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the condition did not come true in time")
        await asyncio.sleep(0.02)


async def test_a_run_without_targets_fails_nothing_and_goes_once_they_are_set(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer], isolated_home: Path
) -> None:
    app, server = effects
    paths = AppPaths.under(isolated_home)
    calls = [{"endpoint": f"/items/{n}", "method": "POST", "data": {"n": n}} for n in range(200)]
    metrics = [{"run_id": "r", "metrics": {"loss": 0.5}} for _ in range(100)]
    ids = await queue.enqueue_many(
        [{"operation_type": "api_call", "payload": p} for p in calls]
        + [{"operation_type": "metric_log", "payload": p} for p in metrics]
    )
    async with SyncEngine(queue, None, settings=settings_with(paths)) as engine:
        result = await engine.sync()
        assert (result["failed"], result["waiting"], result["total"]) == (0, 300, 300)
        assert result["waiting_for"] == ["sync.api_base_url", "sync.mlflow_tracking_uri"]
        stats = await queue.get_queue_stats()
        assert (stats["pending"], stats["failed"]) == (300, 0)
        for op_id in (ids[0], ids[-1]):
            op = await queue.get_operation(op_id)
            assert op is not None and op.retry_count == 0
            [attempt] = await queue.get_attempts(op_id)
            assert attempt.outcome == "waiting" and attempt.attempt == 0
        assert "set sync.api_base_url" in str(await queue.wait_reason(ids[0]))
        assert "set sync.mlflow_tracking_uri" in str(await queue.wait_reason(ids[-1]))
        assert app.seen == []

        # The API base URL appears (the Settings dialog, the file): the calls go at once.
        await engine.apply_settings(settings_with(paths, api_base_url=server.url("/")))
        result = await engine.sync()
    assert (result["completed"], result["waiting"], result["failed"]) == (200, 100, 0)
    assert sorted(body["n"] for _, body in app.applied) == list(range(200))
    for op_id in ids[:200]:
        op = await queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.COMPLETED and op.retry_count == 0
    assert (await queue.get_queue_stats())["pending"] == 100  # the metrics wait on


async def test_a_running_runtime_sends_them_when_the_settings_file_gains_the_target(
    effects: tuple[EffectsApp, AsgiServer], isolated_home: Path
) -> None:
    app, server = effects
    paths = AppPaths.under(isolated_home)
    paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
    paths.settings_file.write_text("[network]\ncheck_interval = 60.0\n")  # a fresh install
    runtime = Runtime(Settings.load(paths))
    try:
        await runtime.start()  # monitoring and automatic sync, as the window and serve do
        op_id = await runtime.submit("api_call", {"endpoint": "/later", "method": "PUT"})
        result = await runtime.engine.sync()  # Sync now: nowhere to send it yet
        assert (result["waiting"], result["failed"]) == (1, 0)
        op = await runtime.queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0

        # As the Settings dialog saves it: the running app notices, probes the new target,
        # finds it online and sends the work, without a restart or another click.
        paths.settings_file.write_text(
            paths.settings_file.read_text() + f'\n[sync]\napi_base_url = "{server.url("/")}"\n'
        )
        await until(lambda: app.applied)
        assert app.applied == [("/later", None)]
        await until(lambda: runtime.engine.history[-1]["completed"] == 1)
        op = await runtime.queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.COMPLETED and op.retry_count == 0
    finally:
        await runtime.close()


async def test_a_missing_secret_waits_for_the_credential_and_then_goes(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer], isolated_home: Path
) -> None:
    app, server = effects
    paths = AppPaths.under(isolated_home)
    secrets: dict[str, str] = {}
    settings = settings_with(paths, api_base_url=server.url("/api"))
    settings = dataclasses.replace(
        settings, credentials=dataclasses.replace(settings.credentials, api_token="team")
    )
    op_id = await queue.enqueue("api_call", {"endpoint": "/models", "method": "POST"})
    async with SyncEngine(queue, None, settings=settings, credentials=secrets.get) as engine:
        result = await engine.sync()
        assert (result["waiting"], result["waiting_for"]) == (1, ["credentials.api_token"])
        reason = str(await queue.wait_reason(op_id))
        assert "'team'" in reason and "credentials.api_token" in reason
        assert app.seen == []  # never sent without the token it should carry

        secrets["team"] = "tok-1"  # entered in the Settings dialog
        await engine.apply_settings(settings)
        assert (await engine.sync())["completed"] == 1
    assert app.seen[0].headers["authorization"] == "Bearer tok-1"
    op = await queue.get_operation(op_id)
    assert op is not None and op.retry_count == 0


async def test_the_summary_counts_failed_for_good_apart_from_retried_and_waiting(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer], isolated_home: Path
) -> None:
    _, server = effects
    await queue.enqueue("api_call", {"url": server.url("/x"), "method": "FETCH"})  # for good
    await queue.enqueue("api_call", {"url": refused_url("/y"), "method": "POST"})  # unreachable
    await queue.enqueue("api_call", {"endpoint": "/z", "method": "POST"})  # not configured
    settings = settings_with(AppPaths.under(isolated_home))
    async with SyncEngine(queue, None, settings=settings) as engine:
        result = await engine.sync()
    assert (result["failed_for_good"], result["retrying"], result["waiting"]) == (1, 1, 1)
    assert outcome_phrases(result) == [
        "1 failed for good",
        "1 will be retried",
        "1 waits for a setting (sync.api_base_url)",
    ]
    stats = await queue.get_queue_stats()
    assert (stats["failed"], stats["pending"]) == (1, 2)
    [failed] = await queue.list_operations(status="failed")
    assert failed.next_attempt_at is None and failed.to_dict()["next_attempt_at"] is None


async def test_a_missing_mlflow_secret_waits_and_is_never_sent_without_it(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer], isolated_home: Path
) -> None:
    app, server = effects  # plays the tracking server: nothing may reach it
    settings = settings_with(AppPaths.under(isolated_home), mlflow_tracking_uri=server.url("/"))
    settings = dataclasses.replace(
        settings, credentials=dataclasses.replace(settings.credentials, mlflow_token="ml")
    )
    op_id = await queue.enqueue("experiment_sync", {"run_id": "r", "tags": {"stage": "done"}})
    async with SyncEngine(queue, None, settings=settings, credentials={}.get) as engine:
        result = await engine.sync()
    assert (result["waiting"], result["waiting_for"]) == (1, ["credentials.mlflow_token"])
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0
    assert "credentials.mlflow_token" in str(await queue.wait_reason(op_id))
    assert app.seen == []


async def test_an_api_that_asks_for_a_token_none_is_set_for_waits_for_one(
    queue: OfflineQueueManager, isolated_home: Path
) -> None:
    app = ScriptedApp()
    app.always = (401, {}, {"detail": "Not authenticated"})
    with AsgiServer(app) as server:
        base = server.url("/api")
        settings = settings_with(AppPaths.under(isolated_home), api_base_url=base)
        waiting = await queue.enqueue("api_call", {"endpoint": "/models", "method": "POST"})
        # A token of its own, or a URL elsewhere: the server's refusal is final.
        own = await queue.enqueue(
            "api_call", {"endpoint": "/m", "method": "POST", "headers": {"Authorization": "x"}}
        )
        secrets: dict[str, str] = {}  # the credential store
        async with SyncEngine(queue, None, settings=settings, credentials=secrets.get) as engine:
            result = await engine.sync()
            assert (result["waiting"], result["failed_for_good"]) == (1, 1)
            assert result["waiting_for"] == ["credentials.api_token"]
            op = await queue.get_operation(waiting)
            assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0
            assert "credentials.api_token" in str(await queue.wait_reason(waiting))
            failed = await queue.get_operation(own)
            assert failed is not None and failed.status is OperationStatus.FAILED

            # The user names a token and enters it: the server takes it now.
            app.always = None
            named = dataclasses.replace(
                settings, credentials=dataclasses.replace(settings.credentials, api_token="t")
            )
            secrets["t"] = "tok"  # as the Settings dialog stores it
            await engine.apply_settings(named)
            assert (await engine.sync())["completed"] == 1
    assert app.seen[-1].headers["authorization"] == "Bearer tok"


async def test_once_the_settings_change_nothing_says_it_needs_a_setting_until_a_sync_finds_it(
    queue: OfflineQueueManager, isolated_home: Path
) -> None:
    paths = AppPaths.under(isolated_home)
    op_id = await queue.enqueue("metric_log", {"run_id": "r", "metrics": {"loss": 0.5}})
    async with SyncEngine(queue, None, settings=settings_with(paths)) as engine:
        await engine.sync()
        [summary] = await queue.list_summaries()
        waits = await queue.row_waits([summary])
        assert waits[op_id].waiting_for == "sync.mlflow_tracking_uri"
        assert "set sync.mlflow_tracking_uri" in str(await queue.wait_reason(op_id))

        # Saved in the Settings dialog: not sent yet (no sync has run), and no longer said
        # to need the setting, which may be there now.
        await engine.apply_settings(settings_with(paths, api_base_url="http://127.0.0.1:9/"))
        [summary] = await queue.list_summaries()
        assert summary.error_message is None
        assert op_id not in await queue.row_waits([summary])
        assert "sync.mlflow_tracking_uri" not in str(await queue.wait_reason(op_id))
        assert [a.outcome for a in await queue.get_attempts(op_id)] == ["waiting"]

        # The setting that changed was another one: the next sync records the wait again.
        await engine.sync()
        [summary] = await queue.list_summaries()
        assert (await queue.row_waits([summary]))[op_id].waiting_for == "sync.mlflow_tracking_uri"


async def test_the_engine_says_why_it_waits_as_the_table_does(
    queue: OfflineQueueManager, isolated_home: Path
) -> None:
    """No target named yet, then a host paused after failures: the same words as the table's,
    for the HTTP API and the command line (which ask the engine)."""
    paths = AppPaths.under(isolated_home)
    op_id = await queue.enqueue("api_call", {"endpoint": "/things", "method": "GET"})
    async with SyncEngine(queue, None, settings=settings_with(paths), breaker_threshold=1) as e:
        assert "Needs a setting" in str(await e.wait_reason(op_id))
        assert await queue.wait_reason(op_id) == "Ready: waiting for the next sync."
        await e.apply_settings(settings_with(paths, api_base_url="http://127.0.0.1:9/api"))
        e.breaker.record_failure("127.0.0.1:9")
        assert "The host 127.0.0.1:9 is paused" in str(await e.wait_reason(op_id))


async def test_an_operation_whose_url_comes_after_a_long_body_is_not_said_to_need_a_setting(
    queue: OfflineQueueManager, isolated_home: Path
) -> None:
    payload = {"method": "POST", "json": {"notes": "x" * 20_000}, "url": "http://127.0.0.1:9/x"}
    op_id = await queue.enqueue("api_call", payload)
    async with SyncEngine(queue, None, settings=settings_with(AppPaths.under(isolated_home))) as e:
        assert "Needs a setting" not in str(await e.wait_reason(op_id))
