"""The queue table and Add Operation by keyboard: the context menu key, a row selected on
arrival, Enter and Delete on the same row, a visible focus mark, errors that take focus."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu, QMessageBox

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.gui import MainWindow, formatting
from peft_studio_offline.gui.dialogs.add_operation import AddOperationDialog
from tests.gui.conftest import Core, until


async def _rows(core: Core, window: MainWindow, count: int) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"endpoint": f"/{i}"}} for i in range(count)]
    )
    await until(lambda: window.model.rowCount() == count)


async def _focus_table(window: MainWindow) -> None:
    window.activateWindow()
    await until(lambda: QApplication.activeWindow() is window)
    window.filter_bar.search.setFocus()
    QTest.keyClick(window.filter_bar.search, Qt.Key.Key_Tab)  # search → status → type
    QTest.keyClick(window.filter_bar.status, Qt.Key.Key_Tab)
    QTest.keyClick(window.filter_bar.type, Qt.Key.Key_Tab)
    await until(window.view.hasFocus)


async def test_tabbing_into_the_table_selects_a_row(core: Core, window: MainWindow) -> None:
    await _rows(core, window, 3)
    window.view.clearSelection()
    await _focus_table(window)
    assert window.view.selected_rows() == [window.view.currentIndex().row()]
    assert window.actions_.delete.isEnabled() and window.actions_.inspect.isEnabled()


async def test_shift_f10_opens_the_context_menu_on_the_current_row(
    core: Core, window: MainWindow
) -> None:
    await _rows(core, window, 3)
    window.view.selectRow(1)
    QTest.keyClick(window.view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    menu = window.context_menu
    assert isinstance(menu, QMenu)
    await until(menu.isVisible)
    assert window.view.selected_rows() == [1]
    menu.close()
    QTest.keyClick(window.view, Qt.Key.Key_Menu)
    assert window.context_menu is not menu and window.context_menu is not None
    window.context_menu.close()


async def test_enter_and_delete_act_on_the_same_row_after_ctrl_end(
    core: Core, window: MainWindow
) -> None:
    await _rows(core, window, 5)
    await _focus_table(window)
    window.view.selectRow(0)
    # Through the window system, as real keys come: Qt then knows that Ctrl is still down
    # when the row is chosen.
    handle = window.windowHandle()
    QTest.keyPress(handle, Qt.Key.Key_Control, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(handle, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    QTest.keyRelease(handle, Qt.Key.Key_Control)
    await until(lambda: window.view.currentIndex().row() == 4)
    assert window.view.selected_rows() == [4]
    box = window.confirm_delete()
    assert isinstance(box, QMessageBox)
    last = window.model.operation_at(4)
    assert last is not None and f"#{last.id}" in box.text()
    box.close()


async def test_the_current_row_has_a_clear_focus_mark(core: Core, window: MainWindow) -> None:
    await _rows(core, window, 3)
    await _focus_table(window)
    window.view.selectRow(1)
    window.view.clearSelection()  # the mark, not the selection colour, is what is measured
    window.view.viewport().repaint()
    image = window.view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    rect = window.view.visualRect(window.view.currentIndex())
    highlight = window.view.palette().color(QPalette.ColorRole.Highlight)
    base = window.view.palette().color(QPalette.ColorRole.Base)
    edge = image.pixelColor(rect.width() // 2, rect.top() + 1)
    assert formatting.contrast_ratio(edge, highlight) < 1.2
    assert formatting.contrast_ratio(edge, base) >= 3.0  # WCAG's 3:1 for a focus indicator


async def test_add_operation_errors_take_the_focus(core: Core, window: MainWindow) -> None:
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    form = dialog.select_type(OperationType.METRIC_LOG)
    form.set_value("run_id", "run-1")
    form.set_value("metrics", "[1, 2]")
    dialog.buttons.setFocus()
    dialog.submit()
    metrics = form.inputs["metrics"]
    assert dialog.focusWidget() is metrics
    assert "must be a JSON object" in metrics.accessibleDescription()
    # A refusal of the core that names a payload key: the form's field for it takes the focus.
    form.set_value("metrics", "")
    form.set_value("run_id", "")
    dialog.submit()
    await until(lambda: dialog.buttons.isEnabled() and "run_id" in dialog.error.text())
    assert dialog.focusWidget() is form.inputs["run_id"]
    assert dialog.error.accessibleName() == dialog.error.text()
    assert metrics.accessibleDescription() == ""
    # An empty API call: its URL field, not the sentence (keys typed there went nowhere).
    call = dialog.select_type(OperationType.API_CALL)
    dialog.submit()
    await until(lambda: dialog.buttons.isEnabled() and "'url'" in dialog.error.text())
    assert dialog.focusWidget() is call.inputs["url"]
    # A refusal that names no field of the form: the sentence itself takes the focus.
    dialog.show_error("The queue is full.")
    assert dialog.focusWidget() is dialog.error
    dialog.close()
