"""Sync Now from the menu sends the queue to a real loopback server, with visible progress."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus
from peft_studio_offline.gui import MainWindow
from tests.gui.conftest import Core, until
from tests.support.servers import HttpServer, Reply


def _slow_ok(path: str) -> Reply:
    time.sleep(0.01)  # long enough for the window to show the run going on
    return Reply(200, '{"ok": true}', {"Content-Type": "application/json"})


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer(_slow_ok) as running:
        yield running


async def test_sync_now_from_menu_runs_and_shows_progress(
    core: Core, window: MainWindow, server: HttpServer
) -> None:
    count = 40
    await core.queue.enqueue_many(
        [
            {"operation_type": "api_call", "payload": {"url": server.url(f"/items/{i}")}}
            for i in range(count)
        ]
    )
    await until(lambda: window.model.rowCount() == count)
    seen: list[tuple[int, int]] = []
    window.bridge.sync_progress.connect(lambda done, total: seen.append((done, total)))
    action = window.actions_.sync_now
    assert action in window.menus["sync"].actions()
    assert action.shortcut().toString() == "F5"

    action.trigger()
    await until(lambda: window.progress.isVisible())
    assert window.indicator.text.startswith("Syncing")
    assert not action.isEnabled()  # one run at a time
    await until(lambda: not window.bridge.syncing, timeout=30)

    assert server.request_count == count
    assert (await core.queue.get_queue_stats())["completed"] == count
    assert seen and seen[-1][0] == seen[-1][1]  # progress reached its total
    assert max(total for _, total in seen) == count
    await until(lambda: not window.progress.isVisible())
    assert action.isEnabled()
    assert window.bridge.last_sync is not None and window.bridge.last_sync["completed"] == count
    # The table followed row by row: every row now says Completed.
    await until(
        lambda: all(
            window.model.operation_at(r).status is OperationStatus.COMPLETED  # type: ignore[union-attr]
            for r in range(count)
        )
    )
    assert "40 of 40 sent" in window.statusBar().currentMessage()


async def test_failures_are_reported_in_the_tray(
    core: Core, window: MainWindow, server: HttpServer
) -> None:
    server.reply_with(Reply(400, "bad request"))
    await core.queue.enqueue("api_call", {"url": server.url("/bad")})
    window.actions_.sync_now.trigger()
    # No tray here (offscreen): the window's status bar says it.
    await until(lambda: "1 failed" in window.statusBar().currentMessage(), timeout=20)
    assert window.tray.sent[-1][0] == "Sync finished with problems"
    await until(lambda: window.indicator.state is not None and window.indicator.state.failed == 1)


async def test_switching_the_conflict_strategy(core: Core, window: MainWindow) -> None:
    actions = window.actions_.strategies
    assert actions[ConflictResolution.LOCAL_WINS].isChecked()  # the engine's default
    assert set(window.menus["strategy"].actions()) == set(actions.values())
    actions[ConflictResolution.REMOTE_WINS].trigger()
    assert core.engine.conflict_strategy is ConflictResolution.REMOTE_WINS
    assert actions[ConflictResolution.REMOTE_WINS].isChecked()
    assert not actions[ConflictResolution.LOCAL_WINS].isChecked()
    actions[ConflictResolution.MERGE].trigger()
    assert core.engine.conflict_strategy is ConflictResolution.MERGE
    assert "Merge" in window.statusBar().currentMessage()


async def test_quiet_automatic_looks_do_not_flash_the_progress(window: MainWindow) -> None:
    from peft_studio_offline.core.sync.progress import SyncEvent

    events = window.bridge
    shown: list[int] = []
    events.sync_started.connect(shown.append)
    events._on_engine_event(SyncEvent("started", 1, "auto"))
    assert not window.progress.isVisible() and not window.indicator.text.startswith("Syncing")
    events._on_engine_event(SyncEvent("finished", 1, "auto", result={"total": 0}))
    assert shown == []
    events._on_engine_event(SyncEvent("started", 2, "auto"))
    events._on_engine_event(SyncEvent("progress", 2, "auto", done=1, total=5))
    assert shown == [5] and window.progress.isVisible()
    assert window.indicator.text == "Syncing 1 of 5"
    events._on_engine_event(SyncEvent("finished", 2, "auto", done=5, total=5, result={"total": 5}))
    assert not window.progress.isVisible()
