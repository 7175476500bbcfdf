"""Everything about one operation: payload (secrets masked), key, history, dependencies, and
why it is waiting, in words.

The dialog opens at once with what the table already has and fills in the rest (history,
wait reason, conflict) when the queue answers.
"""

from __future__ import annotations

import json
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QTabWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from peft_studio_offline.core.masking import mask_secrets, mask_text, payload_secrets
from peft_studio_offline.core.operation import Attempt, ConflictRecord, Operation
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.icons import status_icon
from peft_studio_offline.gui.tasks import TaskKeeper


def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _mono() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def _selectable(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class InspectDialog(QDialog):
    def __init__(
        self,
        queue: OfflineQueueManager,
        operation: Operation,
        tasks: TaskKeeper,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._secrets: frozenset[str] = frozenset()
        self.setObjectName("inspectDialog")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setWindowTitle(
            f"Operation {operation.id} — {formatting.type_label(operation.operation_type)}"
        )
        self.resize(640, 560)
        self.operation = operation
        layout = QVBoxLayout(self)

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self.status = _selectable()
        self.wait_reason = _selectable("…")
        self.wait_reason.setObjectName("inspectWaitReason")
        self.key = _selectable(operation.idempotency_key)
        self.key.setObjectName("inspectIdempotencyKey")
        self.key.setFont(_mono())
        self.dependencies = _selectable()
        self.dependencies.setObjectName("inspectDependencies")
        self.times = _selectable()
        self.error = _selectable()
        self.error.setObjectName("inspectError")
        form.addRow("Status:", self.status)
        form.addRow("Why waiting:", self.wait_reason)
        form.addRow("Idempotency key:", self.key)
        form.addRow("Depends on:", self.dependencies)
        form.addRow("Times:", self.times)
        form.addRow("Last error:", self.error)
        layout.addLayout(form)

        self.tabs = QTabWidget(self)
        self.payload = QPlainTextEdit(self)
        self.payload.setObjectName("inspectPayload")
        self.payload.setAccessibleName("Payload, secrets masked")
        self.payload.setReadOnly(True)
        self.payload.setFont(_mono())
        self.tabs.addTab(self.payload, "Payload")
        self.history = QTreeWidget(self)
        self.history.setObjectName("inspectHistory")
        self.history.setAccessibleName("Attempt history")
        self.history.setRootIsDecorated(False)
        self.history.setHeaderLabels(["#", "When", "Outcome", "Error / details"])
        header = self.history.header()
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.tabs.addTab(self.history, "History")
        self.conflict = QPlainTextEdit()  # becomes a tab (and a child) when there is one
        self.conflict.setObjectName("inspectConflict")
        self.conflict.setReadOnly(True)
        self.conflict.setFont(_mono())
        layout.addWidget(self.tabs, 1)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

        self.show_operation(operation)
        self.loaded = tasks.start(self._load(queue, operation.id), "read the operation")

    def show_operation(self, op: Operation) -> None:
        self.operation = op
        self._secrets = payload_secrets(op.payload)  # free text is masked with them too
        self.status.setText(
            f"{formatting.status_label(op.status)} · priority {op.priority} · "
            f"{op.retry_count} of {op.max_attempts} attempts used"
        )
        self.status.setToolTip(str(op.status))
        self.setWindowIcon(status_icon(op.status))
        self.dependencies.setText(", ".join(f"#{d}" for d in op.depends_on) or "none")
        parts = [
            f"created {formatting.full_time(op.created_at)}",
            f"updated {formatting.full_time(op.updated_at)}",
        ]
        if op.expires_at:
            parts.append(f"expires {formatting.full_time(op.expires_at)}")
        self.times.setText("\n".join(parts))
        self.error.setText(mask_text(op.error_message or op.problem or "none", self._secrets))
        self.payload.setPlainText(pretty_json(mask_secrets(op.payload)))

    def show_history(self, attempts: list[Attempt]) -> None:
        self.history.clear()
        for attempt in attempts:
            secrets = self._secrets
            detail = mask_text(attempt.error, secrets) if attempt.error else ""
            if not detail and attempt.details:
                detail = json.dumps(mask_secrets(attempt.details, secrets), default=str)
            item = QTreeWidgetItem(
                [str(attempt.attempt), formatting.full_time(attempt.at), attempt.outcome, detail]
            )
            item.setToolTip(3, detail)
            self.history.addTopLevelItem(item)
        self.tabs.setTabText(1, f"History ({len(attempts)})")

    def show_conflict(self, record: ConflictRecord) -> None:
        self.conflict.setPlainText(
            "Local (yours):\n"
            + pretty_json(mask_secrets(record.local))
            + "\n\nRemote (theirs):\n"
            + pretty_json(mask_secrets(record.remote))
            + ("\n\nBase:\n" + pretty_json(mask_secrets(record.base)) if record.base else "")
        )
        if self.tabs.indexOf(self.conflict) < 0:
            self.tabs.addTab(self.conflict, "Conflict")

    async def _load(self, queue: OfflineQueueManager, op_id: int) -> None:
        fresh = await queue.get_operation(op_id)
        if not shiboken6.isValid(self):  # closed while the queue answered
            return
        if fresh is None:
            self.wait_reason.setText("This operation is no longer in the queue.")
            return
        self.show_operation(fresh)
        reason = await queue.wait_reason(op_id)
        attempts = await queue.get_attempts(op_id)
        record = await queue.get_conflict(op_id)
        if not shiboken6.isValid(self):
            return
        self.wait_reason.setText(reason or "Not waiting.")
        self.show_history(attempts)
        if record is not None:
            self.show_conflict(record)
