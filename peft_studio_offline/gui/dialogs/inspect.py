"""Everything about one operation: payload (secrets masked), key, history, dependencies, and
why it is waiting, in words.

The dialog opens at once with what the table already has and fills in the rest (history,
wait reason, conflict) when the queue answers. A payload can be tens of megabytes: the
dialog shows its first 64 KB, read and formatted on a worker thread, and says how large it
is. "Show all" formats the rest on a worker thread and hands it to the text view a few
thousand lines per event-loop turn; "Save payload…" writes it from a worker thread.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import shiboken6
from PySide6.QtCore import QLocale, Qt
from PySide6.QtGui import QFont, QFontDatabase, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from peft_studio_offline.core import payload_preview
from peft_studio_offline.core.masking import mask_secrets, mask_text, payload_secrets
from peft_studio_offline.core.operation import Attempt, ConflictRecord, OperationSummary
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.waiting import Moment
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.direction import keep_left_to_right
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate
from peft_studio_offline.gui.icons import status_icon
from peft_studio_offline.gui.tasks import TaskKeeper

# Lines handed to the text view per event-loop turn by "Show all" (~15 ms each).
LINES_PER_TURN = 2000
# Characters of an error shown in the header and the history: an error can hold a
# server's whole answer.
ERROR_CHARS = 2000
# Lines of the last error shown at once; a longer one scrolls.
ERROR_LINES = 5
# Lines are broken at this length for the text view, which lays out a long line slowly
# (16 lines of 4,096 characters held the GUI thread ~120 ms; 1,000 characters cost ~5 µs).
LINE_CHARS = 1000


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _mono() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def _selectable(text: str = "") -> QLabel:
    """A value of the form: reached by Tab and selectable (and copied) by keyboard too."""
    label = formatting.plain_label(QLabel(text))  # errors and reasons come from servers
    label.setTextInteractionFlags(
        Qt.TextInteractionFlag.TextSelectableByMouse
        | Qt.TextInteractionFlag.TextSelectableByKeyboard
    )
    label.setFocusPolicy(Qt.FocusPolicy.StrongFocus)  # Qt gives a selectable label click focus
    label.setWordWrap(True)
    return label


class _ErrorView(QPlainTextEdit):
    """The last error: as many lines as it has up to ``ERROR_LINES``, then a scroll bar,
    so that a long error neither is cut off nor squeezes the payload under it."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setReadOnly(True)
        self.setTabChangesFocus(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundRole(QPalette.ColorRole.Window)  # reads as the labels around it
        self.viewport().setAutoFillBackground(False)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._fit()

    def text(self) -> str:
        return self.toPlainText()

    def setText(self, text: str) -> None:  # noqa: N802 (as QLabel's, which it replaces)
        self.setPlainText(text)

    def _fit(self, *args: object) -> None:
        lines = max(1, min(ERROR_LINES, self.document().lineCount()))
        margins = self.contentsMargins()
        height = lines * self.fontMetrics().lineSpacing()
        document_margin = 2 * self.document().documentMargin()
        self.setFixedHeight(int(height + document_margin + margins.top() + margins.bottom()))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit()


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def size_text(size: int) -> str:
    """``812 bytes``, ``64.0 KB``, ``10.5 MB``."""
    locale = QLocale()
    if size < 1000:
        return translate("Inspect", "%Ln byte(s)", None, size)
    if size < 1_000_000:
        return translate("Inspect", "{size} KB").format(size=locale.toString(size / 1000, "f", 1))
    return translate("Inspect", "{size} MB").format(size=locale.toString(size / 1_000_000, "f", 1))


class InspectDialog(QDialog):
    def __init__(
        self,
        queue: OfflineQueueManager,
        operation: OperationSummary,
        tasks: TaskKeeper,
        parent: QWidget | None = None,
        *,
        moment: Moment | None = None,
        host: str = "",
        target_known: bool = True,
    ) -> None:
        super().__init__(parent)
        self._secrets: frozenset[str] = frozenset()
        self._moment = moment
        self._host = host
        self._target_known = target_known
        self.setObjectName("inspectDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(
            translate("Inspect", "Operation {id} — {type}").format(
                id=operation.id, type=formatting.type_label(operation.operation_type)
            )
        )
        self.resize(640, 560)
        self.operation = operation
        self._queue = queue
        self._tasks = tasks
        self._payload_text: str | None = None  # the stored JSON text, once read
        self.showing_all: asyncio.Task[None] | None = None
        self.saving: asyncio.Task[None] | None = None
        layout = QVBoxLayout(self)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.status = _selectable()
        self.wait_reason = _selectable("…")
        self.wait_reason.setObjectName("inspectWaitReason")
        self.key = _selectable(operation.idempotency_key)
        self.key.setObjectName("inspectIdempotencyKey")
        self.key.setFont(_mono())
        self.key.setLayoutDirection(Qt.LayoutDirection.LeftToRight)
        self.dependencies = _selectable()
        self.dependencies.setObjectName("inspectDependencies")
        self.times = _selectable()
        self.error = _ErrorView(self)
        self.error.setObjectName("inspectError")
        for name, value in (
            (translate("Inspect", "Status"), self.status),
            (translate("Inspect", "Why waiting"), self.wait_reason),
            (translate("Inspect", "Idempotency key"), self.key),
            (translate("Inspect", "Depends on"), self.dependencies),
            (translate("Inspect", "Times"), self.times),
            (translate("Inspect", "Last error"), self.error),
        ):
            value.setAccessibleName(name)  # what a screen reader says as Tab reaches it
            form.addRow(translate("Inspect", "{name}:").format(name=name), value)
        layout.addLayout(form)

        self.tabs = QTabWidget(self)
        self.tabs.addTab(self._payload_tab(), translate("Inspect", "Payload"))
        self.history = QTreeWidget(self)
        self.history.setObjectName("inspectHistory")
        self.history.setAccessibleName(translate("Inspect", "Attempt history"))
        self.history.setRootIsDecorated(False)
        self.history.setHeaderLabels(
            [
                "#",
                translate("Inspect", "When"),
                translate("Inspect", "Outcome"),
                translate("Inspect", "Error / details"),
            ]
        )
        header = self.history.header()
        # Number, time and outcome are short and must be read whole; the details take the rest.
        for column in (0, 1, 2):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(True)
        self.tabs.addTab(self.history, translate("Inspect", "History"))
        self.conflict = QPlainTextEdit()  # becomes a tab (and a child) when there is one
        self.conflict.setObjectName("inspectConflict")
        self.conflict.setReadOnly(True)
        self.conflict.setTabChangesFocus(True)
        self.conflict.setFont(_mono())
        keep_left_to_right(self.conflict)
        layout.addWidget(self.tabs, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

        self.show_operation(operation)
        self.loaded = tasks.start(
            self._load(queue, operation.id), QT_TRANSLATE_NOOP("Tasks", "read the operation")
        )

    def _payload_tab(self) -> QWidget:
        tab = QWidget(self)
        column = QVBoxLayout(tab)
        column.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.payload_note = QLabel(translate("Inspect", "Reading the payload…"), tab)
        self.payload_note.setObjectName("inspectPayloadNote")
        self.payload_note.setTextFormat(Qt.TextFormat.PlainText)
        self.payload_note.setWordWrap(True)
        self.show_all_button = QPushButton(translate("Inspect", "Show &all"), tab)
        self.show_all_button.setObjectName("inspectShowAll")
        self.show_all_button.setToolTip(
            translate("Inspect", "Show the whole payload (secrets masked)")
        )
        self.show_all_button.setEnabled(False)
        self.show_all_button.clicked.connect(self._on_show_all_button_clicked)
        self.save_button = QPushButton(translate("Inspect", "&Save payload…"), tab)
        self.save_button.setObjectName("inspectSavePayload")
        self.save_button.setToolTip(
            translate("Inspect", "Save the whole payload as JSON (secrets masked)")
        )
        self.save_button.setEnabled(False)
        self.save_button.clicked.connect(self._on_save_button_clicked)
        row.addWidget(self.payload_note, 1)
        row.addWidget(self.show_all_button)
        row.addWidget(self.save_button)
        column.addLayout(row)
        self.payload = QPlainTextEdit(tab)
        self.payload.setObjectName("inspectPayload")
        self.payload.setAccessibleName(translate("Inspect", "Payload, secrets masked"))
        self.payload.setReadOnly(True)
        self.payload.setTabChangesFocus(True)
        self.payload.setFont(_mono())
        self.payload.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        keep_left_to_right(self.payload)
        column.addWidget(self.payload, 1)
        return tab

    def show_operation(self, op: OperationSummary) -> None:
        self.operation = op
        made = op.attempts_made
        self.status.setText(
            translate(
                "Inspect",
                "{status} · priority {priority} · %Ln of {most} attempts used",
                None,
                made,
            ).format(
                status=formatting.status_label(op.status),
                priority=op.priority,
                most=formatting.count(op.max_attempts),
            )
        )
        self.status.setToolTip(str(op.status))
        self.setWindowIcon(status_icon(op.status))
        self.dependencies.setText(
            ", ".join(f"#{d}" for d in op.depends_on) or translate("Inspect", "none")
        )
        parts = [
            translate("Inspect", "created {time}").format(time=formatting.full_time(op.created_at)),
            translate("Inspect", "updated {time}").format(time=formatting.full_time(op.updated_at)),
        ]
        if op.expires_at:
            parts.append(
                translate("Inspect", "expires {time}").format(
                    time=formatting.full_time(op.expires_at)
                )
            )
        self.times.setText("\n".join(parts))
        # Free text is masked with the operation's own secrets too: a server that echoes a
        # request can put them into an error.
        error = _cut(op.error_message or op.problem or translate("Inspect", "none"), ERROR_CHARS)
        self.error.setText(mask_text(error, self._secrets))

    def show_history(self, attempts: list[Attempt]) -> None:
        self.history.clear()
        for attempt in attempts:
            detail = mask_text(attempt.error, self._secrets) if attempt.error else ""
            if not detail and attempt.details:
                detail = json.dumps(mask_secrets(attempt.details, self._secrets), default=str)
            detail = _cut(detail, ERROR_CHARS)
            item = QTreeWidgetItem(
                [str(attempt.attempt), formatting.full_time(attempt.at), attempt.outcome, detail]
            )
            item.setToolTip(3, formatting.plain_tooltip(detail))
            self.history.addTopLevelItem(item)
        self.tabs.setTabText(
            1,
            translate("Inspect", "History ({count})").format(count=formatting.count(len(attempts))),
        )

    def show_conflict(self, text: str) -> None:
        self.conflict.setPlainText(text)
        if self.tabs.indexOf(self.conflict) < 0:
            self.tabs.addTab(self.conflict, translate("Inspect", "Conflict"))

    async def _load(self, queue: OfflineQueueManager, op_id: int) -> None:
        fresh = await queue.get_summary(op_id)
        if not shiboken6.isValid(self):  # closed while the queue answered
            return
        if fresh is None:
            self.wait_reason.setText(
                translate("Inspect", "This operation is no longer in the queue.")
            )
            self.payload_note.setText("")
            return
        text = await queue.get_payload_text(op_id)
        # The payload's own secrets, found off the GUI thread: the payload may be large.
        secrets = frozenset() if text is None else await asyncio.to_thread(_secrets_of, text)
        if not shiboken6.isValid(self):
            return
        self._secrets = secrets
        self.show_operation(fresh)
        reason = await queue.wait_reason(
            op_id, moment=self._moment, host=self._host, target_known=self._target_known
        )
        attempts = await queue.get_attempts(op_id)
        record = await queue.get_conflict(op_id)
        if not shiboken6.isValid(self):
            return
        self.wait_reason.setText(
            mask_text(reason, secrets) if reason else translate("Inspect", "Not waiting.")
        )
        self.show_history(attempts)
        if record is not None:
            self.show_conflict(await asyncio.to_thread(conflict_text, record))
        if text is not None:
            await self._load_payload(text, fresh.payload_size)

    async def _load_payload(self, text: str, size: int) -> None:
        shown = await asyncio.to_thread(_preview, text, size)
        if not shiboken6.isValid(self):
            return
        self._payload_text = text
        self.payload.setPlainText(shown.text)
        self.save_button.setEnabled(True)
        if shown.truncated:
            self.payload_note.setText(
                translate(
                    "Inspect", "The payload is {size}; only its first {shown} are shown."
                ).format(size=size_text(size), shown=size_text(len(shown.text.encode())))
            )
            self.show_all_button.setEnabled(True)
        else:
            self.payload_note.setText(
                translate("Inspect", "The whole payload ({size}).").format(size=size_text(size))
            )

    # ------------------------------------------------------------------ show all

    def _on_show_all_button_clicked(self) -> None:
        if self._payload_text is not None and self.showing_all is None:
            self.showing_all = self._tasks.start(
                self._show_all(self._payload_text),
                QT_TRANSLATE_NOOP("Tasks", "show the whole payload"),
            )

    async def _show_all(self, text: str) -> None:
        self.show_all_button.setEnabled(False)
        self.payload_note.setText(translate("Inspect", "Formatting the whole payload…"))
        chunks = await asyncio.to_thread(_whole_in_chunks, text)
        if not shiboken6.isValid(self):
            return
        self.payload.clear()
        for index, chunk in enumerate(chunks, 1):
            self.payload.appendPlainText(chunk)
            self.payload_note.setText(
                translate("Inspect", "Showing the whole payload… {percent}%").format(
                    percent=formatting.count(100 * index // len(chunks))
                )
            )
            await asyncio.sleep(0)  # Qt paints and reads input between chunks
            if not shiboken6.isValid(self):
                return
        self.payload.moveCursor(self.payload.textCursor().MoveOperation.Start)
        self.payload_note.setText(
            translate(
                "Inspect",
                "The whole payload ({size}); lines longer than {limit} characters are broken."
                " Save payload… writes it as it is.",
            ).format(
                size=size_text(self.operation.payload_size), limit=formatting.count(LINE_CHARS)
            )
        )

    # ---------------------------------------------------------------------- save

    def _on_save_button_clicked(self) -> None:
        dialog = QFileDialog(
            self,
            translate("Inspect", "Save Payload"),
            str(Path.home() / f"operation-{self.operation.id}.json"),
        )
        dialog.setObjectName("savePayloadDialog")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setNameFilter(translate("MainWindow", "JSON files (*.json)"))
        dialog.setDefaultSuffix("json")
        dialog.fileSelected.connect(self.save_payload)
        self.save_dialog = dialog
        dialog.open()

    def save_payload(self, name: str) -> asyncio.Task[None] | None:
        """Write the whole payload (masked) to ``name`` from a worker thread."""
        if self._payload_text is None:
            return None
        self.saving = self._tasks.start(
            self._save(Path(name), self._payload_text),
            QT_TRANSLATE_NOOP("Tasks", "save the payload"),
        )
        return self.saving

    async def _save(self, path: Path, text: str) -> None:
        self.save_button.setEnabled(False)
        try:
            await asyncio.to_thread(write_payload, path, text)
        finally:
            if shiboken6.isValid(self):
                self.save_button.setEnabled(True)
        if shiboken6.isValid(self):
            self.payload_note.setText(translate("Inspect", "Saved to {path}.").format(path=path))


def _secrets_of(text: str) -> frozenset[str]:
    try:
        return payload_secrets(json.loads(text))
    except ValueError:  # unreadable: nothing to find
        return frozenset()


def _preview(text: str, size: int) -> payload_preview.PayloadPreview:
    try:
        shown = payload_preview.preview(text, payload_preview.WINDOW_PREVIEW_CHARS, size=size)
    except ValueError:  # unreadable: "Last error" says why
        return payload_preview.PayloadPreview(_cut(text, 1000), True, size)
    if len(shown.text) > LINE_CHARS:
        lines = payload_preview.broken_lines(shown.text, LINE_CHARS)
        return payload_preview.PayloadPreview("\n".join(lines), shown.truncated, size)
    return shown


def _whole_in_chunks(text: str) -> list[str]:
    """The whole payload formatted, in pieces of ``LINES_PER_TURN`` lines."""
    try:
        return payload_preview.whole_pieces(
            text, line_limit=LINE_CHARS, lines_per_piece=LINES_PER_TURN
        )
    except ValueError:
        lines = payload_preview.broken_lines(text, LINE_CHARS)
        return [
            "\n".join(lines[start : start + LINES_PER_TURN])
            for start in range(0, len(lines), LINES_PER_TURN)
        ]


def write_payload(path: Path, text: str) -> None:
    """The payload as indented JSON with its secrets masked, written atomically."""
    value, _ = payload_preview.read_prefix(text, None)
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(mask_secrets(value), handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    tmp.replace(path)


def conflict_text(record: ConflictRecord) -> str:
    """Both sides of a conflict (and the base), each cut to a bounded preview."""

    def side(value: Any) -> str:
        text = json.dumps(value, ensure_ascii=False, default=str)
        return payload_preview.preview(text, payload_preview.WINDOW_PREVIEW_CHARS // 4).text

    # Runs on a worker thread: QCoreApplication.translate is thread-safe.
    parts = [
        translate("Inspect", "Local (yours):") + "\n" + side(record.local),
        translate("Inspect", "Remote (theirs):") + "\n" + side(record.remote),
    ]
    if record.base:
        parts.append(translate("Inspect", "Base:") + "\n" + side(record.base))
    return "\n\n".join(parts)
