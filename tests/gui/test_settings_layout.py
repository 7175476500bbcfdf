"""The Settings dialog: no field squashed below the height its text needs, and a field locked
by an environment variable says so in visible text."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QAbstractSpinBox, QLabel, QLineEdit, QPlainTextEdit

from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.settings_dialog import SettingsDialog
from tests.gui.conftest import until


async def test_no_field_opens_squashed(window: MainWindow) -> None:
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    await until(dialog.isVisible)
    fields = [
        w
        for w in [
            *dialog.findChildren(QLineEdit),
            *dialog.findChildren(QPlainTextEdit),
            *dialog.findChildren(QAbstractSpinBox),
        ]
        # A spin box's own line edit is laid out by the spin box, inside its frame.
        if w.isVisibleTo(dialog) and not isinstance(w.parent(), QAbstractSpinBox)
    ]
    assert len(fields) >= 10
    squashed = {
        w.objectName(): (w.height(), w.minimumSizeHint().height())
        for w in fields
        if w.height() < w.minimumSizeHint().height()
    }
    assert not squashed
    # It opens as tall as its fields, as long as the screen allows.
    screen = dialog.screen().availableGeometry()
    assert dialog.height() <= screen.height()
    dialog.close()


async def test_a_locked_field_says_why_in_visible_text(
    window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:5000")
    dialog = window.open_settings()
    assert isinstance(dialog, SettingsDialog)
    await until(dialog.isVisible)
    field = dialog.fields["sync.mlflow_tracking_uri"]
    assert not field.isEnabled()
    notes = [
        label
        for label in dialog.findChildren(QLabel)
        if "MLFLOW_TRACKING_URI" in label.text() and label.isVisible()
    ]
    assert len(notes) == 1 and notes[0].isEnabled()
    assert "MLFLOW_TRACKING_URI" in field.accessibleDescription()
    # Only the locked field has one.
    assert "PEFT_STUDIO_OFFLINE_API_BASE_URL" not in " ".join(
        label.text() for label in dialog.findChildren(QLabel)
    )
    dialog.close()
