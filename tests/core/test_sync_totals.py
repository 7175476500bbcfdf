"""A run says how much it will send before it sends anything, and what it held back."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from peft_studio_offline.core.sync.progress import SyncEvent, describe_ids, group_errors
from tests.support.asgi import AsgiServer
from tests.support.sync_apps import EffectsApp, ScriptedApp


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    async with OfflineQueueManager(tmp_path / "q.db", backoff_base=0.01) as q:
        yield q


def post(server: AsgiServer, n: int) -> dict[str, Any]:
    return {"url": server.url(f"/items/{n}"), "method": "POST", "data": {"n": n}}


async def test_the_total_is_known_from_the_first_progress_event(
    queue: OfflineQueueManager,
) -> None:
    app = EffectsApp()
    with AsgiServer(app) as server:
        await queue.enqueue_many(
            [{"operation_type": "api_call", "payload": post(server, n)} for n in range(120)]
        )
        # Held by a dependency on one of the run's own operations: still part of this run.
        first = await queue.enqueue("api_call", post(server, 500))
        await queue.enqueue("api_call", post(server, 501), depends_on=[first])
        async with SyncEngine(queue, None, concurrency=4, batch_size=10) as engine:
            events: list[SyncEvent] = []
            engine.add_progress_listener(events.append)
            result = await engine.sync()
    progress = [e for e in events if e.kind == "progress"]
    assert result["completed"] == 122
    # Batches of ten, yet the total never grows batch by batch: 122 from the start.
    assert {e.total for e in progress} == {122}
    assert [e.done for e in progress] == sorted(e.done for e in progress)
    assert progress[-1].done == 122


async def test_a_run_with_nothing_due_counts_nothing(queue: OfflineQueueManager) -> None:
    await queue.enqueue(
        "api_call", {"url": "http://127.0.0.1:9/x", "method": "POST"}, not_before=time.time() + 3600
    )
    async with SyncEngine(queue, None) as engine:
        events: list[SyncEvent] = []
        engine.add_progress_listener(events.append)
        result = await engine.sync()
    assert result["total"] == 0 and result["held_back"] == 0
    assert [e.kind for e in events] == ["started", "finished"]


async def test_operations_held_back_by_a_paused_host_are_reported(
    queue: OfflineQueueManager,
) -> None:
    app = ScriptedApp()
    app.always = (503, {}, {"detail": "down"})
    ok = EffectsApp()
    with AsgiServer(app) as failing, AsgiServer(ok) as healthy:
        for n in range(5):
            await queue.enqueue("api_call", post(failing, n))
        await queue.enqueue("api_call", post(healthy, 99))
        async with SyncEngine(
            queue, None, concurrency=1, breaker_threshold=2, breaker_cooldown=60
        ) as engine:
            events: list[SyncEvent] = []
            engine.add_progress_listener(events.append)
            result = await engine.sync()
        host = f"127.0.0.1:{failing.port}"
    assert result["held_back"] == 3 and result["paused_hosts"] == [host]
    progress = [e for e in events if e.kind == "progress"]
    assert progress[0].total == 6
    # Held back ones leave the total: the bar ends full, at 3 of 3.
    assert (progress[-1].done, progress[-1].total, progress[-1].held) == (3, 3, 3)
    assert all(e.done <= e.total for e in progress)


def test_equal_errors_are_grouped_most_frequent_first() -> None:
    errors = [{"id": 1, "error": "HTTP 500"}]
    errors += [{"id": n, "error": "Connection refused."} for n in range(2, 102)]
    groups = group_errors(errors)
    assert [(g.error, len(g.ids)) for g in groups] == [
        ("Connection refused.", 100),
        ("HTTP 500", 1),
    ]
    assert describe_ids(groups[0].ids) == "#2, #3, #4 and 97 more"
    assert describe_ids(groups[1].ids) == "#1"
