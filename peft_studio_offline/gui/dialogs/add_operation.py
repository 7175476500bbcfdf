"""Queue → Add Operation: a small form per operation type, checked before anything is queued.

Each type lists its fields (its built-in handler's payload keys); the form turns them into
a payload, saying in one sentence when a JSON field is not a JSON object. Everything else,
what is required included, is decided by the core's submit path (``core/submit.py``), as
for every other way in: its refusal (or a full disk) is shown inline in the dialog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.operation import PRIORITY_MAX, PRIORITY_MIN
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.bounded_text import BoundedTextField
from peft_studio_offline.gui.commands import WindowCommands
from peft_studio_offline.gui.direction import keep_left_to_right
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate
from peft_studio_offline.gui.tasks import describe_error


@dataclass(frozen=True, slots=True)
class Field:
    key: str
    label: str
    kind: str = "text"  # text | json | int | choice | flag (default/yes/no) | list
    required: bool = False  # marked "*" for the user; the core's submit path checks it
    placeholder: str = ""
    choices: tuple[str, ...] = ()
    target: str = ""  # shown and sent only for this "target" (a model push's registry)


_FLAG_CHOICES = (
    QT_TRANSLATE_NOOP("AddOperation", "default"),
    QT_TRANSLATE_NOOP("AddOperation", "yes"),
    QT_TRANSLATE_NOOP("AddOperation", "no"),
)
_MLFLOW, _HUB = "mlflow", "huggingface"


FORMS: dict[OperationType, tuple[Field, ...]] = {
    OperationType.API_CALL: (
        Field(
            "endpoint",
            QT_TRANSLATE_NOOP("AddOperation", "Endpoint"),
            placeholder=QT_TRANSLATE_NOOP(
                "AddOperation", "/api/models (relative to the API base URL)"
            ),
        ),
        Field("url", QT_TRANSLATE_NOOP("AddOperation", "or full URL"), placeholder="https://…"),
        Field(
            "method",
            QT_TRANSLATE_NOOP("AddOperation", "Method"),
            "choice",
            choices=("GET", "POST", "PUT", "PATCH", "DELETE"),
        ),
        Field(
            "headers",
            QT_TRANSLATE_NOOP("AddOperation", "Headers"),
            "json",
            placeholder='{"X-Team": "nlp"}',
        ),
        Field(
            "data",
            QT_TRANSLATE_NOOP("AddOperation", "JSON body"),
            "json",
            placeholder='{"model_name": "my-adapter"}',
        ),
    ),
    OperationType.FILE_UPLOAD: (
        Field(
            "path",
            QT_TRANSLATE_NOOP("AddOperation", "Local file"),
            required=True,
            placeholder="/path/to/file",
        ),
        Field(
            "url",
            QT_TRANSLATE_NOOP("AddOperation", "Upload URL"),
            required=True,
            placeholder="https://…",
        ),
        Field(
            "method", QT_TRANSLATE_NOOP("AddOperation", "Method"), "choice", choices=("PUT", "POST")
        ),
    ),
    OperationType.METRIC_LOG: (
        Field("run_id", QT_TRANSLATE_NOOP("AddOperation", "Run id"), required=True),
        Field(
            "metrics",
            QT_TRANSLATE_NOOP("AddOperation", "Metrics"),
            "json",
            required=True,
            placeholder='{"loss": 0.42}',
        ),
        Field("step", QT_TRANSLATE_NOOP("AddOperation", "Step"), "int"),
    ),
    OperationType.MODEL_PUSH: (
        Field(
            "target",
            QT_TRANSLATE_NOOP("AddOperation", "Push to"),
            "choice",
            choices=(_MLFLOW, _HUB),
        ),
        Field(
            "path",
            QT_TRANSLATE_NOOP("AddOperation", "Adapter folder"),
            required=True,
            placeholder="/path/to/adapter",
        ),
        Field("run_id", QT_TRANSLATE_NOOP("AddOperation", "Run id"), required=True, target=_MLFLOW),
        Field(
            "artifact_path",
            QT_TRANSLATE_NOOP("AddOperation", "Artifact path"),
            placeholder="adapter",
            target=_MLFLOW,
        ),
        Field(
            "registered_model_name",
            QT_TRANSLATE_NOOP("AddOperation", "Register as"),
            target=_MLFLOW,
        ),
        Field(
            "repo_id",
            QT_TRANSLATE_NOOP("AddOperation", "Hub repository"),
            required=True,
            placeholder="user/my-lora",
            target=_HUB,
        ),
        Field(
            "revision", QT_TRANSLATE_NOOP("AddOperation", "Branch"), placeholder="main", target=_HUB
        ),
        Field(
            "commit_message",
            QT_TRANSLATE_NOOP("AddOperation", "Commit message"),
            placeholder="Upload adapter",
            target=_HUB,
        ),
        Field("private", QT_TRANSLATE_NOOP("AddOperation", "Private"), "flag", target=_HUB),
        Field(
            "create_repo",
            QT_TRANSLATE_NOOP("AddOperation", "Create if missing"),
            "flag",
            target=_HUB,
        ),
        Field(
            "path_in_repo", QT_TRANSLATE_NOOP("AddOperation", "Folder in repository"), target=_HUB
        ),
        Field(
            "allow_patterns",
            QT_TRANSLATE_NOOP("AddOperation", "Only files"),
            "list",
            placeholder="*.json, *.safetensors",
            target=_HUB,
        ),
        Field(
            "ignore_patterns",
            QT_TRANSLATE_NOOP("AddOperation", "Leave out"),
            "list",
            placeholder="*.md",
            target=_HUB,
        ),
    ),
    OperationType.EXPERIMENT_SYNC: (
        Field("run_id", QT_TRANSLATE_NOOP("AddOperation", "Run id"), required=True),
        Field(
            "tags",
            QT_TRANSLATE_NOOP("AddOperation", "Tags"),
            "json",
            placeholder='{"stage": "done"}',
        ),
        Field("note", QT_TRANSLATE_NOOP("AddOperation", "Note")),
    ),
}


class FieldError(ValueError):
    """A field of the form is wrong: the sentence says how, ``key`` names the field."""

    def __init__(self, key: str, sentence: str) -> None:
        super().__init__(sentence)
        self.key = key


class _Form(QWidget):
    def __init__(self, fields: tuple[Field, ...], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.fields = fields
        self.inputs: dict[str, QWidget] = {}
        self.rows = layout = QFormLayout(self)
        for field in fields:
            widget: QWidget
            row: QWidget | None = None  # what the row shows, when more than the input
            if field.kind in ("choice", "flag"):
                combo = QComboBox(self)
                if field.kind == "choice":
                    for choice in field.choices:
                        combo.addItem(choice, choice)
                else:
                    for choice in _FLAG_CHOICES:
                        combo.addItem(translate("AddOperation", choice), choice)
                widget = combo
            elif field.kind == "json":
                row = BoundedTextField(self)
                edit = row.editor
                edit.setPlaceholderText(translate("AddOperation", field.placeholder))
                edit.setTabChangesFocus(True)
                edit.setFixedHeight(64)
                keep_left_to_right(edit)  # JSON
                widget = edit
            elif field.kind == "int":
                spin = QSpinBox(self)
                spin.setRange(-1, 10**9)
                spin.setSpecialValueText(translate("AddOperation", "none"))
                spin.setValue(-1)
                widget = spin
            else:
                line = QLineEdit(self)
                line.setPlaceholderText(translate("AddOperation", field.placeholder))
                widget = line
            widget.setObjectName(f"field_{field.key}")
            name = translate("AddOperation", field.label)
            label = (
                translate("AddOperation", "{field} *:")
                if field.required
                else translate("AddOperation", "{field}:")
            ).format(field=name)
            widget.setAccessibleName(name)
            layout.addRow(label, row or widget)
            self.inputs[field.key] = widget
        chooser = self.inputs.get("target")
        if isinstance(chooser, QComboBox):
            chooser.currentIndexChanged.connect(lambda _index: self._show_target(self._target()))
            self._show_target(self._target())

    def _target(self) -> str:
        chooser = self.inputs.get("target")
        return str(chooser.currentData()) if isinstance(chooser, QComboBox) else ""

    def _show_target(self, target: str) -> None:
        """Only the fields of the chosen registry are shown (and sent)."""
        for field in self.fields:
            if field.target:
                self.rows.setRowVisible(self.inputs[field.key], field.target == target)

    def set_value(self, key: str, value: str) -> None:
        widget = self.inputs[key]
        if isinstance(widget, QLineEdit):
            widget.setText(value)
        elif isinstance(widget, QPlainTextEdit):
            widget.setPlainText(value)
        elif isinstance(widget, QComboBox):
            index = widget.findData(value)
            if index >= 0:
                widget.setCurrentIndex(index)
            else:
                widget.setCurrentText(value)
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))

    def payload(self) -> dict[str, Any]:
        """The payload, or ``FieldError`` naming the first field that is wrong."""
        out: dict[str, Any] = {}
        target = self._target()
        for field in self.fields:
            if field.target and field.target != target:
                continue
            widget = self.inputs[field.key]
            value: Any
            if field.kind == "flag" and isinstance(widget, QComboBox):
                value = {"yes": True, "no": False}.get(str(widget.currentData()))
            elif field.key == "target" and isinstance(widget, QComboBox):
                value = None if widget.currentData() == _MLFLOW else widget.currentData()
            elif isinstance(widget, QComboBox):
                value = widget.currentData()
            elif isinstance(widget, QSpinBox):
                value = None if widget.value() < 0 else widget.value()
            elif isinstance(widget, QPlainTextEdit):
                text = widget.toPlainText().strip()
                value = None
                if text:
                    try:
                        value = json.loads(text)
                    except json.JSONDecodeError as exc:
                        raise FieldError(
                            field.key,
                            translate(
                                "AddOperation",
                                "{field} is not valid JSON ({reason} at line {line}).",
                            ).format(
                                field=translate("AddOperation", field.label),
                                reason=exc.msg,
                                line=exc.lineno,
                            ),
                        ) from None
                    if not isinstance(value, dict):
                        raise FieldError(
                            field.key,
                            translate(
                                "AddOperation", "{field} must be a JSON object: {example}."
                            ).format(
                                field=translate("AddOperation", field.label),
                                example='{"key": value}',
                            ),
                        )
            else:
                value = widget.text().strip() if isinstance(widget, QLineEdit) else None
                if value and field.kind == "list":
                    value = [part.strip() for part in value.split(",") if part.strip()]
                value = value or None
            if value is not None:
                out[field.key] = value
        # Everything else (what is required, a URL's scheme, a file that exists, a method)
        # is the core's submit path's to decide, with the same sentence as every other way in.
        return out


def _error_prefix() -> str:
    return translate("AddOperation", "Error: ")


class AddOperationDialog(QDialog):
    def __init__(self, commands: WindowCommands, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("addOperationDialog")
        self.setWindowTitle(translate("AddOperation", "Add Operation"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(520)
        self._commands = commands
        layout = QVBoxLayout(self)
        top = QFormLayout()
        self.type = QComboBox(self)
        self.type.setObjectName("addOperationType")
        self.type.setAccessibleName(translate("AddOperation", "Operation type"))
        self.priority = QSpinBox(self)
        self.priority.setObjectName("addOperationPriority")
        self.priority.setAccessibleName(translate("AddOperation", "Priority"))
        self.priority.setRange(PRIORITY_MIN, PRIORITY_MAX)  # the core's, as on every way in
        self.priority.setToolTip(
            translate("AddOperation", "Higher priority operations are sent first")
        )
        top.addRow(translate("AddOperation", "&Type:"), self.type)
        top.addRow(translate("AddOperation", "&Priority:"), self.priority)
        layout.addLayout(top)
        self.stack = QStackedWidget(self)
        self.forms: dict[OperationType, _Form] = {}
        for kind, fields in FORMS.items():
            self.type.addItem(formatting.type_label(kind), kind.value)
            form = _Form(fields, self.stack)
            self.forms[kind] = form
            self.stack.addWidget(form)
        self.type.currentIndexChanged.connect(self.stack.setCurrentIndex)
        layout.addWidget(self.stack)
        self.error = QLabel(self)
        self.error.setTextFormat(Qt.TextFormat.PlainText)  # may quote what was typed
        self.error.setObjectName("addOperationError")
        self.error.setWordWrap(True)
        formatting.error_label(self.error)
        # Reached by the keyboard and read whole, when there is no one field to go back to.
        self.error.setTextInteractionFlags(
            Qt.TextInteractionFlag.TextSelectableByMouse
            | Qt.TextInteractionFlag.TextSelectableByKeyboard
        )
        self.error.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.error.hide()
        layout.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setText(translate("AddOperation", "Add to Queue"))
        ok.setObjectName("addOperationOk")
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.added_id: int | None = None

    def select_type(self, kind: OperationType) -> _Form:
        self.type.setCurrentIndex(self.type.findData(kind.value))
        return self.forms[kind]

    def current_type(self) -> OperationType:
        return OperationType(self.type.currentData())

    def submit(self) -> None:
        kind = self.current_type()
        form = self.forms[kind]
        try:
            payload = form.payload()
        except FieldError as exc:
            self.show_error(str(exc), form.inputs[exc.key])
            return
        self.buttons.setEnabled(False)
        self.error.hide()
        self.task = self._commands.tasks.start(
            self._add(kind, payload, self.priority.value()),
            QT_TRANSLATE_NOOP("Tasks", "add the operation"),
        )

    async def _add(self, kind: OperationType, payload: dict[str, Any], priority: int) -> None:
        try:
            op_id = await self._commands.add_operation(kind.value, payload, priority, {})
        except Exception as exc:
            if shiboken6.isValid(self):
                self.buttons.setEnabled(True)
                self.show_error(
                    describe_error(exc, QT_TRANSLATE_NOOP("Tasks", "add the operation")),
                    self._field_of(exc),
                )
            return
        if shiboken6.isValid(self):
            self.added_id = op_id
            self.accept()

    def _field_of(self, exc: Exception) -> QWidget | None:
        """The form's input for the payload key a refusal names (``payload.url``), if any."""
        named = getattr(exc, "field", None)
        if not isinstance(named, str) or not named.startswith("payload."):
            return None
        key = named.removeprefix("payload.").split(".")[0]
        return self.forms[self.current_type()].inputs.get(key)

    def show_error(self, text: str, field: QWidget | None = None) -> None:
        """Say what is wrong under the form, move the focus to it (the field at fault, or
        the sentence itself) and have screen readers announce it."""
        for widget in self.findChildren(QWidget):
            if widget.accessibleDescription().startswith(_error_prefix()):
                widget.setAccessibleDescription("")
        self.error.setText(text)
        self.error.setAccessibleName(text)
        self.error.show()
        target = field if field is not None else self.error
        if field is not None:
            field.setAccessibleDescription(_error_prefix() + text)
        target.setFocus(Qt.FocusReason.OtherFocusReason)
        QAccessible.updateAccessibility(QAccessibleAnnouncementEvent(self.error, text))
