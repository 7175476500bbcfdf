"""Tab goes through every dialog: it reaches every button and never types into a text box."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QDialog,
    QPlainTextEdit,
    QTextEdit,
    QWidget,
)

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.add_operation import AddOperationDialog
from peft_studio_offline.gui.dialogs.conflicts import ConflictDialog
from tests.gui.conftest import Core, until
from tests.gui.test_dialogs import _conflicts


def _texts(dialog: QWidget) -> dict[int, str]:
    return {
        id(edit): edit.toPlainText()
        for edit in [*dialog.findChildren(QPlainTextEdit), *dialog.findChildren(QTextEdit)]
    }


def _tab_through(dialog: QDialog, presses: int) -> list[QWidget]:
    """Press Tab ``presses`` times from the dialog's first control; the widgets focused."""
    # The dialog's own focus widget: offscreen, the dialog need not be the active window.
    dialog.focusNextChild()
    seen: list[QWidget] = []
    for _ in range(presses):
        current = dialog.focusWidget()
        assert current is not None
        QTest.keyClick(current, Qt.Key.Key_Tab)
        focused = dialog.focusWidget()
        assert focused is not None and focused.window() is dialog
        seen.append(focused)
    return seen


def _buttons(dialog: QWidget) -> list[QAbstractButton]:
    return [
        b
        for b in dialog.findChildren(QAbstractButton)
        if b.isVisibleTo(dialog) and b.isEnabled() and b.focusPolicy() & Qt.FocusPolicy.TabFocus
    ]


async def _assert_tab_reaches_every_button(dialog: QDialog, presses: int = 60) -> None:
    before = _texts(dialog)
    seen = _tab_through(dialog, presses)
    missing = [b.text() or b.objectName() for b in _buttons(dialog) if b not in seen]
    assert not missing, f"Tab never reaches {missing}"
    assert _texts(dialog) == before, "Tab changed the text of a box"


async def test_tab_goes_through_the_conflicts_dialog(core: Core, window: MainWindow) -> None:
    await _conflicts(core, 2)
    dialog = window.open_conflicts()
    assert isinstance(dialog, ConflictDialog)
    await until(lambda: dialog.list.count() == 2 and bool(dialog.merged.toPlainText()))
    await _assert_tab_reaches_every_button(dialog)
    names = {b.objectName() for b in _buttons(dialog)}
    assert {"conflictKeepMine", "conflictKeepTheirs", "conflictMerge"} <= names
    dialog.close()


async def test_tab_goes_through_add_operation_for_every_type(window: MainWindow) -> None:
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    for kind in OperationType:
        dialog.select_type(kind)
        for edit in dialog.findChildren(QPlainTextEdit):
            edit.setPlainText('{"a": 1}')
        await _assert_tab_reaches_every_button(dialog)
    dialog.close()


async def test_tab_goes_through_settings(window: MainWindow) -> None:
    dialog = window.open_settings()
    assert isinstance(dialog, QDialog)
    await _assert_tab_reaches_every_button(dialog)
    dialog.close()


async def test_tab_goes_through_inspect_and_shortcuts(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue("api_call", {"endpoint": "/x", "data": {"a": 1}})
    await until(lambda: window.model.rowCount() == 1)
    dialog = window.open_inspect(0)
    assert isinstance(dialog, QDialog)
    await until(lambda: "payload" in dialog.payload_note.text())  # type: ignore[attr-defined]
    await _assert_tab_reaches_every_button(dialog)
    dialog.close()
    shortcuts = window.open_shortcuts()
    assert isinstance(shortcuts, QDialog)
    await _assert_tab_reaches_every_button(shortcuts)
    shortcuts.close()
