"""Sync progress reaches the widgets coalesced: a sync reports every one of its operations."""

from __future__ import annotations

import asyncio

from peft_studio_offline.gui import MainWindow
from tests.gui.conftest import until


async def test_a_burst_of_progress_is_shown_at_once_then_as_its_latest_figures(
    window: MainWindow,
) -> None:
    bridge = window.bridge
    seen: list[tuple[int, int]] = []
    bridge.sync_progress.connect(lambda done, total: seen.append((done, total)))
    bridge.note_sync_started(1000)
    for done in range(1, 1001):
        bridge.note_sync_progress(done, 1000)
    assert seen == [(1, 1000)]  # the first at once, the other 999 gathered
    await until(lambda: len(seen) == 2)
    assert seen[-1] == (1000, 1000)
    assert window.progress.value() == 1000 and window.progress.isVisible()
    await asyncio.sleep(bridge.PROGRESS_INTERVAL_MS * 3 / 1000)
    assert len(seen) == 2  # nothing new: nothing more is sent


async def test_the_end_of_a_run_shows_its_last_figures_first(window: MainWindow) -> None:
    bridge = window.bridge
    events: list[object] = []
    bridge.sync_progress.connect(lambda done, total: events.append((done, total)))
    bridge.sync_finished.connect(lambda result: events.append("finished"))
    bridge.note_sync_started(10)
    for done in range(1, 11):
        bridge.note_sync_progress(done, 10)
    bridge.note_sync_finished({"total": 10, "completed": 10, "failed": 0})
    assert events == [(1, 10), (10, 10), "finished"]
    await asyncio.sleep(bridge.PROGRESS_INTERVAL_MS * 3 / 1000)
    assert events[-1] == "finished"  # no late progress after the end
    assert not window.progress.isVisible()
