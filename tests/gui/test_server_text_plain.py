"""Text that came from a server is shown as text: no label or tooltip renders its markup."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPlainTextEdit

from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.queue_model import COLUMN_INDEX
from tests.gui.conftest import Core, until

HTML = "<h1>Internal Server Error</h1><p>nginx</p>"


async def test_an_error_with_markup_reads_as_text_in_the_window(
    core: Core, window: MainWindow, tmp_path: Path
) -> None:
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/x", "method": "POST"})
    await core.queue.claim(limit=1)
    await core.queue.mark_failed(op_id, HTML, permanent=True)
    await until(
        lambda: window.model.rowCount() == 1 and window.model.operation_at(0).status == "failed"
    )  # type: ignore[union-attr]
    # The table's tooltip shows the tags as characters.
    index = window.model.index(0, COLUMN_INDEX["error_message"])
    tooltip = window.model.data(index, Qt.ItemDataRole.ToolTipRole)
    assert "&lt;h1&gt;" in tooltip and "<h1>" not in tooltip
    # The inspect view's labels do not guess rich text.
    dialog = window.open_inspect(0)
    assert dialog is not None
    await dialog.loaded  # type: ignore[attr-defined]
    error = dialog.findChild(QPlainTextEdit, "inspectError")  # plain text by construction
    assert error is not None and error.toPlainText() == HTML
    dialog.grab().save(str(tmp_path / "inspect.png"))
    dialog.close()


async def test_the_last_sync_and_error_boxes_show_markup_as_text(window: MainWindow) -> None:
    window.bridge.note_sync_started(1)
    window.bridge.note_sync_finished(
        {"total": 1, "completed": 0, "failed": 1, "errors": [{"id": 1, "error": HTML}]}
    )
    details = window.open_details()
    assert details._last_sync.textFormat() == Qt.TextFormat.PlainText
    assert HTML in details._last_sync.text()
    details.close()
    window.commands.failed.emit(HTML)
    box = window.error_box
    assert isinstance(box, QMessageBox)
    assert box.textFormat() == Qt.TextFormat.PlainText
    box.close()
