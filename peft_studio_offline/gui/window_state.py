"""Remembering the window between runs: geometry, toolbar/dock state and the table's columns.

Kept with QSettings in an INI file in the application's config directory, beside
``settings.toml``, rather than in the platform's registry or ~/.config/<org>: one place for
everything, and ``PEFT_STUDIO_OFFLINE_HOME`` keeps tests away from the user's files.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings
from PySide6.QtWidgets import QHeaderView, QMainWindow

STATE_FILE = "window.ini"
_VERSION = 2  # bump when the columns change so that an old layout is not applied


class WindowState:
    def __init__(self, config_dir: Path) -> None:
        self.path = config_dir / STATE_FILE
        self._settings = QSettings(str(self.path), QSettings.Format.IniFormat)

    def restore(self, window: QMainWindow, header: QHeaderView) -> bool:
        """Apply what was saved; False when there was nothing (first start)."""
        if self._settings.value("version", 0, int) != _VERSION:
            return False
        geometry = self._settings.value("window/geometry")
        if isinstance(geometry, QByteArray):
            window.restoreGeometry(geometry)
        state = self._settings.value("window/state")
        if isinstance(state, QByteArray):
            window.restoreState(state)
        columns = self._settings.value("table/header")
        if isinstance(columns, QByteArray):
            header.restoreState(columns)
        return True

    def save(self, window: QMainWindow, header: QHeaderView) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._settings.setValue("version", _VERSION)
        self._settings.setValue("window/geometry", window.saveGeometry())
        self._settings.setValue("window/state", window.saveState())
        self._settings.setValue("table/header", header.saveState())
        self._settings.sync()
