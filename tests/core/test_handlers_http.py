"""The API_CALL handler against real servers on 127.0.0.1: keys, retries, lost answers."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.handlers import parse_retry_after, prepare_payload
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.asgi import AsgiServer
from tests.support.sync_apps import EffectsApp, ScriptedApp


@pytest.fixture
def effects() -> Iterator[tuple[EffectsApp, AsgiServer]]:
    app = EffectsApp()
    with AsgiServer(app) as server:
        yield app, server


async def sync_until_settled(engine: SyncEngine, queue: OfflineQueueManager) -> None:
    """Sync again (after short backoffs) until nothing is pending or in progress."""
    for _ in range(200):
        await engine.sync()
        stats = await queue.get_queue_stats()
        if stats["pending"] == 0 and stats["in_progress"] == 0:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"The queue did not settle: {await queue.get_queue_stats()}")


async def test_relative_endpoint_method_body_params_and_headers(
    queue: OfflineQueueManager,
    effects: tuple[EffectsApp, AsgiServer],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app, server = effects
    monkeypatch.setenv("PEFT_STUDIO_OFFLINE_API_BASE_URL", server.url("/api"))
    async with SyncEngine(queue, None) as engine:  # the variable is read now
        op_id = await queue.enqueue(
            "api_call",
            {
                "endpoint": "/models/upload",
                "method": "POST",
                "data": {"model_name": "my-adapter"},
                "params": {"dry": "no"},
                "headers": {"X-Trace": "t1", "idempotency-key": "not this one"},
            },
        )
        result = await engine.sync()
    assert result["completed"] == 1
    assert app.applied == [("/api/models/upload", {"model_name": "my-adapter"})]
    request = app.seen[0]
    assert request.method == "POST" and request.headers["x-trace"] == "t1"
    op = await queue.get_operation(op_id)
    assert op is not None and request.key == op.idempotency_key
    assert request.raw_headers.count(b"idempotency-key") == 1
    history = await queue.get_attempts(op_id)
    assert history[-1].details["status"] == 201


async def test_same_key_on_every_attempt_and_different_between_operations(
    queue: OfflineQueueManager,
) -> None:
    app = ScriptedApp([(503, {}, {"detail": "down"}), (502, {}, "bad gateway")])
    with AsgiServer(app) as server:
        async with SyncEngine(queue, None, concurrency=1) as engine:
            first = await queue.enqueue("api_call", {"url": server.url("/a"), "method": "PUT"})
            second = await queue.enqueue("api_call", {"url": server.url("/b"), "method": "PUT"})
            await sync_until_settled(engine, queue)
    keys_a = [r.key for r in app.seen if r.path == "/a"]
    keys_b = [r.key for r in app.seen if r.path == "/b"]
    op_a, op_b = await queue.get_operation(first), await queue.get_operation(second)
    assert op_a is not None and op_b is not None
    assert len(keys_a) + len(keys_b) == 4  # two 5xx answers, then one success each
    assert set(keys_a) == {op_a.idempotency_key} and set(keys_b) == {op_b.idempotency_key}
    assert op_a.idempotency_key != op_b.idempotency_key
    assert op_a.status is op_b.status is OperationStatus.COMPLETED


async def test_retry_after_seconds_and_http_date_are_honoured(
    queue: OfflineQueueManager,
) -> None:
    app = ScriptedApp([(429, {"Retry-After": "1"}, {"detail": "slow down"})])
    with AsgiServer(app) as server:
        async with SyncEngine(queue, None) as engine:
            op_id = await queue.enqueue("api_call", {"url": server.url("/x"), "method": "POST"})
            first = await engine.sync()
            assert first["failed"] == 1 and "429" in first["errors"][0]["error"]
            op = await queue.get_operation(op_id)
            assert op is not None and op.next_attempt_at is not None
            wait = op.next_attempt_at.timestamp() - op.updated_at.timestamp()
            assert abs(wait - 1.0) < 0.01  # the server's wish, not the (tiny) backoff
            assert (await engine.sync())["total"] == 0  # not due before then
            await asyncio.sleep(max(0.0, op.next_attempt_at.timestamp() - time.time()) + 0.05)
            soon = datetime.now(UTC) + timedelta(seconds=2)
            app.script = [(503, {"Retry-After": format_datetime(soon, usegmt=True)}, "busy")]
            second = await engine.sync()
            assert second["failed"] == 1 and "busy" in second["errors"][0]["error"]
            op = await queue.get_operation(op_id)
            assert op is not None and op.next_attempt_at is not None
            wait = op.next_attempt_at.timestamp() - op.updated_at.timestamp()
            assert 0.9 <= wait <= 2.0  # until the date given, at whole-second resolution
            await asyncio.sleep(max(0.0, op.next_attempt_at.timestamp() - time.time()) + 0.05)
            assert (await engine.sync())["completed"] == 1
    details = [a.details for a in await queue.get_attempts(op_id)]
    assert details[0]["retry_after"] == 1.0 and details[0]["status"] == 429


def test_parse_retry_after() -> None:
    now = 1_700_000_000.0
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("-5") == 0.0
    date = format_datetime(datetime.fromtimestamp(now + 30, UTC), usegmt=True)
    assert parse_retry_after(date, now=now) == 30.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    assert parse_retry_after("1e12") == 24 * 3600.0


async def test_client_errors_fail_for_good_with_the_servers_message(
    queue: OfflineQueueManager,
) -> None:
    app = ScriptedApp()
    app.always = (422, {}, {"detail": "model_name is required"})
    with AsgiServer(app) as server:
        async with SyncEngine(queue, None) as engine:
            op_id = await queue.enqueue("api_call", {"url": server.url("/m"), "method": "POST"})
            result = await engine.sync()
    assert result["failed"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.FAILED and op.retry_count == 1
    assert op.error_message is not None and "422" in op.error_message
    assert "model_name is required" in op.error_message
    assert len(app.seen) == 1


async def test_408_and_5xx_are_retried(queue: OfflineQueueManager) -> None:
    app = ScriptedApp([(408, {}, "timeout"), (500, {}, "oops")])
    with AsgiServer(app) as server:
        async with SyncEngine(queue, None) as engine:
            op_id = await queue.enqueue("api_call", {"url": server.url("/r"), "method": "POST"})
            await sync_until_settled(engine, queue)
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.COMPLETED and op.retry_count == 2


async def test_bad_payload_fails_for_good_without_a_request(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer]
) -> None:
    app, server = effects
    async with SyncEngine(queue, None) as engine:
        # Stored around the submit path (enqueue takes any object): the handler refuses it.
        bad = await queue.enqueue("api_call", {"url": server.url("/x"), "method": "FETCH"})
        result = await engine.sync()
    assert result["failed"] == 1 and result["failed_for_good"] == 1
    op = await queue.get_operation(bad)
    assert op is not None and op.status is OperationStatus.FAILED
    assert op.error_message == "Unknown HTTP method 'FETCH'."
    assert op.next_attempt_at is None  # failed for good: no next try to show
    assert app.seen == []


async def test_relative_endpoint_waits_for_an_api_base_url(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer]
) -> None:
    app, _ = effects
    async with SyncEngine(queue, None) as engine:  # no API base URL configured
        relative = await queue.enqueue("api_call", {"endpoint": "/x", "method": "POST"})
        result = await engine.sync()
    assert (result["failed"], result["waiting"]) == (0, 1)
    assert result["waiting_for"] == ["sync.api_base_url"]
    op = await queue.get_operation(relative)
    assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0
    reason = await queue.wait_reason(relative)
    assert reason is not None and "set sync.api_base_url" in reason
    assert app.seen == []


async def test_lost_response_after_the_effect_is_not_applied_twice(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer]
) -> None:
    app, server = effects
    app.drop_next = 3
    async with SyncEngine(queue, None) as engine:
        ids = [
            await queue.enqueue(
                "api_call", {"url": server.url(f"/items/{n}"), "method": "POST", "data": {"n": n}}
            )
            for n in range(5)
        ]
        first = await engine.sync()
        assert first["failed"] == 3  # effect in, answer lost: the engine cannot know
        await sync_until_settled(engine, queue)
    assert sorted(n for _, body in app.applied for n in [body["n"]]) == [0, 1, 2, 3, 4]
    assert len(app.seen) == 8  # 5 first tries + 3 retries, replayed by key
    for op_id in ids:
        op = await queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.COMPLETED


async def test_server_killed_and_restarted_mid_sync_loses_and_doubles_nothing(
    queue: OfflineQueueManager,
) -> None:
    app = EffectsApp(delay=0.01)
    server = AsgiServer(app).start()
    try:
        async with SyncEngine(queue, None, concurrency=4, batch_size=8) as engine:
            await queue.enqueue_many(
                [
                    {
                        "operation_type": "api_call",
                        "payload": {
                            "url": server.url(f"/items/{n}"),
                            "method": "POST",
                            "data": {"n": n},
                        },
                    }
                    for n in range(60)
                ]
            )
            run = asyncio.create_task(engine.sync())
            while len(app.applied) < 10:
                await asyncio.sleep(0.005)
            await asyncio.to_thread(server.kill)
            result = await run
            assert result["completed"] < 60 and result["failed"] > 0
            await asyncio.to_thread(server.start)
            await sync_until_settled(engine, queue)
    finally:
        server.stop()
    assert sorted(body["n"] for _, body in app.applied) == list(range(60))
    stats = await queue.get_queue_stats()
    assert stats["completed"] == 60 and stats["failed"] == 0


def test_prepare_payload_leaves_api_calls_alone() -> None:
    payload = {"endpoint": "/x", "method": "GET"}
    assert prepare_payload("api_call", payload) == payload


async def test_changes_to_one_url_keep_their_order_even_across_a_failure(
    queue: OfflineQueueManager,
) -> None:
    app = ScriptedApp([(503, {}, "warming up")])
    with AsgiServer(app) as server:
        async with SyncEngine(queue, None, concurrency=8) as engine:
            for n in range(10):
                await queue.enqueue(
                    "api_call", {"url": server.url("/items/a"), "method": "PUT", "data": n}
                )
            first = await engine.sync()
            # The first change failed: the nine after it wait instead of overtaking it.
            assert first["failed"] == 1 and first["released"] == 9 and first["total"] == 1
            await sync_until_settled(engine, queue)
    bodies = [int(r.body) for r in app.seen]
    assert bodies == [0, *range(10)]


async def test_the_api_token_goes_to_the_configured_api_only(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer]
) -> None:
    app, server = effects
    other = EffectsApp()
    loaded = Settings.load()
    settings = dataclasses.replace(
        loaded,
        sync=dataclasses.replace(loaded.sync, api_base_url=server.url("/api")),
        credentials=dataclasses.replace(loaded.credentials, api_token="api-token"),
    )
    asked: list[str] = []

    def lookup(name: str) -> str | None:
        asked.append(name)
        return "s3cret"

    with AsgiServer(other) as elsewhere:
        async with SyncEngine(queue, None, settings=settings, credentials=lookup) as engine:
            await queue.enqueue("api_call", {"endpoint": "runs", "method": "POST", "data": {}})
            await queue.enqueue("api_call", {"url": elsewhere.url("/x"), "method": "POST"})
            assert (await engine.sync())["completed"] == 2
    assert app.seen[0].path == "/api/runs"
    assert app.seen[0].headers["authorization"] == "Bearer s3cret"
    assert "authorization" not in other.seen[0].headers
    assert set(asked) == {"api-token"}


async def test_a_one_off_sync_leaves_no_connection_open(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer]
) -> None:
    _app, server = effects
    engine = SyncEngine(queue, None)  # as the command line uses it: never closed
    await queue.enqueue("api_call", {"url": server.url("/x"), "method": "POST"})
    assert (await engine.sync())["completed"] == 1
    assert engine._clients == []  # closed with the run: nothing left for the collector


async def test_posts_to_one_collection_go_in_parallel_and_puts_in_order(
    queue: OfflineQueueManager,
) -> None:
    app = EffectsApp(delay=0.05)
    with AsgiServer(app) as server:
        async with SyncEngine(queue, None, concurrency=8) as engine:
            for n in range(24):
                await queue.enqueue(
                    "api_call", {"url": server.url("/api/metrics"), "method": "POST", "data": n}
                )
            assert (await engine.sync())["completed"] == 24
            assert app.most_in_flight >= 4, app.most_in_flight

            app.most_in_flight = 0
            for n in range(6):
                await queue.enqueue(
                    "api_call", {"url": server.url("/api/runs/1"), "method": "PATCH", "data": n}
                )
            assert (await engine.sync())["completed"] == 6
            assert app.most_in_flight == 1
    assert [body for path, body in app.applied if path == "/api/runs/1"] == list(range(6))
