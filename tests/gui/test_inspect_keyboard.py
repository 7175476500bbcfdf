"""The inspect view: a long error scrolls in its own box and leaves the payload its room;
every value of the form is reached by Tab and copied by keyboard."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit, QWidget

from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.inspect import InspectDialog
from tests.gui.conftest import Core, until

LONG_ERROR = "HTTP 500: " + " ".join(f"frame{i:04d} at handler.py:{i}" for i in range(140))


async def test_a_long_error_scrolls_and_the_payload_keeps_its_room(
    core: Core, window: MainWindow
) -> None:
    assert len(LONG_ERROR) > 3600
    payload = {"endpoint": "/x", "data": {f"k{i}": i for i in range(60)}}
    op_id = await core.queue.enqueue("api_call", payload)
    await core.queue.claim(limit=1)
    await core.queue.mark_failed(op_id, LONG_ERROR, permanent=True)
    await until(lambda: window.model.rowCount() == 1)
    dialog = window.open_inspect(0)
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    await until(lambda: bool(dialog.payload.toPlainText()))
    line = dialog.payload.fontMetrics().lineSpacing()
    assert dialog.payload.viewport().height() >= 12 * line
    error = dialog.findChild(QWidget, "inspectError")
    assert isinstance(error, QPlainTextEdit)
    assert error.toPlainText().startswith("HTTP 500: frame0000")
    # Scrolls to its end instead of being cut off.
    assert error.verticalScrollBar().maximum() > 0
    dialog.close()


async def test_every_value_is_reached_by_tab_and_copied(core: Core, window: MainWindow) -> None:
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/x"})
    await core.queue.claim(limit=1)
    await core.queue.mark_failed(op_id, "Connection refused", permanent=True)
    await until(lambda: window.model.rowCount() == 1)
    dialog = window.open_inspect(0)
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    dialog.focusNextChild()
    reached = set()
    for _ in range(30):
        focused = dialog.focusWidget()
        assert focused is not None
        reached.add(focused.accessibleName())
        QTest.keyClick(focused, Qt.Key.Key_Tab)
    assert {"Status", "Why waiting", "Idempotency key", "Last error"} <= reached
    key = dialog.findChild(QLabel, "inspectIdempotencyKey")
    assert key is not None
    key.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(key, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(key, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == key.text() != ""
    dialog.close()
