"""A multi-line text field that refuses a paste or a drop too large to lay out.

Qt lays out a block of a ``QPlainTextEdit`` whole: one pasted line of a few megabytes (a
minified JSON) holds the GUI thread, and with it the asyncio loop that runs the local API
and the sync, for minutes. Such text is refused before it reaches the document, with one
sentence under the field saying how large it was and what to do instead.
"""

from __future__ import annotations

from PySide6.QtCore import QLocale, QMimeData, Qt, Signal
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate

# Far more than anyone types into a dialog, far less than what makes the layout crawl.
MAX_INSERT_BYTES = 256 * 1024
LARGE_PAYLOAD_HINT = QT_TRANSLATE_NOOP(
    "BoundedText",
    "to queue a large payload, save it to a file and run"
    " peft-studio-offline enqueue TYPE @payload.json",
)


def size_text(size: int) -> str:
    """A byte count as people read it: 812 bytes, 256 KiB, 3.0 MB."""
    locale = QLocale()
    if size < 1024:
        return translate("BoundedText", "%Ln byte(s)", None, size)
    if size < 1024 * 1024:
        return translate("BoundedText", "{size} KiB").format(
            size=locale.toString(round(size / 1024))
        )
    return translate("BoundedText", "{size} MB").format(
        size=locale.toString(size / 1_000_000, "f", 1)
    )


class BoundedPlainTextEdit(QPlainTextEdit):
    """A ``QPlainTextEdit`` whose paste and drop (both go through ``insertFromMimeData``)
    refuse text over ``max_bytes``, emitting ``refused`` with its size in bytes."""

    refused = Signal(int)

    def __init__(self, parent: QWidget | None = None, *, max_bytes: int = MAX_INSERT_BYTES):
        super().__init__(parent)
        self.max_bytes = max_bytes
        # In a dialog Tab moves on to the next control; it never types into the text.
        self.setTabChangesFocus(True)

    def insertFromMimeData(self, source: QMimeData) -> None:  # noqa: N802 (Qt's name)
        if source.hasText():
            # Four bytes at most per character: most text is measured without encoding it.
            text = source.text()
            size = len(text) if len(text) * 4 <= self.max_bytes else len(text.encode())
            if size > self.max_bytes:
                self.refused.emit(size)
                return
        super().insertFromMimeData(source)


class BoundedTextField(QWidget):
    """A ``BoundedPlainTextEdit`` (``editor``) with the sentence of a refusal (``notice``)
    under it; the sentence goes once the text is edited."""

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        hint: str = LARGE_PAYLOAD_HINT,
        max_bytes: int = MAX_INSERT_BYTES,
    ) -> None:
        super().__init__(parent)
        self.hint = hint
        self.editor = BoundedPlainTextEdit(self, max_bytes=max_bytes)
        self.notice = QLabel(self)
        self.notice.setTextFormat(Qt.TextFormat.PlainText)
        self.notice.setWordWrap(True)
        formatting.error_label(self.notice)
        self.notice.hide()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.editor)
        layout.addWidget(self.notice)
        self.setFocusProxy(self.editor)
        self.editor.refused.connect(self._refused)
        # Not textChanged: a refused drop emits it with nothing changed.
        self.editor.document().contentsChange.connect(self._edited)

    def _edited(self, _position: int, removed: int, added: int) -> None:
        if removed or added:
            self.notice.hide()

    def _refused(self, size: int) -> None:
        limit = size_text(self.editor.max_bytes)
        self.notice.setText(
            translate(
                "BoundedText", "That text is {size}, more than this field takes ({limit}): {hint}."
            ).format(size=size_text(size), limit=limit, hint=translate("BoundedText", self.hint))
        )
        self.notice.setAccessibleName(self.notice.text())
        self.notice.show()
