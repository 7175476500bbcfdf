"""Search text and status/type filters above the queue table."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QWidget

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.i18n import translate
from peft_studio_offline.gui.icons import status_icon
from peft_studio_offline.gui.queue_model import QueueFilter


# "Waiting" is what people mean most of the time: everything not finished.
def _status_choices() -> list[tuple[str, tuple[str, ...]]]:
    return [
        (translate("FilterBar", "All statuses"), ()),
        (
            translate("FilterBar", "Waiting (pending, sending, conflict)"),
            ("pending", "in_progress", "conflict"),
        ),
        *((formatting.status_label(s), (s.value,)) for s in OperationStatus),
    ]


class FilterBar(QWidget):
    filter_changed = Signal(object)  # QueueFilter

    SEARCH_DELAY_MS = 250  # wait for a pause in typing before searching a large queue

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(8)
        self.search = QLineEdit(self)
        self.search.setObjectName("queueSearch")
        self.search.setPlaceholderText(
            translate("FilterBar", "Search id, type, payload or error  ({keys})").format(
                keys=QKeySequence(QKeySequence.StandardKey.Find).toString(
                    QKeySequence.SequenceFormat.NativeText
                )
            )
        )
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName(translate("FilterBar", "Search the queue"))
        self.status = QComboBox(self)
        self.status.setObjectName("queueStatusFilter")
        self.status.setAccessibleName(translate("FilterBar", "Filter by status"))
        for label, statuses in _status_choices():
            icon = status_icon(statuses[0]) if len(statuses) == 1 else None
            if icon is not None:
                self.status.addItem(icon, label, statuses)
            else:
                self.status.addItem(label, statuses)
        self.type = QComboBox(self)
        self.type.setObjectName("queueTypeFilter")
        self.type.setAccessibleName(translate("FilterBar", "Filter by operation type"))
        self.type.addItem(translate("FilterBar", "All types"), ())
        for kind in OperationType:
            self.type.addItem(formatting.type_label(kind), (kind.value,))
        self.count = QLabel(self)
        self.count.setObjectName("queueCount")
        self.count.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        status_label = QLabel(translate("FilterBar", "St&atus"), self)
        status_label.setBuddy(self.status)
        type_label = QLabel(translate("FilterBar", "&Type"), self)
        type_label.setBuddy(self.type)
        layout.addWidget(self.search, 3)
        layout.addWidget(status_label)
        layout.addWidget(self.status, 1)
        layout.addWidget(type_label)
        layout.addWidget(self.type, 1)
        layout.addWidget(self.count, 1)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.SEARCH_DELAY_MS)
        self._timer.timeout.connect(self._emit)
        self.search.textChanged.connect(self._timer.start)
        self.status.currentIndexChanged.connect(self._emit)
        self.type.currentIndexChanged.connect(self._emit)

    def current(self) -> QueueFilter:
        return QueueFilter(
            statuses=tuple(self.status.currentData() or ()),
            types=tuple(self.type.currentData() or ()),
            search=self.search.text(),
        )

    def show_status(self, status: str) -> None:
        """Choose the entry listing just ``status`` (the table follows)."""
        for index in range(self.status.count()):
            if tuple(self.status.itemData(index) or ()) == (str(status),):
                self.status.setCurrentIndex(index)
                return

    def _emit(self) -> None:
        self._timer.stop()
        self.filter_changed.emit(self.current())

    def show_count(self, shown: int, total: int) -> None:
        operations = translate("FilterBar", "%Ln operation(s)", None, total)
        if total <= shown:
            self.count.setText(operations)
        else:
            loaded = translate("FilterBar", "%Ln loaded", None, shown)
            self.count.setText(f"{operations} · {loaded}")
