"""Text that reads left to right in any layout: JSON, URLs, counts like "1 / 5" and times.

In a right-to-left layout (Arabic, Hebrew, or Qt's ``-reverse``) the window mirrors, and Qt
gives text its paragraph direction from the layout. Digits, slashes and colons have no
direction of their own, so "1 / 5" would read "5 / 1" and "http://host" "host//:http"; a
JSON line whose first letter is Arabic would be laid out right to left, its indentation on
the wrong side. These widgets and columns keep a left-to-right paragraph.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QTextOption
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit, QStyledItemDelegate, QStyleOptionViewItem

LTR = Qt.LayoutDirection.LeftToRight


def keep_left_to_right(widget: QPlainTextEdit | QLineEdit) -> None:
    """``widget`` shows its text left to right whatever the layout's direction."""
    widget.setLayoutDirection(LTR)  # also stops the window's direction from reaching it
    if isinstance(widget, QPlainTextEdit):
        document = widget.document()
        option = QTextOption(document.defaultTextOption())
        option.setTextDirection(LTR)  # not "auto": an Arabic key must not turn its line
        document.setDefaultTextOption(option)


class LeftToRightDelegate(QStyledItemDelegate):
    """Cells laid out left to right: for the columns of counts, times and URLs."""

    def initStyleOption(  # noqa: N802 (Qt's name)
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        super().initStyleOption(option, index)
        option.direction = LTR
