"""Help → Keyboard Shortcuts: every action that has one, read from the actions themselves."""

from __future__ import annotations

import re
from collections.abc import Iterable

from PySide6.QtCore import Qt
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

from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate

# Keys that belong to a widget, not to an action of the window; in Qt's portable names, shown
# in the platform's words and language (Umschalt+F10).
_EXTRA = (
    (QT_TRANSLATE_NOOP("Shortcuts", "Open the selected operation"), ("Enter",)),
    (QT_TRANSLATE_NOOP("Shortcuts", "Open the context menu of the table"), ("Shift+F10", "Menu")),
    (QT_TRANSLATE_NOOP("Shortcuts", "Move between controls"), ("Tab", "Shift+Tab")),
)


def _native(keys: tuple[str, ...]) -> str:
    return " / ".join(
        QKeySequence(key, QKeySequence.SequenceFormat.PortableText).toString(
            QKeySequence.SequenceFormat.NativeText
        )
        for key in keys
    )


# What an action's text carries that changes while the window runs ("Resolve Conflicts (3)").
_LIVE_COUNT = re.compile(r"\s*\(\d[\d\u2009\u202f\u00a0,.' ]*\)")


def action_name(action: QAction) -> str:
    """An action's name as a list shows it: no mnemonic, no "…", no live count."""
    text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    return _LIVE_COUNT.sub("", text).rstrip("…").strip()


class ShortcutsDialog(QDialog):
    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("shortcutsDialog")
        self.setWindowTitle(translate("Shortcuts", "Keyboard Shortcuts"))
        layout = QVBoxLayout(self)
        tree = QTreeWidget(self)
        tree.setObjectName("shortcutsList")
        tree.setAccessibleName(translate("Shortcuts", "Keyboard shortcuts"))
        tree.setRootIsDecorated(False)
        tree.setHeaderLabels([translate("Shortcuts", "Action"), translate("Shortcuts", "Shortcut")])
        seen: set[str] = set()
        rows: list[tuple[str, str]] = []
        for action in actions:
            if action.shortcut().isEmpty() or action.objectName() in seen:
                continue
            seen.add(action.objectName())
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            rows.append((action_name(action), keys))
        rows.extend((translate("Shortcuts", text), _native(keys)) for text, keys in _EXTRA)
        # In reading order, A to Z; the list does not re-sort as counts change.
        for text, keys in sorted(rows, key=lambda row: row[0].casefold()):
            tree.addTopLevelItem(QTreeWidgetItem([text, keys]))
        header = tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Every shortcut is read whole: its column is as wide as its longest entry.
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        tree.setTextElideMode(Qt.TextElideMode.ElideNone)
        self.tree = tree
        layout.addWidget(tree)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        wanted = tree.sizeHintForColumn(0) + tree.sizeHintForColumn(1) + 80
        self.resize(max(460, wanted), 460)
