"""The queue table view: fixed row heights, keyboard and context-menu entry points."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QFocusEvent, QFont, QKeyEvent, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.i18n import once, translate
from peft_studio_offline.gui.queue_model import (
    COLUMN_INDEX,
    COLUMNS,
    UNSORTED_KEYS,
    Column,
    QueueFilter,
    QueueTableModel,
)

# Room around a cell's text (the style's margins), for a status's icon, around a title.
_CELL_PADDING = 16
_ICON = 22
_HEADER_PADDING = 10
_WHAT_AT_LEAST = 140


class QueueView(QTableView):
    inspect_requested = Signal(int)  # row
    context_menu_requested = Signal(QPoint)  # global position

    def __init__(self, model: QueueTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queueTable")
        self.setAccessibleName(translate("QueueView", "Queued operations"))
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
        widths = [self.first_width(column) for column in COLUMNS]
        # What longer words add is taken from "What" (it is elided anyway), so that the
        # table still fits the window's first width without a horizontal scroll bar.
        what = COLUMN_INDEX["what"]
        grown = sum(widths) - sum(column.width for column in COLUMNS)
        widths[what] = max(_WHAT_AT_LEAST, widths[what] - grown)
        for i, width in enumerate(widths):
            header.resizeSection(i, width)
        self._going_to_end = False
        self.doubleClicked.connect(lambda index: self.inspect_requested.emit(index.row()))
        self.customContextMenuRequested.connect(
            lambda pos: self.context_menu_requested.emit(self.viewport().mapToGlobal(pos))
        )

    def first_width(self, column: Column) -> int:
        """A column's width before the user sets one: wide enough for its title and, for
        the type and the status, for the words the language gives them (German's are
        longer); the rare status "exported" may be cut (its tooltip and Inspect show it)."""
        metrics = self.fontMetrics()
        title = (
            metrics.horizontalAdvance(
                self.model().headerData(COLUMNS.index(column), Qt.Orientation.Horizontal) or ""
            )
            + _HEADER_PADDING
        )
        words: list[str] = []
        if column.key == "status":
            words = [
                formatting.status_label(s)
                for s in OperationStatus
                if s is not OperationStatus.EXPORTED
            ]
        elif column.key == "operation_type":
            words = [formatting.type_label(kind) for kind in OperationType]
        extra = _ICON if column.key == "status" else 0
        widest = max((metrics.horizontalAdvance(word) for word in words), default=0)
        return max(column.width, title, widest + extra + _CELL_PADDING if words else 0)

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
        self._paint_focus_row()
        model = self.model()
        if not isinstance(model, QueueTableModel) or model.rowCount() or model.is_loading:
            return
        # An empty table says why it is empty instead of showing nothing.
        if model.queue_filter != QueueFilter():
            title = once.translate("QueueView", "No operations match")
            hint = once.translate("QueueView", "Clear the search or choose another filter.")
        else:
            title = once.translate("QueueView", "Nothing is queued")
            hint = once.translate(
                "QueueView",
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
        self._make_current(self.model().index(last, column))
        self.scrollTo(self.currentIndex(), QAbstractItemView.ScrollHint.PositionAtBottom)

    def _make_current(self, index: QModelIndex) -> None:
        """``index`` current and its row the whole selection: Enter (the current row) and
        Delete (the selection) act on the same operation. Not ``setCurrentIndex``, which
        reads the keyboard's modifiers and, with Ctrl still held, leaves the selection."""
        flags = (
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows
        )
        self.selectionModel().setCurrentIndex(index, flags)

    def focusInEvent(self, event: QFocusEvent) -> None:  # noqa: N802
        super().focusInEvent(event)
        # Reached by the keyboard with nothing selected: the current (or first) row is,
        # so that what is focused is also what Enter, Delete and the menus act on.
        keyboard = (
            Qt.FocusReason.TabFocusReason,
            Qt.FocusReason.BacktabFocusReason,
            Qt.FocusReason.ShortcutFocusReason,
        )
        model = self.model()
        if event.reason() in keyboard and model.rowCount() and not self.selected_rows():
            current = self.currentIndex()
            self._make_current(current if current.isValid() else model.index(0, 0))

    def _open_context_menu_from_keyboard(self) -> None:
        """Shift+F10 or the Menu key: the context menu at the current row."""
        current = self.currentIndex()
        if current.isValid():
            if current.row() not in self.selected_rows():
                self._make_current(current)
            rect = self.visualRect(current)
            point = QPoint(rect.left() + 8, rect.center().y())
        else:
            point = QPoint(8, 8)
        self.context_menu_requested.emit(self.viewport().mapToGlobal(point))

    def _paint_focus_row(self) -> None:
        """A clear mark around the current row while the table has the focus (the style's
        dotted one around a single cell is hard to see)."""
        current = self.currentIndex()
        if not self.hasFocus() or not current.isValid():
            return
        cell = self.visualRect(current)
        if not cell.isValid():
            return
        row = QRect(0, cell.top(), self.viewport().width(), cell.height()).adjusted(1, 1, -1, -1)
        painter = QPainter(self.viewport())
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Highlight), 2))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(row)
        painter.end()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        shift_f10 = (
            event.key() == Qt.Key.Key_F10 and event.modifiers() & Qt.KeyboardModifier.ShiftModifier
        )
        if shift_f10 or event.key() == Qt.Key.Key_Menu:
            self._open_context_menu_from_keyboard()
            event.accept()
            return
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
