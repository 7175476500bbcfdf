"""The confirmation asked before deleting operations: it says exactly what will go."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtWidgets import QMessageBox, QWidget

from peft_studio_offline.core.operation import Operation, OperationSummary
from peft_studio_offline.gui import formatting

_LISTED = 8


def describe(op: Operation | OperationSummary) -> str:
    status = formatting.status_label(op.status).lower()
    return f"#{op.id} {formatting.type_label(op.operation_type)} ({status})"


def delete_confirmation(
    parent: QWidget, operations: Sequence[Operation | OperationSummary]
) -> QMessageBox:
    count = len(operations)
    if count == 1:
        text = f"Delete operation {describe(operations[0])}?"
    else:
        text = f"Delete these {count} operations?"
    lines = [describe(op) for op in operations[:_LISTED]]
    if count > _LISTED:
        lines.append(f"…and {count - _LISTED} more.")
    unsent = sum(1 for op in operations if not op.status.is_final)
    warning = (
        f"{unsent} of them {'has' if unsent == 1 else 'have'} not been sent yet and never will be. "
        if unsent
        else ""
    )
    box = QMessageBox(parent)
    box.setObjectName("deleteConfirmation")
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Delete Operations")
    box.setText(text)
    box.setInformativeText(warning + "This cannot be undone.")
    if count > 1:
        box.setDetailedText("\n".join(lines))
    box.setStandardButtons(QMessageBox.StandardButton.Cancel)
    delete = box.addButton("Delete", QMessageBox.ButtonRole.AcceptRole)
    delete.setObjectName("confirmDeleteButton")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    # Listed in the main text as well when short: people do not open "Show Details".
    if 1 < count <= 4:
        box.setText(text + "\n\n" + "\n".join(lines))
    return box
