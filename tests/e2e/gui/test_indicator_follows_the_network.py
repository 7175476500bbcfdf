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
from tests.e2e.effects_server import CountingApp
from tests.support.asgi import AsgiServer


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
        await monitor.start_monitoring()
        await _until(lambda: window.indicator.text == "Online", "Online")
        server.kill()
        await _until(lambda: window.indicator.text == "Offline", "Offline")
        server.start()
        await _until(lambda: window.indicator.text == "Online", "Online again")

        # A full disk: the queue refuses the write, the window stays up and keeps counting.
        await queue.set_storage_limit(1)
        try:
            await queue.enqueue("api_call", {"url": server.url("/items/1"), "pad": "x" * 9000})
        except StorageFullError:
            pass
        else:
            raise AssertionError("the storage limit did not refuse the write")
        await queue.set_storage_limit(None)
        await queue.enqueue("api_call", {"url": server.url("/items/2")})
        await _until(lambda: window.indicator.state.pending == 1, "one pending")
        assert window.isVisible()
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
