"""Deleting operations: Delete key, Queue menu and context menu; always confirmed first."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox, QPushButton

from peft_studio_offline.gui import MainWindow
from tests.gui.conftest import Core, until


async def _filled(core: Core, window: MainWindow, count: int = 5) -> list[int]:
    ids = await core.queue.enqueue_many(
        [{"operation_type": "metric_log", "payload": {"run_id": f"r{i}"}} for i in range(count)]
    )
    await until(lambda: window.model.rowCount() == count)
    return ids


def _select_rows(window: MainWindow, rows: list[int]) -> None:
    view = window.view
    view.clearSelection()
    flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
    for row in rows:
        view.selectionModel().select(window.model.index(row, 0), flags)
    view.selectionModel().setCurrentIndex(
        window.model.index(rows[0], 0), QItemSelectionModel.SelectionFlag.NoUpdate
    )


def _confirm(box: QMessageBox) -> None:
    button = box.findChild(QPushButton, "confirmDeleteButton")
    assert button is not None
    button.click()


async def test_delete_key_asks_and_deletes_the_selection(core: Core, window: MainWindow) -> None:
    ids = await _filled(core, window)
    window.activateWindow()
    await until(lambda: QApplication.activeWindow() is window)
    _select_rows(window, [0, 2])  # newest first: ids[4] and ids[2]
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_Delete)
    box = window.pending_dialog
    assert isinstance(box, QMessageBox) and box.isVisible()
    assert "2 operations" in box.text()
    assert f"#{ids[4]}" in box.text() and f"#{ids[2]}" in box.text()
    _confirm(box)
    await until(lambda: window.model.rowCount() == 3)
    assert await core.queue.get_operation(ids[4]) is None
    assert await core.queue.get_operation(ids[2]) is None
    assert await core.queue.get_operation(ids[3]) is not None


async def test_delete_key_in_search_field_does_not_delete(core: Core, window: MainWindow) -> None:
    await _filled(core, window, 2)
    window.activateWindow()
    await until(lambda: QApplication.activeWindow() is window)
    _select_rows(window, [0])
    window.filter_bar.search.setFocus()
    window.pending_dialog = None
    QTest.keyClick(window.filter_bar.search, Qt.Key.Key_Delete)
    assert window.pending_dialog is None


async def test_queue_menu_delete_cancelled_keeps_everything(core: Core, window: MainWindow) -> None:
    ids = await _filled(core, window, 3)
    _select_rows(window, [1])
    queue_menu = window.menus["queue"]
    assert window.actions_.delete in queue_menu.actions()
    window.actions_.delete.trigger()
    box = window.pending_dialog
    assert isinstance(box, QMessageBox)
    assert box.text() == f"Delete operation #{ids[1]} Metric log (pending)?"
    assert "not been sent" in box.informativeText()
    box.button(QMessageBox.StandardButton.Cancel).click()
    await window.tasks.drain()
    assert await core.queue.count_operations() == 3
    assert window.model.rowCount() == 3


async def test_context_menu_delete(core: Core, window: MainWindow) -> None:
    ids = await _filled(core, window, 3)
    view = window.view
    rect = view.visualRect(window.model.index(2, 1))
    window._on_view_context_menu(view.viewport().mapToGlobal(rect.center()))
    menu = window.context_menu
    assert isinstance(menu, QMenu) and menu.isVisible()
    assert window.selected_ids() == [ids[0]]  # right-click selected the row under the pointer
    delete = next(a for a in menu.actions() if a.objectName() == "actionDeleteSelected")
    delete.trigger()
    menu.close()
    box = window.pending_dialog
    assert isinstance(box, QMessageBox)
    _confirm(box)
    await until(lambda: window.model.rowCount() == 2)
    assert await core.queue.get_operation(ids[0]) is None


async def test_delete_needs_a_selection(window: MainWindow) -> None:
    assert not window.actions_.delete.isEnabled()
    assert window.confirm_delete() is None
