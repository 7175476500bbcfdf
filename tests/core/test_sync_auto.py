"""Automatic sync with a real NetworkMonitor; stopping; joining; the per-host breaker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.enums import NetworkStatus, OperationStatus
from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from peft_studio_offline.core.sync.progress import SyncEvent
from tests.support.asgi import AsgiServer
from tests.support.servers import HttpServer
from tests.support.sync_apps import EffectsApp, ScriptedApp


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    async with OfflineQueueManager(tmp_path / "q.db", backoff_base=0.01) as q:
        yield q


async def eventually(check: Callable[[], Awaitable[bool] | bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value if isinstance(value, bool) else await value:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("The condition was not met in time.")


def post(server: AsgiServer, n: int) -> dict[str, Any]:
    return {"url": server.url(f"/items/{n}"), "method": "POST", "data": {"n": n}}


async def test_auto_sync_runs_when_online_and_again_when_work_is_due(
    queue: OfflineQueueManager,
) -> None:
    app = EffectsApp()
    with AsgiServer(app) as server:
        async with (
            NetworkMonitor(
                [server.url("/health")], check_interval=3600, timeout=2, failure_threshold=1
            ) as monitor,
            SyncEngine(queue, monitor) as engine,
        ):
            for n in range(3):
                await queue.enqueue("api_call", post(server, n))
            await engine.start_auto_sync()
            assert engine.get_status()["auto_sync"] is True
            await asyncio.sleep(0.2)
            assert app.applied == []  # the monitor has not said online yet

            assert await monitor.check_connectivity()
            await eventually(lambda: len(app.applied) == 3)

            await queue.enqueue("api_call", post(server, 3))  # new work
            await eventually(lambda: len(app.applied) == 4)

            app.drop_next = 1  # applied, answer lost: retried when due, once in effect
            await queue.enqueue("api_call", post(server, 4))

            async def all_completed() -> bool:
                return (await queue.get_queue_stats())["completed"] == 5

            await eventually(all_completed)
            await engine.stop_auto_sync()
            assert engine.get_status()["auto_sync"] is False
    assert sorted(body["n"] for _, body in app.applied) == [0, 1, 2, 3, 4]
    assert len(app.seen) == 6


async def test_work_that_fell_due_after_the_last_claim_wakes_the_engine_at_once(
    queue: OfflineQueueManager,
) -> None:
    """Due by the time the engine plans its sleep, but not when its run looked: a retry
    whose short backoff ended in between. It must not wait for the idle poll."""

    async def handler(payload: dict[str, Any]) -> bool:
        return True

    async with SyncEngine(queue, None, idle_poll=30) as engine:
        engine.register_handler("api_call", handler)
        await queue.enqueue("api_call", {"n": 1}, not_before=time.time() + 0.2)
        assert (await engine.sync())["total"] == 0  # a run looked: nothing was due yet
        await asyncio.sleep(0.3)
        assert await engine._next_wakeup() == 0.01  # due since then: at once
        assert (await engine.sync())["completed"] == 1

        # Due when a run looked, and left: it waits on something, so the idle poll.
        later = await queue.enqueue("api_call", {"n": 2}, not_before=time.time() + 3600)
        await queue.enqueue("api_call", {"n": 3}, depends_on=[later])
        assert (await engine.sync())["total"] == 0
        assert await engine._next_wakeup() == 30


async def test_offline_stops_at_once_and_puts_work_back_as_pending(
    queue: OfflineQueueManager,
) -> None:
    started = asyncio.Event()

    async def hangs(payload: dict[str, Any]) -> bool:
        started.set()
        await asyncio.Event().wait()  # as a request to a network that just went away
        return True

    events: list[SyncEvent] = []
    with HttpServer() as health:
        async with (
            NetworkMonitor(
                [health.url("/")], check_interval=3600, timeout=2, failure_threshold=1
            ) as monitor,
            SyncEngine(queue, monitor, concurrency=2) as engine,
        ):
            engine.add_progress_listener(events.append)
            engine.register_handler("api_call", hangs)
            ids = [await queue.enqueue("api_call", {"n": n}) for n in range(3)]
            await engine.start_auto_sync()
            await monitor.check_connectivity()
            await asyncio.wait_for(started.wait(), 10)
            assert engine.get_status()["running"] is True

            health.stop()
            await monitor.check_connectivity()
            assert monitor.status is NetworkStatus.OFFLINE

            async def nothing_in_flight() -> bool:
                stats = await queue.get_queue_stats()
                return stats["in_progress"] == 0 and not engine.get_status()["running"]

            await eventually(nothing_in_flight, timeout=5)
            for op_id in ids:
                op = await queue.get_operation(op_id)
                assert op is not None
                assert op.status is OperationStatus.PENDING and op.retry_count == 0
            assert any(a.outcome == "released" for a in await queue.get_attempts(ids[0]))
            finished = [e for e in events if e.kind == "finished"]
            assert finished and finished[-1].result is not None
            assert finished[-1].result["stopped"] is True
            assert finished[-1].result["failed"] == 0
            assert engine.history[-1]["stopped"] is True
            await engine.stop_auto_sync()


async def test_manual_sync_joins_the_running_automatic_one(queue: OfflineQueueManager) -> None:
    gate = asyncio.Event()
    started = asyncio.Event()

    async def waits(payload: dict[str, Any]) -> bool:
        started.set()
        await gate.wait()
        return True

    events: list[SyncEvent] = []
    async with SyncEngine(queue, None) as engine:  # no monitor: always worth a try
        engine.add_progress_listener(events.append)
        engine.register_handler("api_call", waits)
        for n in range(3):
            await queue.enqueue("api_call", {"n": n})
        await engine.start_auto_sync()
        await asyncio.wait_for(started.wait(), 10)
        manual = asyncio.create_task(engine.sync())
        await asyncio.sleep(0.05)
        assert not manual.done()
        gate.set()
        result = await asyncio.wait_for(manual, 10)
        await engine.stop_auto_sync()
    assert result["trigger"] == "auto" and result["completed"] == 3
    assert [e.run_id for e in events if e.kind == "started"][0] == result["run_id"]


async def test_stop_auto_sync_is_prompt_and_clean(queue: OfflineQueueManager) -> None:
    started = asyncio.Event()

    async def hangs(payload: dict[str, Any]) -> bool:
        started.set()
        await asyncio.Event().wait()
        return True

    async with SyncEngine(queue, None) as engine:
        engine.register_handler("api_call", hangs)
        op_id = await queue.enqueue("api_call", {})
        await engine.start_auto_sync()
        await asyncio.wait_for(started.wait(), 10)
        await asyncio.wait_for(engine.stop_auto_sync(), 2)
        assert engine.get_status()["running"] is False
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0


async def test_a_failing_host_is_paused_and_the_status_says_until_when(
    queue: OfflineQueueManager,
) -> None:
    app = ScriptedApp()
    app.always = (503, {}, {"detail": "down"})
    ok = EffectsApp()
    with AsgiServer(app) as failing, AsgiServer(ok) as healthy:
        async with SyncEngine(
            queue, None, concurrency=1, breaker_threshold=2, breaker_cooldown=60
        ) as engine:
            for n in range(5):
                await queue.enqueue("api_call", post(failing, n))
            await queue.enqueue("api_call", post(healthy, 99))
            result = await engine.sync()
            assert (result["failed"], result["released"], result["completed"]) == (2, 3, 1)
            assert len(app.seen) == 2  # not hammered
            assert len(ok.applied) == 1  # one failing host blocks no other
            status = engine.get_status()
            host = f"127.0.0.1:{failing.port}"
            assert [p["host"] for p in status["paused_hosts"]] == [host]
            until = datetime.fromisoformat(status["paused_until"]).timestamp()
            assert 50 < until - time.time() <= 60
            # The user asks again: one trial request, then paused again.
            again = await engine.sync()
            assert again["failed"] == 1 and len(app.seen) == 3
            assert engine.get_status()["paused_hosts"]


async def test_a_run_cancelled_from_outside_puts_its_work_back(
    queue: OfflineQueueManager,
) -> None:
    started = asyncio.Event()

    async def hangs(payload: dict[str, Any]) -> bool:
        started.set()
        await asyncio.Event().wait()
        return True

    async with SyncEngine(queue, None) as engine:
        engine.register_handler("api_call", hangs)
        op_id = await queue.enqueue("api_call", {})
        caller = asyncio.create_task(engine.sync())
        await asyncio.wait_for(started.wait(), 10)
        run = engine._run_task
        assert run is not None
        run.cancel()  # as asyncio.run does to leftover tasks on Ctrl+C
        with pytest.raises(asyncio.CancelledError):
            await caller
        assert run.cancelled()
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0


@pytest.mark.timeout(30)
async def test_offline_auto_sync_waits_quietly_and_resumes_when_online(
    queue: OfflineQueueManager,
) -> None:
    app = EffectsApp()
    with AsgiServer(app) as server:
        health = HttpServer().start()
        health_url = health.url("/")
        health.stop()  # nothing answers: offline
        async with (
            NetworkMonitor(
                [health_url], check_interval=3600, timeout=1, failure_threshold=1
            ) as monitor,
            SyncEngine(queue, monitor) as engine,
        ):
            await monitor.check_connectivity()
            assert monitor.status is NetworkStatus.OFFLINE
            await engine.start_auto_sync()
            for n in range(3):
                await queue.enqueue("api_call", post(server, n))  # each wakes the loop
            await asyncio.sleep(0.2)  # returns only if the loop does not spin
            assert app.applied == []
            health.start()
            await monitor.check_connectivity()
            await eventually(lambda: len(app.applied) == 3)
            await engine.stop_auto_sync()
            health.stop()
