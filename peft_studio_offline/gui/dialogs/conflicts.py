"""Resolve conflicts: your version and the server's side by side, the base when known, and
Keep mine / Keep theirs / Merge (an editable merged JSON), optionally for all remaining.

Labels say which side is which in words ("Yours — queued on this machine", "Theirs — on the
server"), with times, because "local/remote" is exactly what users of sync tools mix up.
"""

from __future__ import annotations

import html
import json
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from peft_studio_offline.core.enums import ConflictResolution
from peft_studio_offline.core.masking import mask_secrets
from peft_studio_offline.core.operation import ConflictRecord, OperationSummary
from peft_studio_offline.core.payload_preview import preview
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.merge import three_way_merge
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.bounded_text import BoundedTextField
from peft_studio_offline.gui.commands import WindowCommands
from peft_studio_offline.gui.direction import keep_left_to_right
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate
from peft_studio_offline.gui.tasks import TaskKeeper, describe_error


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


# Each side is shown as a bounded, masked preview; a longer merge is not put in the editor.
SIDE_CHARS = 16 * 1024
MERGE_EDIT_CHARS = 256 * 1024


def _shown(value: Any) -> str:
    """One side of a conflict, masked, at most about ``SIDE_CHARS`` characters."""
    compact = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    if len(compact) <= SIDE_CHARS:
        return _json(mask_secrets(value))
    return preview(compact, SIDE_CHARS).text


def _mono() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def suggested_merge(record: ConflictRecord) -> Any:
    """The three-way merge of the two sides; where both changed one field, yours is kept."""
    if isinstance(record.local, dict) and isinstance(record.remote, dict):
        return three_way_merge(record.base, record.local, record.remote).merged
    return record.local


def clashes(record: ConflictRecord) -> tuple[str, ...]:
    """Fields changed differently on both sides (paths like /params/lr)."""
    if isinstance(record.local, dict) and isinstance(record.remote, dict):
        return three_way_merge(record.base, record.local, record.remote).conflicts
    return ()


