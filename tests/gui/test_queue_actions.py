"""Queue actions: inspect with Enter, retry, cancel, export, clear completed, retry failed;
notifications when the connection returns; icons that follow a palette change."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from peft_studio_offline.core.enums import NetworkStatus, OperationStatus
from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.inspect import InspectDialog
from tests.gui.conftest import Core, until
from tests.support.servers import HttpServer, Reply


async def test_enter_opens_the_inspect_dialog(core: Core, window: MainWindow) -> None:
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/x"})
    await until(lambda: window.model.rowCount() == 1)
    window.view.setFocus()
    window.view.setCurrentIndex(window.model.index(0, 0))
    QTest.keyClick(window.view, Qt.Key.Key_Return)
    dialog = window.pending_dialog
    assert isinstance(dialog, InspectDialog) and dialog.operation.id == op_id
    await dialog.loaded
    dialog.close()


async def test_retry_and_cancel_the_selection(core: Core, window: MainWindow) -> None:
    ids = await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"n": i}} for i in range(2)]
    )
    claimed = await core.queue.claim(limit=1)
    await core.queue.mark_failed(claimed[0].id, "HTTP 500", permanent=True)
    await until(lambda: window.model.rowCount() == 2)
    failed_row = window.model.row_of(claimed[0].id)
    window.view.selectRow(failed_row)  # type: ignore[arg-type]
    window.actions_.retry.trigger()
    await until(lambda: "queued again" in window.statusBar().currentMessage())
    op = await core.queue.get_operation(claimed[0].id)
    assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0
    other = next(i for i in ids if i != claimed[0].id)
    window.view.selectRow(window.model.row_of(other))  # type: ignore[arg-type]
    window.actions_.cancel.trigger()
    await until(lambda: window.model.operation_at(window.model.row_of(other)).status  # type: ignore[arg-type, union-attr]
                is OperationStatus.CANCELLED)  # fmt: skip
    window.actions_.cancel.trigger()  # cancelling twice: refused, in words
    await until(lambda: getattr(window, "error_box", None) is not None)
    assert "cancelled" in window.error_box.text()


async def test_export_masks_secrets(core: Core, window: MainWindow, tmp_path: Path) -> None:
    await core.queue.enqueue("api_call", {"endpoint": "/x", "headers": {"Authorization": "B s"}})
    target = tmp_path / "export.json"
    task = window.commands.export(target, window.model.queue_filter.query())
    assert task is not None
    await task
    data = json.loads(target.read_text())
    assert len(data) == 1 and data[0]["payload"]["headers"]["Authorization"] == "***"


async def test_clear_completed_and_retry_failed(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"n": i}} for i in range(4)]
    )
    taken = await core.queue.claim(limit=4)
    await core.queue.mark_completed(taken[0].id)
    await core.queue.mark_completed(taken[1].id)
    await core.queue.mark_failed(taken[2].id, "no", permanent=True)
    await core.queue.mark_failed(taken[3].id, "no", permanent=True)
    await until(lambda: window.bridge.stats.get("failed") == 2)
    window.actions_.clear_completed.trigger()
    await until(lambda: window.model.rowCount() == 2)
    window.actions_.retry_failed.trigger()
    await until(lambda: window.bridge.stats.get("pending") == 2)
    assert window.bridge.stats.get("failed") == 0


@pytest.fixture
def health() -> Iterator[HttpServer]:
    with HttpServer(Reply(200, "ok")) as server:
        yield server


async def test_back_online_with_work_pending_notifies(
    core: Core, window: MainWindow, health: HttpServer
) -> None:
    monitor = NetworkMonitor(
        endpoints=[health.url("/health")], check_interval=60, failure_threshold=1,
        backoff_initial=0.05, timeout=2,
    )  # fmt: skip
    window.bridge.monitor = monitor
    monitor.add_callback(window.bridge._on_network_change)
    await core.queue.enqueue("api_call", {"endpoint": "/x"})
    await until(lambda: window.bridge.stats.get("pending") == 1)
    health.stop()
    await monitor.check_connectivity()
    assert monitor.status is NetworkStatus.OFFLINE
    await until(lambda: window.indicator.text == "Offline")
    health.start()
    await monitor.check_connectivity()
    await until(lambda: window.indicator.text == "Online")
    # No tray here (offscreen): the window's status bar shows it.
    message = "Back online: 1 operation is waiting to be sent."
    await until(lambda: window.statusBar().currentMessage() == message)
    await monitor.aclose()


async def test_icons_follow_a_palette_change(window: MainWindow) -> None:
    before = window.actions_.sync_now.icon().pixmap(24, 24).toImage()
    palette = QPalette(window.palette())
    palette.setColor(QPalette.ColorRole.WindowText, QColor("#f0f0f0"))
    palette.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    window.setPalette(palette)
    QApplication.processEvents()
    after = window.actions_.sync_now.icon().pixmap(24, 24).toImage()
    assert before != after
