"""The confirmation asked before deleting operations: it says exactly what will go."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGridLayout, QMessageBox, QSizePolicy, QSpacerItem, QWidget

from peft_studio_offline.core.operation import Operation, OperationSummary
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.i18n import translate

_LISTED = 8


def describe(op: Operation | OperationSummary) -> str:
    status = formatting.status_label(op.status).lower()
    return f"#{op.id} {formatting.type_label(op.operation_type)} ({status})"


def delete_confirmation(
    parent: QWidget, operations: Sequence[Operation | OperationSummary]
) -> QMessageBox:
    count = len(operations)
    if count == 1:
        text = translate("Confirm", "Delete operation {operation}?").format(
            operation=describe(operations[0])
        )
    else:
        text = translate("Confirm", "Delete these %Ln operation(s)?", None, count)
    lines = [describe(op) for op in operations[:_LISTED]]
    if count > _LISTED:
        rest = count - _LISTED
        lines.append(translate("Confirm", "…and %Ln more.", None, rest))
    box = QMessageBox(parent)
    box.setObjectName("deleteConfirmation")
    box.setIcon(QMessageBox.Icon.Warning)
    title = (
        translate("Confirm", "Delete Operation")
        if count == 1
        else translate("Confirm", "Delete Operations")
    )
    box.setWindowTitle(title)
    box.setText(text)
    box.setInformativeText(
        _unsent_warning(operations) + translate("Confirm", "This cannot be undone.")
    )
    if count > 1:
        box.setDetailedText("\n".join(lines))
    box.setStandardButtons(QMessageBox.StandardButton.Cancel)
    delete = box.addButton(translate("Confirm", "Delete"), QMessageBox.ButtonRole.AcceptRole)
    delete.setObjectName("confirmDeleteButton")
    box.setDefaultButton(QMessageBox.StandardButton.Cancel)
    box.setEscapeButton(QMessageBox.StandardButton.Cancel)
    # Listed in the main text as well when short: people do not open "Show Details".
    if 1 < count <= 4:
        box.setText(text + "\n\n" + "\n".join(lines))
    _keep_title_visible(box, title)
    return box


def _unsent_warning(operations: Sequence[Operation | OperationSummary]) -> str:
    unsent = sum(1 for op in operations if not op.status.is_final)
    if not unsent:
        return ""
    if len(operations) == 1:
        return translate("Confirm", "It has not been sent yet and never will be.") + " "
    if unsent == len(operations):
        return translate("Confirm", "None of them has been sent yet, and none ever will be.") + " "
    return (
        translate(
            "Confirm", "%Ln of them has/have not been sent yet and never will be.", None, unsent
        )
        + " "
    )


def _keep_title_visible(box: QMessageBox, title: str) -> None:
    """A message box is as narrow as its text, and a window manager cuts a longer title:
    make the box wide enough for the title and the title bar's buttons."""
    # X11 and Wayland show the title followed by the application's name.
    name = QGuiApplication.applicationDisplayName()
    shown = (
        translate("MainWindow", "{document} — {app}").format(document=title, app=name)
        if name
        else title
    )
    width = box.fontMetrics().horizontalAdvance(shown) + TITLE_BAR_ALLOWANCE
    layout = box.layout()
    if isinstance(layout, QGridLayout):
        spacer = QSpacerItem(width, 0, QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Minimum)
        layout.addItem(spacer, layout.rowCount(), 0, 1, layout.columnCount())


# Room for the title bar's icon and its buttons (close, maximise, minimise) around the title.
TITLE_BAR_ALLOWANCE = 180
