"""The dialogs' editors: a huge paste or drop refused at once, the core's priority bounds,
and no rule of the window's own about which payload keys are required."""

from __future__ import annotations

import faulthandler
import json
import os
import warnings
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDialog, QLabel, QPlainTextEdit

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.operation import PRIORITY_MAX, PRIORITY_MIN
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.add_operation import AddOperationDialog
from tests.gui.conftest import Core, until

# One line of minified JSON of about 3 MB: laid out by Qt, it held the window for minutes.
HUGE_JSON = json.dumps({"rows": ["x" * 90] * 32_300}, separators=(",", ":"))


def _notices(dialog: QDialog) -> list[str]:
    return [label.text() for label in dialog.findChildren(QLabel) if label.isVisible()]


def _json_body(dialog: AddOperationDialog) -> QPlainTextEdit:
    editor = dialog.select_type(OperationType.API_CALL).inputs["data"]
    assert isinstance(editor, QPlainTextEdit)
    return editor


def _drop(editor: QPlainTextEdit, text: str) -> None:
    """Drag ``text`` onto the editor and drop it, as the mouse does."""
    mime = QMimeData()
    mime.setText(text)
    at, copy = QPointF(5, 5), Qt.DropAction.CopyAction
    left, no_keys = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():
        # PySide6 6.12 marks the QPoint constructors deprecated; 6.11 has no other.
        warnings.simplefilter("ignore", DeprecationWarning)
        events = (
            QDragEnterEvent(at.toPoint(), copy, mime, left, no_keys),
            QDragMoveEvent(at.toPoint(), copy, mime, left, no_keys),
            QDropEvent(at, copy, mime, left, no_keys),
        )
    for event in events:
        QApplication.sendEvent(editor.viewport(), event)


@pytest.fixture
def hard_deadline(request: pytest.FixtureRequest) -> Iterator[None]:
    """Without the bound Qt lays the text out for minutes holding the GIL, so that no timeout
    written in Python fires; faulthandler's watchdog, a C thread, then ends the run, printing
    where it stood on the real stderr (the captured one is lost when the process ends)."""
    capture = request.config.pluginmanager.getplugin("capturemanager")
    with capture.global_and_fixture_disabled():
        stderr = os.dup(2)
    faulthandler.dump_traceback_later(70, exit=True, file=stderr)
    yield
    faulthandler.cancel_dump_traceback_later()
    os.close(stderr)


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("hard_deadline")
async def test_a_huge_paste_is_refused_at_once_with_a_sentence(window: MainWindow) -> None:
    assert len(HUGE_JSON.encode()) > 3_000_000
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    editor = _json_body(dialog)
    editor.setPlainText('{"a": 1}')
    editor.selectAll()
    QApplication.clipboard().setText(HUGE_JSON)
    editor.paste()
    assert editor.toPlainText() == '{"a": 1}'  # unchanged, not replaced
    [notice] = [text for text in _notices(dialog) if "3.0 MB" in text]
    assert notice.startswith("That text is 3.0 MB, more than this field takes (256 KiB)")
    assert "peft-studio-offline enqueue TYPE @payload.json" in notice
    # Typing goes on as before, and the sentence goes with the next edit.
    QApplication.clipboard().setText('{"b": 2}')
    editor.paste()
    assert editor.toPlainText() == '{"b": 2}'
    assert not [text for text in _notices(dialog) if "3.0 MB" in text]
    dialog.close()


@pytest.mark.timeout(60)
@pytest.mark.usefixtures("hard_deadline")
async def test_a_huge_drop_is_refused_too(window: MainWindow) -> None:
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    editor = _json_body(dialog)
    _drop(editor, HUGE_JSON)
    assert editor.toPlainText() == ""
    assert any(text.startswith("That text is 3.0 MB") for text in _notices(dialog))
    _drop(editor, '{"c": 3}')  # a small drop still goes in
    assert editor.toPlainText() == '{"c": 3}'
    dialog.close()


async def test_every_editable_text_box_of_the_dialogs_is_bounded(window: MainWindow) -> None:
    from peft_studio_offline.gui.bounded_text import BoundedPlainTextEdit
    from peft_studio_offline.gui.dialogs.conflicts import ConflictDialog

    for open_dialog in (window.open_add_operation, window.open_settings, window.open_conflicts):
        dialog = open_dialog()
        editors = dialog.findChildren(QPlainTextEdit)
        assert editors, dialog
        for editor in editors:
            if not isinstance(editor, BoundedPlainTextEdit):
                assert editor.isReadOnly(), editor.objectName()
        if isinstance(dialog, ConflictDialog):
            assert isinstance(dialog.merged, BoundedPlainTextEdit)
            assert dialog.loaded is not None
            await dialog.loaded
        dialog.close()


async def test_priority_takes_the_core_bounds(core: Core, window: MainWindow) -> None:
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    assert (dialog.priority.minimum(), dialog.priority.maximum()) == (PRIORITY_MIN, PRIORITY_MAX)
    dialog.select_type(OperationType.API_CALL).set_value("endpoint", "/x")
    dialog.priority.setValue(PRIORITY_MAX)
    dialog.submit()
    await until(lambda: dialog.added_id is not None)
    op = await core.queue.get_operation(dialog.added_id)  # type: ignore[arg-type]
    assert op is not None and op.priority == PRIORITY_MAX


async def test_experiment_data_with_a_note_and_no_tags_is_queued(
    core: Core, window: MainWindow
) -> None:
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    adding = dialog
    form = adding.select_type(OperationType.EXPERIMENT_SYNC)
    form.set_value("run_id", "run-7")
    form.set_value("note", "evaluated on the held-out set")
    adding.submit()
    await until(lambda: adding.added_id is not None or not adding.error.isHidden())
    assert adding.added_id is not None, adding.error.text()  # accepted: the dialog is gone
    op = await core.queue.get_operation(adding.added_id)
    assert op is not None
    assert op.payload == {"run_id": "run-7", "note": "evaluated on the held-out set"}
    # Neither tags nor a note: the core's sentence, not one of the window's own.
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    dialog.select_type(OperationType.EXPERIMENT_SYNC).set_value("run_id", "run-7")
    dialog.submit()
    await until(lambda: dialog.buttons.isEnabled() and not dialog.error.isHidden())
    assert dialog.error.text() == "An experiment_sync payload needs 'tags' or a 'note'."
    dialog.close()