class ConflictDialog(QDialog):
    resolved = Signal(int, str)  # operation id, resolution value

    def __init__(
        self,
        queue: OfflineQueueManager,
        commands: WindowCommands,
        tasks: TaskKeeper,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("conflictDialog")
        self.setWindowTitle(translate("Conflicts", "Resolve Conflicts"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.resize(1000, 640)
        self._queue = queue
        self._commands = commands
        self._tasks = tasks
        self._conflicts: list[tuple[OperationSummary, ConflictRecord]] = []
        self.busy = False
        self._merged_value: Any = None  # the merge sent as it is when too large to edit

        layout = QVBoxLayout(self)
        self.summary = QLabel(translate("Conflicts", "Loading conflicts…"), self)
        self.summary.setObjectName("conflictSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)

        splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.panes = splitter
        self.list = QListWidget(splitter)
        self.list.setObjectName("conflictList")
        self.list.setAccessibleName(translate("Conflicts", "Operations in conflict"))
        self.list.setMinimumWidth(200)
        self.list.currentRowChanged.connect(self._on_list_current_row_changed)

        sides = QWidget(splitter)
        grid = QGridLayout(sides)
        grid.setContentsMargins(0, 0, 0, 0)
        self.local_label = QLabel(sides)
        self.remote_label = QLabel(sides)
        self.base_label = QLabel(sides)
        self.local = self._viewer(
            "conflictLocal", translate("Conflicts", "Yours: queued on this machine")
        )
        self.remote = self._viewer(
            "conflictRemote", translate("Conflicts", "Theirs: on the server")
        )
        self.base = self._viewer(
            "conflictBase", translate("Conflicts", "Base: what both started from")
        )
        self.merged_field = BoundedTextField(sides)
        self.merged = self.merged_field.editor
        self.merged.setObjectName("conflictMerged")
        self.merged.setAccessibleName(translate("Conflicts", "Merged result, editable JSON"))
        self.merged.setFont(_mono())
        keep_left_to_right(self.merged)
        self.merged_label = QLabel(
            translate("Conflicts", "Merged &result (edit before merging):"), sides
        )
        self.merged_label.setBuddy(self.merged)
        self.detail = formatting.plain_label(QLabel(sides))  # the server's message
        self.detail.setObjectName("conflictDetail")
        self.detail.setWordWrap(True)
        # Every pane has its name from the start, before (and whether or not) one is chosen.
        self.local_label.setText(translate("Conflicts", "<b>Yours</b> — queued on this machine"))
        self.remote_label.setText(translate("Conflicts", "<b>Theirs</b> — on the server"))
        self.base_label.setText(translate("Conflicts", "<b>Base</b> — what both started from"))
        for label, view in (
            (self.local_label, self.local),
            (self.remote_label, self.remote),
            (self.base_label, self.base),
        ):
            label.setTextFormat(Qt.TextFormat.RichText)  # our own words, in bold
            label.setBuddy(view)
        grid.addWidget(self.local_label, 0, 0)
        grid.addWidget(self.remote_label, 0, 1)
        grid.addWidget(self.local, 1, 0)
        grid.addWidget(self.remote, 1, 1)
        grid.addWidget(self.base_label, 2, 0)
        grid.addWidget(self.merged_label, 2, 1)
        grid.addWidget(self.base, 3, 0)
        grid.addWidget(self.merged_field, 3, 1)
        grid.addWidget(self.detail, 4, 0, 1, 2)
        grid.setRowStretch(1, 3)
        grid.setRowStretch(3, 2)
        self.panes.hide()  # until there is a conflict to show
        splitter.addWidget(self.list)
        splitter.addWidget(sides)
        splitter.setStretchFactor(1, 1)
        layout.addWidget(splitter, 1)

        self.error = formatting.plain_label(QLabel(self))  # may quote the server
        self.error.setObjectName("conflictError")
        formatting.error_label(self.error)
        self.error.setWordWrap(True)
        self.error.hide()
        layout.addWidget(self.error)

        row = QHBoxLayout()
        self.apply_all = QCheckBox(
            translate("Conflicts", "Apply to &all remaining conflicts"), self
        )
        self.apply_all.setObjectName("conflictApplyAll")
        row.addWidget(self.apply_all)
        row.addStretch(1)
        self.keep_mine = QPushButton(translate("Conflicts", "Keep &Mine"), self)
        self.keep_mine.setObjectName("conflictKeepMine")
        self._keep_mine_tip = translate(
            "Conflicts", "Send your version again, replacing the server's"
        )
        self.keep_mine.setToolTip(self._keep_mine_tip)
        self.keep_theirs = QPushButton(translate("Conflicts", "Keep &Theirs"), self)
        self.keep_theirs.setObjectName("conflictKeepTheirs")
        self.keep_theirs.setToolTip(
            translate("Conflicts", "Drop your change and keep the server's version")
        )
        self.merge = QPushButton(translate("Conflicts", "Mer&ge"), self)
        self.merge.setObjectName("conflictMerge")
        self.merge.setToolTip(translate("Conflicts", "Send the merged result on the right"))
        for button in (self.keep_mine, self.keep_theirs, self.merge):
            row.addWidget(button)
        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        close.rejected.connect(self.reject)
        row.addWidget(close)
        layout.addLayout(row)
        self.keep_mine.clicked.connect(lambda: self.resolve(ConflictResolution.LOCAL_WINS))
        self.keep_theirs.clicked.connect(lambda: self.resolve(ConflictResolution.REMOTE_WINS))
        self.merge.clicked.connect(lambda: self.resolve(ConflictResolution.MERGE))
        self._set_enabled(False)
        self.loaded = tasks.start(self._load(), QT_TRANSLATE_NOOP("Tasks", "read the conflicts"))

    def _viewer(self, name: str, accessible: str) -> QPlainTextEdit:
        view = QPlainTextEdit(self)
        view.setObjectName(name)
        view.setAccessibleName(accessible)
        view.setReadOnly(True)
        view.setTabChangesFocus(True)
        view.setFont(_mono())
        keep_left_to_right(view)
        return view

    # ------------------------------------------------------------------ loading

    async def _load(self) -> None:
        conflicts = await self._queue.list_conflicts()
        if not shiboken6.isValid(self):
            return
        self._conflicts = conflicts
        self.list.clear()
        for op, _record in conflicts:
            item = QListWidgetItem(f"#{op.id} {formatting.type_label(op.operation_type)}")
            item.setToolTip(formatting.plain_tooltip(op.error_message))
            self.list.addItem(item)
        self._update_summary()
        if conflicts:
            self.list.setCurrentRow(0)

    def _update_summary(self) -> None:
        n = len(self._conflicts)
        if n == 0:
            text = translate("Conflicts", "No conflicts: everything queued agrees with the server.")
        else:
            text = translate(
                "Conflicts",
                "%Ln operation(s) changed on the server after you queued them. Choose which"
                " version to keep for each.",
                None,
                n,
            )
        self.summary.setText(text)
        # Empty panes say nothing: with no conflict there is only the sentence above.
        self.panes.setVisible(n > 0)
        for widget in (self.apply_all, self.keep_mine, self.keep_theirs, self.merge):
            widget.setVisible(n > 0)
        self._set_enabled(n > 0)

    def _set_enabled(self, enabled: bool) -> None:
        for widget in (self.keep_mine, self.keep_theirs, self.merge, self.apply_all, self.merged):
            widget.setEnabled(enabled and not self.busy)
        self._offer_keep_mine()

    def _offer_keep_mine(self) -> None:
        """Keep Mine only where the service can take the local side (not MLflow params)."""
        entry = self.current()
        refusal = None if entry is None else self._commands.keep_local_refusal(entry[0])
        self.keep_mine.setEnabled(self.keep_mine.isEnabled() and refusal is None)
        self.keep_mine.setToolTip(refusal or self._keep_mine_tip)

    def current(self) -> tuple[OperationSummary, ConflictRecord] | None:
        row = self.list.currentRow()
        return self._conflicts[row] if 0 <= row < len(self._conflicts) else None

    def _on_list_current_row_changed(self, row: int) -> None:
        self.error.hide()
        entry = self.current()
        if entry is None:
            for view in (self.local, self.remote, self.base, self.merged):
                view.clear()
            self.detail.clear()
            return
        op, record = entry
        self._set_enabled(not self.busy)
        self.local_label.setText(
            translate("Conflicts", "<b>Yours</b> — queued on this machine {time}").format(
                time=html.escape(formatting.full_time(op.created_at))
            )
        )
        # The version is the server's word: escaped in this rich-text label.
        seen = html.escape(formatting.full_time(record.detected_at))
        self.remote_label.setText(
            translate(
                "Conflicts", "<b>Theirs</b> — on the server, seen {time}, version {version}"
            ).format(time=seen, version=html.escape(str(record.remote_version)))
            if record.remote_version
            else translate("Conflicts", "<b>Theirs</b> — on the server, seen {time}").format(
                time=seen
            )
        )
        self.local.setPlainText(_shown(record.local))
        self.remote.setPlainText(_shown(record.remote))
        known = record.base is not None
        self.base_label.setText(
            translate("Conflicts", "<b>Base</b> — what both started from")
            if known
            else translate("Conflicts", "Base: not known")
        )
        self.base.setPlainText(_shown(record.base) if known else "")
        merged = _json(suggested_merge(record))
        editable = len(merged) <= MERGE_EDIT_CHARS
        # A merge too large to edit comfortably is still offered, unedited.
        self.merged.setPlainText(merged if editable else "")
        self.merged.setReadOnly(not editable)
        self._merged_value = None if editable else suggested_merge(record)
        notes = [record.message] if record.message else []
        if not editable:
            notes.append(
                translate(
                    "Conflicts",
                    "The merged value is too large to show; Merge sends the suggested merge as"
                    " it is.",
                )
            )
        both = clashes(record)
        if both:
            notes.append(
                translate(
                    "Conflicts",
                    "Changed on both sides: {keys} (the merge keeps yours; edit it to choose).",
                ).format(keys=", ".join(both))
            )
        self.detail.setText("\n".join(notes))

    # ---------------------------------------------------------------- resolving

    def resolve(self, resolution: ConflictResolution) -> None:
        entry = self.current()
        if entry is None or self.busy:
            return
        merged: Any = None
        if resolution is ConflictResolution.MERGE and self._merged_value is not None:
            merged = self._merged_value
        elif resolution is ConflictResolution.MERGE:
            try:
                merged = json.loads(self.merged.toPlainText())
            except json.JSONDecodeError as exc:
                self._show_error(
                    translate(
                        "Conflicts",
                        "The merged result is not valid JSON (line {line}, column {column}:"
                        " {reason}).",
                    ).format(line=exc.lineno, column=exc.colno, reason=exc.msg)
                )
                self.merged.setFocus()
                return
        if self.apply_all.isChecked():
            targets = self._conflicts[self.list.currentRow() :]
        else:
            targets = [entry]
        self.busy = True
        self._set_enabled(False)
        self.running = self._tasks.start(
            self._resolve(targets, resolution, merged), QT_TRANSLATE_NOOP("Tasks", "resolve")
        )

    async def _resolve(
        self,
        targets: list[tuple[OperationSummary, ConflictRecord]],
        resolution: ConflictResolution,
        merged: Any,
    ) -> None:
        done: list[int] = []
        error: str | None = None
        for index, (op, record) in enumerate(targets):
            # The edited merge applies to the one shown; the others get their own merge.
            value = merged if index == 0 else suggested_merge(record)
            try:
                await self._commands.resolve_conflict(op.id, resolution, value)
            except Exception as exc:
                error = describe_error(
                    exc, translate("Tasks", "resolve operation {id}").format(id=op.id)
                )
                break
            done.append(op.id)
        if not shiboken6.isValid(self):
            return
        self.busy = False
        for op_id in done:
            self.resolved.emit(op_id, resolution.value)
        self._conflicts = [c for c in self._conflicts if c[0].id not in done]
        row = max(0, self.list.currentRow())
        self.list.blockSignals(True)
        self.list.clear()
        for op, _record in self._conflicts:
            self.list.addItem(f"#{op.id} {formatting.type_label(op.operation_type)}")
        self.list.blockSignals(False)
        self._update_summary()
        if self._conflicts:
            self.list.setCurrentRow(min(row, len(self._conflicts) - 1))
        else:
            self._on_list_current_row_changed(-1)
        if error:
            self._show_error(error)

    def _show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()
