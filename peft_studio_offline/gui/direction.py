"""Text that reads left to right in any layout: JSON, URLs, counts like "1 / 5" and times.

In a right-to-left layout (Arabic, Hebrew, or Qt's ``-reverse``) the window mirrors, and Qt
gives text its paragraph direction from the layout. Digits, slashes and colons have no
direction of their own, so "1 / 5" would read "5 / 1" and "http://host" "host//:http"; a
JSON line whose first letter is Arabic would be laid out right to left, its indentation on
the wrong side. These widgets keep a left-to-right paragraph, and table cells are isolated.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QTextOption
from PySide6.QtWidgets import QLineEdit, QPlainTextEdit

LTR = Qt.LayoutDirection.LeftToRight


def keep_left_to_right(widget: QPlainTextEdit | QLineEdit) -> None:
    """``widget`` shows its text left to right whatever the layout's direction."""
    widget.setLayoutDirection(LTR)  # also stops the window's direction from reaching it
    if isinstance(widget, QPlainTextEdit):
        document = widget.document()
        option = QTextOption(document.defaultTextOption())
        option.setTextDirection(LTR)  # not "auto": an Arabic key must not turn its line
        document.setDefaultTextOption(option)


# Unicode isolates: the text between keeps its own order, and its neighbours theirs.
LRI, FSI, PDI = "\u2066", "\u2068", "\u2069"


def isolate(text: str, *, left_to_right: bool = False) -> str:
    """``text`` as a cell shows it in a mirrored layout: left to right (a count, a time, a
    URL), or in the direction of its first letter (words). Unchanged in a left-to-right
    layout, where every paragraph already starts left to right."""
    if not text or not QGuiApplication.isRightToLeft():
        return text
    return f"{LRI if left_to_right else FSI}{text}{PDI}"
