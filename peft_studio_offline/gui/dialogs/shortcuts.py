"""Help → Keyboard Shortcuts: every action that has one, read from the actions themselves."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

_EXTRA = (
    ("Open the selected operation", "Enter"),
    ("Open connection details", "Focus the status indicator, then Space"),
    ("Move between controls", "Tab / Shift+Tab"),
)


class ShortcutsDialog(QDialog):
    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle("Keyboard Shortcuts")
        self.resize(460, 420)
        layout = QVBoxLayout(self)
        tree = QTreeWidget(self)
        tree.setAccessibleName("Keyboard shortcuts")
        tree.setRootIsDecorated(False)
        tree.setHeaderLabels(["Action", "Shortcut"])
        tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        seen: set[str] = set()
        for action in actions:
            if action.shortcut().isEmpty() or action.objectName() in seen:
                continue
            seen.add(action.objectName())
            text = action.text().replace("&", "").rstrip("…")
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            tree.addTopLevelItem(QTreeWidgetItem([text, keys]))
        for text, keys in _EXTRA:
            tree.addTopLevelItem(QTreeWidgetItem([text, keys]))
        tree.sortItems(0, tree.header().sortIndicatorOrder())
        self.tree = tree
        layout.addWidget(tree)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
