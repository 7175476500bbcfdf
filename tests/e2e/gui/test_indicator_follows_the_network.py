"""The window's indicator follows a server that goes away and comes back (offscreen Qt)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import shiboken6
from PySide6.QtWidgets import QApplication, QWidget

from peft_studio_offline.core.errors import StorageFullError
from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.queue_model import COLUMN_INDEX
from tests.e2e.effects_server import CountingApp
from tests.support.asgi import AsgiServer
from tests.support.sqlite_files import connected


async def _until(condition: Callable[[], object], what: str, timeout: float = 15.0) -> float:
    start = time.monotonic()
    while not condition():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"The indicator never showed {what} in {timeout} s.")
        await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_indicator_shows_offline_while_the_server_is_gone(
    tmp_path: Path, qapp: QApplication
) -> None:
    server = AsgiServer(CountingApp(), graceful_timeout=0.2).start()
    queue = OfflineQueueManager(tmp_path / "queue.db")
    await queue.open()
    monitor = NetworkMonitor(
        [server.url("/health")], check_interval=0.2, timeout=0.5, failure_threshold=1,
        backoff_initial=0.1,
    )  # fmt: skip
    engine = SyncEngine(queue, monitor, credentials=lambda _n: None)
    window = MainWindow(queue, monitor, engine)
    window.show()
    try:
        indicator = window.findChild(QWidget, "offlineIndicator")
        assert indicator is window.indicator
        await queue.enqueue("api_call", {"url": server.url("/items/0")})
        await monitor.start_monitoring()
        await _until(lambda: window.indicator.text == "Online", "Online")
        server.kill()
        await _until(lambda: window.indicator.text == "Offline", "Offline")
        server.start()
        await _until(lambda: window.indicator.text == "Online", "Online again")

        # A full disk: adding from the window shows the queue's sentence; the window stays.
        await queue.set_storage_limit(1)
        task = window.commands.enqueue(
            "api_call", {"url": server.url("/items/1"), "pad": "x" * 9000}, 0
        )
        assert task is not None
        await _until(task.done, "the add finishing")
        assert isinstance(task.exception(), StorageFullError)
        await _until(lambda: getattr(window, "error_box", None) is not None, "an error message")
        box = window.error_box
        assert "nothing was written" in box.text() and str(queue.db_path) in box.text()
        box.close()
        await queue.set_storage_limit(None)
        await queue.enqueue("api_call", {"url": server.url("/items/2")})
        await _until(lambda: window.indicator.state.pending == 2, "two pending")
        assert window.isVisible()

        # A row another version wrote: the table shows why it cannot be read.
        with connected(queue.db_path) as conn:
            conn.execute("UPDATE offline_operations SET operation_type = 'teleport' WHERE id = 1")
        window.model.reload()
        column = COLUMN_INDEX["error_message"]
        await _until(
            lambda: any(
                "teleport" in str(window.model.data(window.model.index(row, column)))
                for row in range(window.model.rowCount())
            ),
            "the unreadable row's reason",
        )
    finally:
        await monitor.stop_monitoring()
        if shiboken6.isValid(window):
            window.close()
            await window.tasks.drain()
            window.deleteLater()
        await engine.close()
        await monitor.aclose()
        await queue.close()
        server.stop()
        await asyncio.sleep(0)
