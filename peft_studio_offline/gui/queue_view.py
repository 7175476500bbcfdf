"""The queue table view: fixed row heights, keyboard and context-menu entry points."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QFont, QKeyEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from peft_studio_offline.gui.queue_model import (
    COLUMNS,
    UNSORTED_KEYS,
    QueueFilter,
    QueueTableModel,
)


class QueueView(QTableView):
    inspect_requested = Signal(int)  # row
    context_menu_requested = Signal(QPoint)  # global position

    def __init__(self, model: QueueTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueTable")
        self.setAccessibleName("Queued operations")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setTabKeyNavigation(False)
        vertical = self.verticalHeader()
        vertical.hide()
        # Fixed heights: the view never measures a million rows.
        vertical.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vertical.setDefaultSectionSize(max(22, self.fontMetrics().height() + 8))
        header = self.horizontalHeader()
        header.setSectionsMovable(True)
        header.setHighlightSections(False)
        header.setStretchLastSection(True)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        header.setSortIndicator(0, Qt.SortOrder.DescendingOrder)
        self._sorted_on = (0, Qt.SortOrder.DescendingOrder)
        header.sortIndicatorChanged.connect(self._on_sort_indicator_changed)
        for i, column in enumerate(COLUMNS):
            header.resizeSection(i, column.width)
        self._going_to_end = False
        self.doubleClicked.connect(lambda index: self.inspect_requested.emit(index.row()))
        self.customContextMenuRequested.connect(
            lambda pos: self.context_menu_requested.emit(self.viewport().mapToGlobal(pos))
        )

    def _on_sort_indicator_changed(self, column: int, order: Qt.SortOrder) -> None:
        """A column the table cannot sort on (the words of "What") keeps the indicator
        where the rows are really sorted."""
        if 0 <= column < len(COLUMNS) and COLUMNS[column].key in UNSORTED_KEYS:
            header = self.horizontalHeader()
            header.blockSignals(True)
            header.setSortIndicator(*self._sorted_on)
            header.blockSignals(False)
            return
        self._sorted_on = (column, order)

    def selected_rows(self) -> list[int]:
        model = self.selectionModel()
        return sorted({index.row() for index in model.selectedRows()}) if model else []

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        model = self.model()
        if not isinstance(model, QueueTableModel) or model.rowCount() or model.is_loading:
            return
        # An empty table says why it is empty instead of showing nothing.
        if model.queue_filter != QueueFilter():
            title, hint = "No operations match", "Clear the search or choose another filter."
        else:
            title, hint = (
                "Nothing is queued",
                "Uploads, metrics and model pushes made while offline wait here until they"
                " can be sent.",
            )
        painter = QPainter(self.viewport())
        colour = self.palette().color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(colour)
        area = self.viewport().rect().adjusted(40, 0, -40, 0)
        font = painter.font()
        big = QFont(font)
        big.setPointSizeF(font.pointSizeF() * 1.3)
        big.setWeight(QFont.Weight.DemiBold)
        painter.setFont(big)
        top = area.center().y() - 30
        painter.drawText(
            area.adjusted(0, top - area.top(), 0, 0),
            int(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop),
            title,
        )
        painter.setFont(font)
        painter.drawText(
            area.adjusted(0, top - area.top() + 32, 0, 0),
            int(
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap
            ),
            hint,
        )
        painter.end()

    def go_to_end(self) -> None:
        """Ctrl+End: the last operation of the queue, loading the pages before it."""
        model = self.model()
        if isinstance(model, QueueTableModel) and model.canFetchMore(QModelIndex()):
            if not self._going_to_end:
                self._going_to_end = True
                model.reached_end.connect(self._on_model_reached_end)
                model.fetch_to_end()
            return
        self._select_last()

    def _on_model_reached_end(self) -> None:
        model = self.model()
        if isinstance(model, QueueTableModel):
            model.reached_end.disconnect(self._on_model_reached_end)
        self._going_to_end = False
        self._select_last()

    def _select_last(self) -> None:
        last = self.model().rowCount() - 1
        if last < 0:
            return
        column = max(0, self.currentIndex().column())
        index = self.model().index(last, column)
        self.setCurrentIndex(index)
        self.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtBottom)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if (
            event.key() == Qt.Key.Key_End
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.go_to_end()
            event.accept()
            return
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            current = self.currentIndex()
            if current.isValid():
                self.inspect_requested.emit(current.row())
                event.accept()
                return
        super().keyPressEvent(event)
