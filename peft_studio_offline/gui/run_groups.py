"""The queue grouped by MLflow run or Hub repository, with counts per status.

A user tracks a run, not operation 81,234: this view answers "is run-42 fully delivered?".
The counts come from one query of the queue (on its reader thread); while the view is shown
they are read again after changes, at most once per ``REFRESH_MS`` (or twice the time the
last count took, on a large queue).
"""

from __future__ import annotations

import logging
import time

import shiboken6
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem, QWidget

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.events import QueueChange
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate
from peft_studio_offline.gui.icons import status_icon
from peft_studio_offline.gui.tasks import TaskKeeper

log = logging.getLogger(__name__)

_SHOWN = (
    OperationStatus.PENDING,
    OperationStatus.IN_PROGRESS,
    OperationStatus.COMPLETED,
    OperationStatus.FAILED,
    OperationStatus.CONFLICT,
)


def headers() -> list[str]:
    return [
        translate("RunGroups", "Run or repository"),
        translate("RunGroups", "State"),
        translate("RunGroups", "Operations"),
        *(formatting.status_label(status) for status in _SHOWN),
    ]


class _GroupItem(QTreeWidgetItem):
    """Counts sort as numbers, not as text ("9" before "10")."""

    def __lt__(self, other: QTreeWidgetItem) -> bool:
        tree = self.treeWidget()
        column = tree.sortColumn() if tree is not None else 0
        mine = self.data(column, Qt.ItemDataRole.UserRole)
        theirs = other.data(column, Qt.ItemDataRole.UserRole)
        if isinstance(mine, int) and isinstance(theirs, int):
            return mine < theirs
        return self.text(column).casefold() < other.text(column).casefold()


def group_state(counts: dict[str, int]) -> tuple[str, OperationStatus]:
    """In words, and the status whose icon shows it."""
    total = sum(counts.values())
    failed = counts.get(OperationStatus.FAILED, 0)
    conflicts = counts.get(OperationStatus.CONFLICT, 0)
    waiting = counts.get(OperationStatus.PENDING, 0) + counts.get(OperationStatus.IN_PROGRESS, 0)
    if failed:
        return translate("RunGroups", "%Ln failed", None, failed), OperationStatus.FAILED
    if conflicts:
        return (
            translate("RunGroups", "%Ln in conflict", None, conflicts),
            OperationStatus.CONFLICT,
        )
    if waiting:
        return translate("RunGroups", "%Ln to send", None, waiting), OperationStatus.PENDING
    if counts.get(OperationStatus.COMPLETED, 0) == total:
        return translate("RunGroups", "Fully delivered"), OperationStatus.COMPLETED
    return (
        translate("RunGroups", "Ended (some cancelled or expired)"),
        OperationStatus.CANCELLED,
    )


class RunGroupsView(QTreeWidget):
    """One row per run or repository; double-click to list its operations."""

    REFRESH_MS = 500

    def __init__(
        self, queue: OfflineQueueManager, tasks: TaskKeeper, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("runGroups")
        self.setAccessibleName(translate("RunGroups", "Operations per run or repository"))
        self.setRootIsDecorated(False)
        self.setUniformRowHeights(True)
        self.setAlternatingRowColors(True)
        self.setSortingEnabled(True)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        labels = headers()
        self.setHeaderLabels(labels)
        header = self.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(labels)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self._queue = queue
        self._tasks = tasks
        self._reading = False
        self._again = False
        self.groups: dict[str, dict[str, int]] = {}
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.REFRESH_MS)
        self._timer.timeout.connect(self.refresh)

    def apply_change(self, change: QueueChange) -> None:
        """A queue change: counted again soon, if the view is shown."""
        if self.isVisible() and not self._timer.isActive():
            self._timer.start()

    def refresh(self) -> None:
        if self._reading:
            self._again = True
            return
        self._reading = True
        self._tasks.start(self._read(), QT_TRANSLATE_NOOP("Tasks", "count operations per run"))

    async def _read(self) -> None:
        started = time.monotonic()
        try:
            groups = await self._queue.group_counts()
        finally:
            self._reading = False
        # A large queue takes seconds to count (~3 s for a million operations): the reader
        # is left free at least twice as long as the count took before the next one.
        spent_ms = int((time.monotonic() - started) * 1000)
        if shiboken6.isValid(self):
            self._timer.setInterval(max(self.REFRESH_MS, 2 * spent_ms))
        if not shiboken6.isValid(self):
            return
        self._show(groups)
        if self._again:
            self._again = False
            self.refresh()

    def _show(self, groups: dict[str, dict[str, int]]) -> None:
        self.groups = groups
        self.setSortingEnabled(False)
        self.clear()
        for name, counts in groups.items():
            state, icon_status = group_state(counts)
            numbers = [sum(counts.values()), *(counts.get(s, 0) for s in _SHOWN)]
            item = _GroupItem([name, state, *(formatting.count(n) for n in numbers)])
            item.setIcon(1, status_icon(icon_status))
            item.setToolTip(0, name)
            for column, number in enumerate(numbers, start=2):
                item.setData(column, Qt.ItemDataRole.UserRole, number)
                item.setTextAlignment(
                    column, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                )
            self.addTopLevelItem(item)
        self.setSortingEnabled(True)

    def row_texts(self) -> dict[str, list[str]]:
        """What each group's row shows (for the window's users and tests)."""
        out: dict[str, list[str]] = {}
        for i in range(self.topLevelItemCount()):
            item = self.topLevelItem(i)
            if item is not None:
                out[item.text(0)] = [item.text(c) for c in range(1, self.columnCount())]
        return out
