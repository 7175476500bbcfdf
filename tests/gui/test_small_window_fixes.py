"""Small things the window said wrong, each held by a test."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QPlainTextEdit

from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.chart import ActivityChart
from peft_studio_offline.gui.dialogs.confirm import TITLE_BAR_ALLOWANCE, delete_confirmation
from peft_studio_offline.gui.dialogs.conflicts import ConflictDialog
from peft_studio_offline.gui.dialogs.inspect import InspectDialog
from peft_studio_offline.gui.dialogs.settings_dialog import SettingsDialog
from peft_studio_offline.gui.history import StatsHistory
from peft_studio_offline.gui.queue_model import COLUMN_INDEX
from tests.gui.conftest import Core, until


async def _completed(core: Core) -> int:
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/done", "method": "POST"})
    await core.queue.claim(limit=1)
    await core.queue.mark_completed(op_id)
    return op_id


async def test_a_completed_operation_counts_the_attempt_that_sent_it(
    core: Core, window: MainWindow
) -> None:
    await _completed(core)
    await until(lambda: window.model.rowCount() == 1)
    await until(lambda: window.model.operation_at(0).status == "completed")  # type: ignore[union-attr]
    cell = window.model.index(0, COLUMN_INDEX["retry_count"])
    assert window.model.data(cell) == "1 / 5"  # was "0 / 5" next to a history of one
    dialog = window.open_inspect(0)
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    assert "1 of 5 attempts used" in dialog.status.text()
    assert dialog.history.topLevelItemCount() == 1
    dialog.close()


async def test_history_columns_show_their_text_whole(core: Core, window: MainWindow) -> None:
    await _completed(core)
    await until(lambda: window.model.rowCount() == 1)
    dialog = window.open_inspect(0)
    assert isinstance(dialog, InspectDialog)
    await dialog.loaded
    item = dialog.history.topLevelItem(0)
    assert item is not None
    metrics = dialog.history.fontMetrics()
    for column in (0, 1, 2):
        needed = metrics.horizontalAdvance(item.text(column))
        assert dialog.history.columnWidth(column) > needed, (column, item.text(column))
    dialog.close()


async def test_created_and_updated_read_the_same_way(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue("api_call", {"endpoint": "/x"})
    await until(lambda: window.model.rowCount() == 1)
    created = window.model.data(window.model.index(0, COLUMN_INDEX["created_at"]))
    updated = window.model.data(window.model.index(0, COLUMN_INDEX["updated_at"]))
    # Both with seconds, in the locale's format (the tests run in US English: 4:52:08 PM).
    shape = re.compile(r"^(\d\d?/\d\d?/\d{4} )?\d\d?:\d\d:\d\d\s(AM|PM)$")
    assert shape.match(created) and shape.match(updated), (created, updated)


def test_the_activity_chart_has_a_scale_and_a_time_axis(qapp: QApplication, tmp_path: Path) -> None:
    history = StatsHistory()
    history.add_counts(230, 12)
    history.add_sync(40, 1)
    chart = ActivityChart(history)
    chart.resize(460, 150)
    counts, times = chart.axis_labels()
    assert counts == ["0", "250", "500"]  # the top rounded up to a round number
    assert times == ["6 h ago", "3 h ago", "now"]
    image = chart.grab()
    assert image.save(str(tmp_path / "chart.png"))


async def test_resolve_conflicts_waits_for_a_conflict(core: Core, window: MainWindow) -> None:
    action = window.actions_.conflicts
    await until(lambda: window.indicator.state is not None)
    assert not action.isEnabled()  # nothing to resolve
    op_id = await core.queue.enqueue("api_call", {"endpoint": "/doc", "method": "PUT"})
    await core.queue.claim(limit=1)
    await core.queue.mark_conflict(op_id, local={"a": 1}, remote={"a": 2}, base={"a": 0})
    await until(lambda: action.isEnabled())
    assert action.text() == "Resolve &Conflicts (1)…"


async def test_the_conflict_dialog_with_none_shows_no_empty_panes(
    core: Core, window: MainWindow
) -> None:
    dialog = window.open_conflicts()
    assert isinstance(dialog, ConflictDialog)
    await dialog.loaded
    assert dialog.summary.text().startswith("No conflicts")
    assert not dialog.panes.isVisible()
    assert not dialog.keep_mine.isVisible()
    # Every pane is named, even before one is shown.
    for label in (dialog.local_label, dialog.remote_label, dialog.base_label):
        assert label.text()
    dialog.close()


@pytest.fixture
def display_name(qapp: QApplication) -> Iterator[str]:
    """The app's display name, which X11 and Wayland add to every window title."""
    before = qapp.applicationDisplayName()
    qapp.setApplicationDisplayName("PEFT Studio Offline")
    yield "PEFT Studio Offline"
    qapp.setApplicationDisplayName(before)


async def test_the_delete_confirmation_speaks_of_one_and_fits_its_title(
    core: Core, window: MainWindow, display_name: str
) -> None:
    await core.queue.enqueue("metric_log", {"run_id": "r", "metrics": {"loss": 1.0}})
    await until(lambda: window.model.rowCount() == 1)
    box = delete_confirmation(window, window.model.operations([0]))
    assert "of them" not in box.informativeText()
    assert box.informativeText().startswith("It has not been sent yet")
    shown_title = f"{box.windowTitle()} — {display_name}"
    needed = box.fontMetrics().horizontalAdvance(shown_title) + TITLE_BAR_ALLOWANCE
    box.show()
    assert box.width() >= needed, (box.width(), needed)
    box.close()


async def test_ctrl_end_reaches_the_last_operation(core: Core, window: MainWindow) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"endpoint": f"/{n}"}} for n in range(1300)]
    )
    window.model.reload()  # as at a start: the first page only
    await until(lambda: window.model.rowCount() == window.model.PAGE_SIZE)
    assert window.model.canFetchMore(window.model.index(-1, -1))
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_End, Qt.KeyboardModifier.ControlModifier)
    await until(lambda: window.view.currentIndex().row() == 1299)
    last = window.model.operation_at(window.view.currentIndex().row())
    assert last is not None and last.id == 1  # newest first: the oldest is the end


async def test_a_locked_check_list_does_not_promise_to_probe(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PEFT_STUDIO_OFFLINE_CHECK_URLS", "")
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    field = dialog.fields["network.endpoints"]
    assert isinstance(field, QPlainTextEdit) and not field.isEnabled()
    assert "health URLs" not in field.placeholderText()
    assert "nothing is checked" in field.placeholderText()
    dialog.close()


async def test_saved_to_is_said_after_saving(window: MainWindow) -> None:
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    texts = [label.text() for label in dialog.findChildren(QLabel)]
    assert not any(text.startswith("Saved to") for text in texts)  # nothing is saved yet
    saved: list[bool] = []
    dialog.saved.connect(lambda: saved.append(True))
    dialog.submit()
    await until(lambda: saved)
    assert window.statusBar().currentMessage().startswith(f"Saved to {window.paths.settings_file}")
    assert window.paths.settings_file.exists()
