"""The queue as a table model: read in pages, updated row by row from change events.

A queue can hold a million operations, so the model never loads it whole. It asks the queue
for one page at a time (``canFetchMore``/``fetchMore``; keyset paging on the id, offset
paging when sorted on another column) and keeps only the rows the view scrolled through.
Change events from the core are collected for a moment and applied in one go: the loaded
rows they touch are re-read and updated, inserted or removed in place; only an ``external``
change (another process wrote, ids unknown) or a bulk insert reloads the view. Each row's
texts are formatted once and kept while the row is unchanged: a paint asks for ~2,000 cells.
Rows are summaries: no payload is read for the table, whatever its size, and whether a
changed row still matches the filter is decided by the queue's own query.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)

from peft_studio_offline.core.describe import Targets, describe_operation
from peft_studio_offline.core.events import QueueChange
from peft_studio_offline.core.masking import mask_text
from peft_studio_offline.core.operation import OperationSummary
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.waiting import (
    DUE_NOW,
    NEEDS_SETTING,
    WHEN_ONLINE,
    Moment,
    RowWait,
    next_attempt_words,
)
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.direction import isolate
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, once, translate
from peft_studio_offline.gui.icons import status_icon
from peft_studio_offline.gui.tasks import TaskKeeper

log = logging.getLogger(__name__)

AnyIndex = QModelIndex | QPersistentModelIndex


@dataclass(frozen=True, slots=True)
class Column:
    key: str  # the queue column it shows and sorts on
    title: str
    width: int


COLUMNS: tuple[Column, ...] = (
    Column("id", QT_TRANSLATE_NOOP("QueueTable", "ID"), 50),
    Column("what", QT_TRANSLATE_NOOP("QueueTable", "What"), 210),
    Column("operation_type", QT_TRANSLATE_NOOP("QueueTable", "Type"), 100),
    Column("host", QT_TRANSLATE_NOOP("QueueTable", "Host"), 125),
    Column("status", QT_TRANSLATE_NOOP("QueueTable", "Status"), 100),
    Column("priority", QT_TRANSLATE_NOOP("QueueTable", "Priority"), 55),
    Column("retry_count", QT_TRANSLATE_NOOP("QueueTable", "Attempts"), 65),
    Column("created_at", QT_TRANSLATE_NOOP("QueueTable", "Created"), 115),
    Column("updated_at", QT_TRANSLATE_NOOP("QueueTable", "Updated"), 115),
    Column("next_attempt_at", QT_TRANSLATE_NOOP("QueueTable", "Next attempt"), 155),
    Column(
        "error_message", QT_TRANSLATE_NOOP("QueueTable", "Last error"), 60
    ),  # the last: takes the room left
)
COLUMN_INDEX = {column.key: i for i, column in enumerate(COLUMNS)}
_NUMERIC = {"id", "priority", "retry_count"}
# Not queue columns: "what" is words (not sorted), "host" is sorted on the loaded rows once
# every page is loaded (the queue has no host column to sort on).
UNSORTED_KEYS = frozenset({"what"})
_SORTED_HERE = frozenset({"host"})

# data() runs for every cell and role on each paint (~2,000 calls for a screenful): roles
# are compared as plain ints and each row's texts are formatted once, not on every paint.
_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_DECORATION = int(Qt.ItemDataRole.DecorationRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_ALIGNMENT = int(Qt.ItemDataRole.TextAlignmentRole)
_OPERATION = int(Qt.ItemDataRole.UserRole) + 1
_ID = int(Qt.ItemDataRole.UserRole) + 2
_ROLES = frozenset({_DISPLAY, _DECORATION, _TOOLTIP, _ALIGNMENT, _OPERATION, _ID})
_STATUS_COLUMN = COLUMN_INDEX["status"]
_HOST_COLUMN = COLUMN_INDEX["host"]
_NEXT_ATTEMPT_COLUMN = COLUMN_INDEX["next_attempt_at"]
# Counts, times, ids and hosts read left to right whatever the layout's direction.
_LEFT_TO_RIGHT_COLUMNS = frozenset(
    COLUMN_INDEX[key]
    for key in ("id", "host", "priority", "retry_count", "created_at", "updated_at")
)
_RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
_ALIGNMENTS = tuple(_RIGHT if column.key in _NUMERIC else None for column in COLUMNS)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable


@dataclass(frozen=True, slots=True)
class QueueFilter:
    """What the table shows: statuses and types (empty means all) and a search text."""

    statuses: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    search: str = ""

    def query(self) -> dict[str, Any]:
        return {
            "status": list(self.statuses) or None,
            "operation_type": list(self.types) or None,
            "search": self.search.strip() or None,
        }

    @property
    def counted_cheaply(self) -> bool:
        """Counts per status come from counters; a type or text filter needs a scan."""
        return not self.types and not self.search.strip()


@dataclass
class _PendingChanges:
    added: set[int] = field(default_factory=set)
    changed: set[int] = field(default_factory=set)
    removed: set[int] = field(default_factory=set)
    external: bool = False

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed or self.external)


class QueueTableModel(QAbstractTableModel):
    """Operations of one queue, newest first by default."""

    OperationRole = _OPERATION
    IdRole = _ID

    PAGE_SIZE = 500
    # A bulk insert bigger than this reloads the first page instead of inserting row by row.
    BULK_INSERT = 2000
    # Changes are gathered this long, then applied together (many per second during a sync).
    COALESCE_MS = 100
    # Rows whose texts are kept formatted (a few screens; dropped all at once beyond).
    TEXT_CACHE_ROWS = 2000

    total_changed = Signal(int)  # operations matching the filter, in the whole queue
    page_loaded = Signal(int)  # rows now loaded
    reloaded = Signal()  # the first page after a reset is in
    reached_end = Signal()  # every page is loaded after fetch_to_end()

    def __init__(
        self, queue: OfflineQueueManager, tasks: TaskKeeper, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._queue = queue
        self._tasks = tasks
        self._rows: list[OperationSummary] = []
        self._row_of: dict[int, int] | None = {}
        self._filter = QueueFilter()
        self._sort_key = "id"
        self._descending = True
        self._exhausted = True
        self._fetching = False
        self._generation = 0
        self._total = 0
        self._pending = _PendingChanges()
        self._flushing = False
        self._first_page_loaded = False
        self._texts: dict[int, tuple[OperationSummary, tuple[str, ...]]] = {}  # id -> (op, texts)
        self._waits: dict[int, RowWait] = {}  # pending rows with a dependency or a setting
        self._targets = Targets()
        self._targets_known = False  # set_targets was called: an empty target is a fact
        self._moment = Moment()
        self._flush_timer = QTimer(self)
        self._flush_timer.setSingleShot(True)
        self._flush_timer.setInterval(self.COALESCE_MS)
        self._flush_timer.timeout.connect(self._on_flush_timer_timeout)

    # ---------------------------------------------------------------- Qt interface

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(  # noqa: N802
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(COLUMNS):
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return once.translate("QueueTable", COLUMNS[section].title)
        if role == Qt.ItemDataRole.TextAlignmentRole and COLUMNS[section].key in _NUMERIC:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return _FLAGS

    def data(self, index: AnyIndex, role: int = _DISPLAY) -> Any:
        role = int(role)
        if role not in _ROLES:
            return None  # font, colours, check state...: the view's defaults
        row = index.row()  # -1 for an invalid index
        if not 0 <= row < len(self._rows):
            return None
        op = self._rows[row]
        column = index.column()
        if role == _DISPLAY:
            texts = self._texts_of(op)
            if column == _NEXT_ATTEMPT_COLUMN:  # follows the clock and the network
                text = _next_attempt_text(self._next_attempt(op, texts[_HOST_COLUMN]))
            else:
                text = texts[column]
            # In a mirrored layout "1 / 5" must not read "5 / 1" (nor a host "…//:http").
            return isolate(text, left_to_right=column in _LEFT_TO_RIGHT_COLUMNS)
        if role == _ALIGNMENT:
            return _ALIGNMENTS[column]
        if role == _DECORATION:
            return status_icon(op.status) if column == _STATUS_COLUMN else None
        if role == _ID:
            return op.id
        if role == _OPERATION:
            return op
        if column == _NEXT_ATTEMPT_COLUMN:
            return self._next_attempt_tooltip(op)
        if column == COLUMN_INDEX["what"]:
            return self._texts_of(op)[column] or None
        return _tooltip(op, COLUMNS[column].key)

    def _next_attempt(self, op: OperationSummary, host: str) -> str:
        return next_attempt_words(
            op,
            host=host,
            row=self._waits.get(op.id),
            moment=self._moment,
            time_text=_time,
            target_known=self._target_known(op, host),
        )

    def _target_known(self, op: OperationSummary, host: str) -> bool:
        """False when the settings (as known) name no place for ``op`` (of ``host``). A
        payload read only in part may name its URL past what was read: known then."""
        return bool(host) or not self._targets_known or not op.payload_complete

    def target_known(self, row: int) -> bool:
        op = self.operation_at(row)
        return op is None or self._target_known(op, self.host_of(row))

    def _next_attempt_tooltip(self, op: OperationSummary) -> str | None:
        words = self._next_attempt(op, self._texts_of(op)[_HOST_COLUMN])
        wait = self._waits.get(op.id)
        if words.startswith("after #") and wait is not None:
            return once.translate(
                "QueueTable", "Waits until operation {id}, which it depends on, is done."
            ).format(id=wait.blocked_by)
        if words == NEEDS_SETTING and wait is not None:
            return formatting.plain_tooltip(
                op.error_message
                or once.translate("QueueTable", "Waits for {setting}.").format(
                    setting=wait.waiting_for
                )
            )
        if words == WHEN_ONLINE:
            return once.translate("QueueTable", "Sent when the network is back.")
        if words.startswith("host paused"):
            return once.translate(
                "QueueTable",
                "The host is paused after repeated failures; the operation waits for it.",
            )
        return formatting.full_time(op.next_attempt_at) if words else None

    def _texts_of(self, op: OperationSummary) -> tuple[str, ...]:
        cached = self._texts.get(op.id)
        if cached is not None and cached[0] is op:
            return cached[1]
        if len(self._texts) >= self.TEXT_CACHE_ROWS:
            self._texts.clear()
        described = describe_operation(op, self._targets)
        texts = tuple(
            described.text
            if column.key == "what"
            else described.host
            if column.key == "host"
            else _display(op, column.key)
            for column in COLUMNS
        )
        self._texts[op.id] = (op, texts)
        return texts

    def canFetchMore(self, parent: AnyIndex) -> bool:  # noqa: N802
        return not parent.isValid() and not self._exhausted and not self._fetching

    def fetchMore(self, parent: AnyIndex) -> None:  # noqa: N802
        if self.canFetchMore(parent):
            self._start_fetch()

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(COLUMNS):
            return
        key = COLUMNS[column].key
        if key in UNSORTED_KEYS:
            return
        descending = order == Qt.SortOrder.DescendingOrder
        if (key, descending) != (self._sort_key, self._descending):
            self._sort_key, self._descending = key, descending
            self.reload()

    # ------------------------------------------------------------------ public API

    @property
    def total(self) -> int:
        return self._total

    @property
    def queue_filter(self) -> QueueFilter:
        return self._filter

    @property
    def sort_key(self) -> tuple[str, bool]:
        return self._sort_key, self._descending

    @property
    def is_loading(self) -> bool:
        return self._fetching

    @property
    def first_page_loaded(self) -> bool:
        """A first page has been read (it may be empty) since the model was made."""
        return self._first_page_loaded

    def set_targets(self, targets: Targets) -> None:
        """Where operations without a URL of their own go (the settings): their host."""
        if targets != self._targets or not self._targets_known:
            self._targets = targets
            self._targets_known = True
            self._texts.clear()
            self._repaint_all()
            if self._sort_key in _SORTED_HERE:
                self._sort_here()

    def set_moment(self, moment: Moment) -> None:
        """Online or not, hosts paused: what the next-attempt column says follows it."""
        if moment != self._moment:
            self._moment = moment
            self._repaint_all()

    @property
    def moment(self) -> Moment:
        return self._moment

    def host_of(self, row: int) -> str:
        """Where the operation of a loaded row goes ("" when not known)."""
        op = self.operation_at(row)
        return "" if op is None else self._texts_of(op)[_HOST_COLUMN]

    def _repaint_all(self) -> None:
        if self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, len(COLUMNS) - 1)
            )

    def set_filter(self, queue_filter: QueueFilter) -> None:
        if queue_filter != self._filter:
            self._filter = queue_filter
            self.reload()

    def operation_at(self, row: int) -> OperationSummary | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, op_id: int) -> int | None:
        return self._index().get(op_id)

    def operations(self, rows: Iterable[int]) -> list[OperationSummary]:
        return [self._rows[r] for r in sorted(set(rows)) if 0 <= r < len(self._rows)]

    def reload(self) -> None:
        """Forget the loaded rows and read the first page again."""
        self._generation += 1
        self._pending = _PendingChanges()
        self.beginResetModel()
        self._texts.clear()
        self._waits.clear()
        self._rows = []
        self._row_of = {}
        self._exhausted = False
        self._fetching = False
        self.endResetModel()
        self._start_fetch(first=True)
        self._start_count()

    def shutdown(self) -> None:
        """Stop applying changes and drop answers still on their way (the window closes)."""
        self._generation += 1
        self._flush_timer.stop()
        self._pending = _PendingChanges()

    def apply_change(self, change: QueueChange) -> None:
        """Note a change from the core; applied after ``COALESCE_MS`` with the others."""
        ids = set(change.ids)
        if change.kind == "added":
            self._pending.added |= ids
        elif change.kind == "changed":
            self._pending.changed |= ids
        elif change.kind == "removed":
            self._pending.removed |= ids
            self._pending.added -= ids
            self._pending.changed -= ids
        else:
            self._pending.external = True
        if not self._flush_timer.isActive() and not self._flushing:
            self._flush_timer.start()

    # ------------------------------------------------------------------- paging

    def _start_fetch(self, first: bool = False) -> None:
        self._fetching = True
        generation = self._generation
        self._tasks.start(
            self._fetch_page(generation, first), QT_TRANSLATE_NOOP("Tasks", "read the queue")
        )

    def fetch_to_end(self) -> None:
        """Load every page still unread, then emit ``reached_end`` (Ctrl+End: the last
        operation, not the last of the loaded page). Pages are read one after another
        without blocking the window; each cell is still formatted only when painted."""
        self._tasks.start(
            self._fetch_to_end(self._generation),
            QT_TRANSLATE_NOOP("Tasks", "read the queue to its end"),
        )

    async def _fetch_to_end(self, generation: int) -> None:
        while not self._exhausted and generation == self._generation:
            if self._fetching:  # a page on its way (scrolling): wait for it
                await asyncio.sleep(0.01)
                continue
            self._fetching = True
            await self._fetch_page(generation, first=False, size=self.PAGE_SIZE * 10)
        if generation == self._generation:
            self.reached_end.emit()

    async def _fetch_page(self, generation: int, first: bool, size: int | None = None) -> None:
        try:
            options: dict[str, Any] = dict(self._filter.query())
            by_id = self._sort_key == "id" or self._sort_key in _SORTED_HERE
            options.update(
                limit=size or self.PAGE_SIZE,
                descending=self._descending,
                order_by="id" if by_id else self._sort_key,
            )
            if by_id:
                if self._rows:
                    options["after_id"] = self._rows[-1].id
            else:
                options["offset"] = len(self._rows)
            page = await self._queue.list_summaries(**options)
            waits = await self._queue.row_waits(page)
        finally:
            if generation == self._generation:
                self._fetching = False
        if generation != self._generation:
            return
        index = self._index()
        fresh = [op for op in page if op.id not in index]
        self._waits.update(waits)
        if fresh:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            self._rows.extend(fresh)
            self._row_of = None
            self.endInsertRows()
        self._exhausted = len(page) < (size or self.PAGE_SIZE)
        self.page_loaded.emit(len(self._rows))
        if first:
            self._first_page_loaded = True
            self.reloaded.emit()
            if self._sort_key in _SORTED_HERE:
                self._tasks.start(
                    self._load_all_then_sort(generation),
                    QT_TRANSLATE_NOOP("Tasks", "sort the queue"),
                )

    async def _load_all_then_sort(self, generation: int) -> None:
        await self._fetch_to_end(generation)
        if generation == self._generation:
            self._sort_here()

    def _sort_here(self) -> None:
        """Order the loaded rows on a column the queue cannot sort on (all are loaded)."""
        host = {op.id: self._texts_of(op)[_HOST_COLUMN] for op in self._rows}
        self.layoutAboutToBeChanged.emit()
        self._rows.sort(key=lambda op: op.id, reverse=self._descending)
        self._rows.sort(key=lambda op: host[op.id], reverse=self._descending)
        self._row_of = None
        self.layoutChanged.emit()

    def _start_count(self) -> None:
        generation = self._generation
        self._tasks.start(self._count(generation), QT_TRANSLATE_NOOP("Tasks", "count the queue"))

    async def _count(self, generation: int) -> None:
        total = await self._queue.count_operations(**self._filter.query())
        if generation == self._generation and total != self._total:
            self._total = total
            self.total_changed.emit(total)

    # ------------------------------------------------------------- live changes

    def _on_flush_timer_timeout(self) -> None:
        if self._pending and not self._flushing:
            self._flushing = True
            self._tasks.start(
                self._flush(self._generation), QT_TRANSLATE_NOOP("Tasks", "update the queue table")
            )

    async def _flush(self, generation: int) -> None:
        try:
            pending, self._pending = self._pending, _PendingChanges()
            if pending.external or len(pending.added) > self.BULK_INSERT:
                self.reload()
                return
            self._remove_ids(pending.removed)
            index = self._index()
            loaded = {i for i in pending.changed if i in index}
            # A row held by a dependency that changed may wait no more: read it again too.
            moved = pending.changed | pending.removed
            loaded |= {
                i for i, wait in self._waits.items() if wait.blocked_by in moved and i in index
            }
            insertable = self._insertable(pending.added, index)
            wanted = sorted(loaded | insertable)
            # Only ids the table shows (or would show at the top) are read again, in one
            # query with the filter: one that no longer matches is not found.
            found: dict[int, OperationSummary] = {}
            if wanted:
                rows = await self._queue.list_summaries(
                    **self._filter.query(), ids=wanted, limit=None
                )
                if generation != self._generation:
                    return
                found = {op.id: op for op in rows}
                waits = await self._queue.row_waits(rows)
                if generation != self._generation:
                    return
                for op_id in found:
                    self._waits.pop(op_id, None)
                self._waits.update(waits)
            self._update_rows(loaded, found)
            self._insert_new([found[i] for i in sorted(insertable) if i in found])
            # Re-count only when it is cheap (counters) or rows surely went away.
            touched = pending.added or pending.removed or pending.changed
            if touched and (self._filter.counted_cheaply or pending.removed):
                self._start_count()
        finally:
            self._flushing = False
            if self._pending and not self._flush_timer.isActive():
                self._flush_timer.start()

    def _insertable(self, added: set[int], index: dict[int, int]) -> set[int]:
        """New ids that belong in the loaded rows: only when sorted on the id."""
        if not added or self._sort_key != "id":
            return set()
        if self._descending or self._exhausted:
            return {i for i in added if i not in index}
        return set()  # ascending with more to fetch: they arrive with a later page

    def _update_rows(self, ids: set[int], found: dict[int, OperationSummary]) -> None:
        gone: set[int] = set()
        for op_id in ids:
            row = self._index().get(op_id)
            if row is None:
                continue
            op = found.get(op_id)
            if op is None:  # no longer matches the filter
                gone.add(op_id)
                continue
            self._rows[row] = op
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        self._remove_ids(gone)

    def _insert_new(self, ops: Sequence[OperationSummary]) -> None:
        if not ops:
            return
        ordered = sorted(ops, key=lambda op: op.id, reverse=self._descending)
        if self._descending:
            self.beginInsertRows(QModelIndex(), 0, len(ordered) - 1)
            self._rows[0:0] = ordered
        else:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(ordered) - 1)
            self._rows.extend(ordered)
        self._row_of = None
        self.endInsertRows()

    def _remove_ids(self, ids: Iterable[int]) -> None:
        index = self._index()
        rows = sorted((index[i] for i in ids if i in index), reverse=True)
        if not rows:
            return
        # Remove contiguous runs from the bottom up so earlier row numbers stay valid.
        run_end = run_start = rows[0]
        for row in [*rows[1:], None]:
            if row is not None and row == run_start - 1:
                run_start = row
                continue
            self.beginRemoveRows(QModelIndex(), run_start, run_end)
            del self._rows[run_start : run_end + 1]
            self.endRemoveRows()
            if row is not None:
                run_end = run_start = row
        self._row_of = None

    def _index(self) -> dict[int, int]:
        if self._row_of is None:
            self._row_of = {op.id: row for row, op in enumerate(self._rows)}
        return self._row_of


_ERROR_SCAN = 1000  # characters of an error read for its cell
_ERROR_TOOLTIP = 2000  # and shown in its tooltip (the inspect view shows it all)


def _display(op: OperationSummary, key: str) -> str:
    """The cell's text (the next attempt's is made on each paint: it follows the clock)."""
    if key == "id":
        return str(op.id)
    if key == "operation_type":
        return formatting.type_label(op.operation_type)
    if key == "status":
        return formatting.status_label(op.status)
    if key == "priority":
        return str(op.priority)
    if key == "retry_count":
        return f"{op.attempts_made} / {op.max_attempts}"
    if key == "created_at":
        return formatting.local_time(op.created_at, seconds=True)
    if key == "updated_at":
        return formatting.local_time(op.updated_at, seconds=True)
    if key == "error_message":
        # The first line, cut: an error can be as long as a server's answer.
        text = mask_text((op.error_message or op.problem or "")[:_ERROR_SCAN]).strip()
        return text.split("\n", 1)[0][:200]
    return ""


def _time(moment: datetime) -> str:
    return formatting.local_time(moment, seconds=True)


_HOST_PAUSED = "host paused until "


def _next_attempt_text(words: str) -> str:
    """The core's words for when an operation goes next, in the user's language (a retry's
    time is already in the locale's format)."""
    if words == DUE_NOW:
        return once.translate("QueueTable", "Due now")
    if words == NEEDS_SETTING:
        return once.translate("QueueTable", "needs a setting")
    if words == WHEN_ONLINE:
        return once.translate("QueueTable", "when online")
    if words.startswith("after #"):
        return once.translate("QueueTable", "after #{id}").format(id=words.removeprefix("after #"))
    if words.startswith(_HOST_PAUSED):
        return once.translate("QueueTable", "host paused until {time}").format(
            time=words.removeprefix(_HOST_PAUSED)
        )
    return words


def _tooltip(op: OperationSummary, key: str) -> str | None:
    if key == "error_message":
        text = op.error_message or op.problem or None
        if text is not None and len(text) > _ERROR_TOOLTIP:
            text = text[:_ERROR_TOOLTIP] + "…"
        return formatting.plain_tooltip(mask_text(text) if text else None) or None
    if key in ("created_at", "updated_at", "next_attempt_at"):
        return formatting.full_time(getattr(op, key))
    if key == "retry_count":
        made = op.attempts_made
        return translate("QueueTable", "%Ln attempt(s) made, of at most {most}", None, made).format(
            most=formatting.count(op.max_attempts)
        )
    return None
