"""The storage budget's warnings in the window: the status bar while they hold, the tray
(or the status bar where there is no tray) once per crossing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import shiboken6
from PySide6.QtWidgets import QApplication

from peft_studio_offline.core.errors import StorageBudgetError
from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.storage_budget import StorageBudget
from peft_studio_offline.gui import MainWindow
from tests.gui.conftest import until

PAYLOAD = "x" * 4000


@pytest.fixture
async def budget_window(tmp_path: Path, qapp: QApplication) -> AsyncIterator[MainWindow]:
    paths = AppPaths.under(tmp_path)
    budget = StorageBudget.for_queue(10**9, paths.database, paths.data_dir, paths.log_dir)
    queue = OfflineQueueManager(paths.database, storage_budget=budget)
    await queue.open()
    monitor = NetworkMonitor(endpoints=[], check_interval=60)
    win = MainWindow(queue, monitor, None, paths=paths)
    win.show()
    await until(lambda: not win.model.is_loading)
    yield win
    if shiboken6.isValid(win):
        win.close()
        win.tasks.cancel_all()
        await asyncio.wait_for(win.tasks.drain(), 10)
        win.deleteLater()
    await monitor.stop_monitoring()
    await queue.close()
    await asyncio.sleep(0)


async def test_crossing_80_and_95_percent_is_shown_once_each(budget_window: MainWindow) -> None:
    window = budget_window
    queue = window.bridge.queue
    budget = queue.storage_budget
    assert budget is not None
    label = window.storage_warning
    assert label.isHidden()
    level = await queue.storage_usage()
    assert level is not None
    budget.set_limit(level.used + 300_000)
    for _ in range(200):  # enqueues from the writer thread; the window hears through Qt
        try:
            await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/", "b": PAYLOAD})
        except StorageBudgetError:
            break
    await until(lambda: len(window.tray.sent) == 2)
    await asyncio.sleep(0.1)
    titles = [title for title, _text in window.tray.sent]
    # The second crossing is told as "full" when the measurement is already past the budget.
    assert titles[0] == "Storage filling up"
    assert titles[1] in ("Storage almost full", "Storage full")
    assert "File → Settings" in window.tray.sent[1][1]
    assert label.isVisible()
    assert label.text().startswith("Storage: ") and "of its budget" in label.text()
    assert "storage budget" in label.toolTip()

    # The budget raised: the warning goes away, and nothing more is told.
    budget.set_limit(budget.limit * 10)
    await queue.storage_usage()
    await until(lambda: label.isHidden())
    assert len(window.tray.sent) == 2
