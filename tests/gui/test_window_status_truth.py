"""The indicator, the details panel and the Sync menu say what is true."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.gui import MainWindow
from tests.gui.conftest import Core, until
from tests.support.servers import HttpServer

NOT_CHECKING = "Not checking — no endpoints or sync targets set"


async def test_with_nothing_to_probe_the_indicator_says_it_is_not_checking(
    core: Core, window: MainWindow
) -> None:
    # The core fixture's monitor has no endpoints: the status can never become known.
    assert window.indicator.text == NOT_CHECKING
    details = window.open_details()
    checked = details.findChild(type(details.note), "offlineDetailsChecked")
    assert checked is not None
    assert "next" not in checked.text()  # no countdown to checks that never come
    assert details._title.text() == NOT_CHECKING
    assert details.set_endpoints.isVisible() and details.not_checking.isVisible()
    details.set_endpoints.click()
    await until(lambda: window.pending_dialog is not None)
    assert window.pending_dialog is not None
    assert window.pending_dialog.objectName() == "settingsDialog"
    window.pending_dialog.close()


async def test_check_now_with_nothing_to_probe_says_so(core: Core, window: MainWindow) -> None:
    details = window.open_details()
    task = window.commands.check_connectivity()
    assert task is not None
    await task
    assert "Nothing to check" in window.statusBar().currentMessage()
    assert "Nothing to check" in details.note.text()  # seen while the panel is open
    details.close()


async def test_check_now_reports_its_result_in_the_details_panel(
    core: Core, qapp: QApplication, tmp_path: Path
) -> None:
    with HttpServer() as server:
        monitor = NetworkMonitor([server.url("/health")], check_interval=60)
        win = MainWindow(core.queue, monitor, core.engine)
        win.show()
        try:
            assert win.indicator.text == "Checking…"  # endpoints set, not checked yet
            details = win.open_details()
            task = win.commands.check_connectivity()
            assert task is not None
            await task
            assert details.note.text() == "Connection checked: Online."
            assert win.indicator.text == "Online"
            assert not details.set_endpoints.isVisible()
            details.close()
        finally:
            win.close()
            win.tasks.cancel_all()
            await win.tasks.drain()
            await monitor.stop_monitoring()


async def test_the_auto_sync_item_follows_the_engine(core: Core, window: MainWindow) -> None:
    # Auto sync started after the window read it (as the app starts it after first paint).
    assert not window.actions_.auto_sync.isChecked()
    await core.engine.start_auto_sync()
    window.menus["sync"].aboutToShow.emit()
    assert window.actions_.auto_sync.isChecked()
    await core.engine.stop_auto_sync()
    window.menus["sync"].aboutToShow.emit()
    assert not window.actions_.auto_sync.isChecked()


async def test_clicking_the_failure_badge_lists_the_failed_operations(
    core: Core, window: MainWindow
) -> None:
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/x", "method": "GET"})
    await core.queue.enqueue("api_call", {"endpoint": "/y", "method": "GET"})
    await core.queue.claim(limit=1)
    await core.queue.mark_failed(op_id, "boom", permanent=True)
    badge = window.indicator._failed
    await until(lambda: badge.isVisible())
    QTest.mouseClick(
        window.indicator,
        Qt.MouseButton.LeftButton,
        pos=badge.geometry().center(),
    )
    assert window.filter_bar.status.currentText() == "Failed"
    await until(lambda: window.model.queue_filter.statuses == ("failed",))
    await until(lambda: not window.model.is_loading and window.model.rowCount() == 1)
    assert window.model.operation_at(0) is not None
    assert window.model.operation_at(0).id == op_id  # type: ignore[union-attr]
    assert window.details is None or not window.details.isVisible()
    # Elsewhere on the indicator a click still opens the details.
    QTest.mouseClick(window.indicator, Qt.MouseButton.LeftButton, pos=QPoint(4, 4))
    assert window.details is not None and window.details.isVisible()
    window.details.close()


async def test_before_the_services_come_nothing_is_called_unset(
    core: Core, qapp: QApplication
) -> None:
    # The app paints its window before the monitor exists: not known yet is not "not set".
    win = MainWindow(core.queue, None, None)
    win.show()
    try:
        assert win.indicator.text == "Checking…"
        details = win.open_details()
        assert not details.set_endpoints.isVisible()
        item = details.endpoints.topLevelItem(0)
        assert item is not None and item.text(0) == "Not known yet"
        details.close()
    finally:
        win.close()
        win.tasks.cancel_all()
        await win.tasks.drain()
