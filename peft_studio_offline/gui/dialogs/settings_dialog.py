"""File → Settings: connectivity, sync targets and credentials, written to settings.toml.

Values are checked with the core's own validation (``validate_value``) and saved with
``save_settings`` (atomic, user-only). A key set by an environment variable is shown but
locked, with the variable named. Secrets go to the credential store (the system keyring, or
the user-only file when there is none), never to the settings file or the queue.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from peft_studio_offline.core.enums import ConflictResolution
from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.settings import SECTIONS, Settings, save_settings, validate_value
from peft_studio_offline.gui import formatting
from peft_studio_offline.gui.bounded_text import BoundedTextField
from peft_studio_offline.gui.commands import strategy_label
from peft_studio_offline.gui.direction import keep_left_to_right
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP, translate
from peft_studio_offline.gui.tasks import TaskKeeper, describe_error

MIB = 1024 * 1024


class SettingsDialog(QDialog):
    saved = Signal()

    def __init__(self, paths: AppPaths, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle(translate("Settings", "Settings"))
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(560)
        self.settings = Settings.load(paths)
        self.tasks = TaskKeeper()
        self.fields: dict[str, QWidget] = {}
        self.locked_notes: dict[str, QLabel] = {}
        outer = QVBoxLayout(self)
        # The fields scroll when the screen is too short for them (a laptop at 200 %):
        # never squashed below the height their text needs.
        content = QWidget(self)
        content.setObjectName("settingsContent")
        layout = QVBoxLayout(content)
        layout.setContentsMargins(0, 0, 0, 0)
        self.fields_area = QScrollArea(self)
        self.fields_area.setObjectName("settingsScroll")
        self.fields_area.setWidgetResizable(True)
        self.fields_area.setFrameShape(QFrame.Shape.NoFrame)
        self.fields_area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.fields_area.setWidget(content)
        outer.addWidget(self.fields_area, 1)

        if self.settings.problems:
            problems = QLabel("\n".join(self.settings.problems), self)
            problems.setTextFormat(Qt.TextFormat.PlainText)  # quotes the file's values
            problems.setObjectName("settingsProblems")
            problems.setWordWrap(True)
            formatting.error_label(problems)
            layout.addWidget(problems)

        s = self.settings
        network = self._group(layout, translate("Settings", "Connectivity"))
        endpoints = BoundedTextField(
            self, hint=translate("Settings", "list that many in settings.toml instead")
        )
        endpoints.editor.setPlaceholderText(
            translate(
                "Settings", "One URL per line. Empty: the health URLs of the sync targets below."
            )
        )
        endpoints.editor.setFixedHeight(72)
        endpoints.editor.setTabChangesFocus(True)
        keep_left_to_right(endpoints.editor)  # URLs
        endpoints.editor.setPlainText(
            "\n".join(
                e if isinstance(e, str) else str(e.get("url", "")) for e in s.network.endpoints
            )
        )
        self._add(
            network, "network.endpoints", translate("Settings", "&Endpoints to check"), endpoints
        )
        self._add(
            network,
            "network.check_interval",
            translate("Settings", "Check e&very"),
            self._seconds(s.network.check_interval, 1, 3600),
        )
        self._add(
            network,
            "network.timeout",
            translate("Settings", "&Timeout"),
            self._seconds(s.network.timeout, 0.5, 120),
        )

        sync = self._group(layout, translate("Settings", "Sync"))
        auto = QCheckBox(translate("Settings", "Sync automatically when online"), self)
        auto.setChecked(s.sync.auto_sync)
        self._add(sync, "sync.auto_sync", translate("Settings", "&Auto sync"), auto)
        strategy = QComboBox(self)
        for value in ConflictResolution:
            strategy.addItem(strategy_label(value), value.value)
        strategy.setCurrentIndex(strategy.findData(s.sync.conflict_strategy.value))
        self._add(
            sync, "sync.conflict_strategy", translate("Settings", "Default &strategy"), strategy
        )
        self._add(
            sync,
            "sync.api_base_url",
            translate("Settings", "API &base URL"),
            self._line(s.sync.api_base_url),
        )
        self._add(
            sync,
            "sync.mlflow_tracking_uri",
            translate("Settings", "&MLflow tracking URI"),
            self._line(s.sync.mlflow_tracking_uri),
        )
        self._add(
            sync,
            "sync.huggingface_endpoint",
            translate("Settings", "&Hugging Face Hub"),
            self._line(s.sync.huggingface_endpoint),
        )
        roots = BoundedTextField(
            self, hint=translate("Settings", "list that many in settings.toml instead")
        )
        roots.editor.setPlaceholderText(
            translate(
                "Settings",
                "One folder per line. Files leave only from these. Empty: from anywhere for"
                " your own programs, and from nowhere through the local API.",
            )
        )
        roots.editor.setFixedHeight(72)
        roots.editor.setTabChangesFocus(True)
        keep_left_to_right(roots.editor)  # paths
        roots.editor.setPlainText("\n".join(s.sync.upload_roots))
        self._add(sync, "sync.upload_roots", translate("Settings", "Upload &folders"), roots)

        storage = self._group(layout, translate("Settings", "Storage"))
        budget = QDoubleSpinBox(self)  # MiB with two decimals: a budget set in bytes shows
        budget.setDecimals(2)
        budget.setRange(0, 2**31 - 1)
        budget.setSuffix(translate("Settings", " MiB"))
        budget.setSpecialValueText(translate("Settings", "Automatic"))  # 0: core.storage_budget
        budget.setToolTip(
            translate(
                "Settings",
                "What the queue, staged files and logs may take together. Automatic: half of"
                " the free space when the app starts, at most 10 GiB.",
            )
        )
        budget.setValue(s.storage.max_bytes / MIB)
        self._add(storage, "storage.max_bytes", translate("Settings", "Storage bu&dget"), budget)
        self._add(
            storage, "storage.retention_days", translate("Settings", "Keep completed fo&r"),
            self._days(s.storage.retention_days),
        )  # fmt: skip
        self._add(
            storage, "storage.failed_retention_days", translate("Settings", "Kee&p failed for"),
            self._days(s.storage.failed_retention_days),
        )  # fmt: skip

        creds_box = QGroupBox(translate("Settings", "Credentials"))
        creds_layout = QVBoxLayout(creds_box)
        layout.addWidget(creds_box)
        note = QLabel(
            translate(
                "Settings",
                "Tokens are kept in the system keyring (or a file only you can read when there"
                " is no keyring), never in the settings file or the queue. Leave a token empty"
                " to keep the one stored.",
            ),
            self,
        )
        note.setWordWrap(True)
        creds_layout.addWidget(note)
        creds = QFormLayout()
        creds_layout.addLayout(creds)
        self._add(
            creds,
            "credentials.api_token",
            translate("Settings", "API token &name"),
            self._line(s.credentials.api_token),
        )
        self.api_secret = self._secret("apiTokenSecret", translate("Settings", "API token"))
        creds.addRow(translate("Settings", "API to&ken:"), self.api_secret)
        self._add(
            creds,
            "credentials.mlflow_token",
            translate("Settings", "MLf&low token name"),
            self._line(s.credentials.mlflow_token),
        )
        self.mlflow_secret = self._secret(
            "mlflowTokenSecret", translate("Settings", "MLflow token")
        )
        creds.addRow(translate("Settings", "MLflow t&oken:"), self.mlflow_secret)
        self._add(
            creds,
            "credentials.huggingface_token",
            translate("Settings", "H&ub token name"),
            self._line(s.credentials.huggingface_token),
        )
        self.hub_secret = self._secret(
            "huggingfaceTokenSecret", translate("Settings", "Hugging Face token")
        )
        creds.addRow(translate("Settings", "Hu&gging Face token:"), self.hub_secret)

        self.error = QLabel(self)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        self.error.setObjectName("settingsError")
        self.error.setWordWrap(True)
        formatting.error_label(self.error)
        self.error.hide()
        outer.addWidget(self.error)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        self.buttons.accepted.connect(self.submit)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)
        path = QLabel(
            translate("Settings", "Settings file: {path}").format(path=s.paths.settings_file), self
        )
        path.setObjectName("settingsFile")
        path.setTextFormat(Qt.TextFormat.PlainText)
        path.setEnabled(False)
        path.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        outer.addWidget(path)
        self._fit_to_screen(content, outer)

    def _fit_to_screen(self, content: QWidget, outer: QVBoxLayout) -> None:
        """As tall as the fields need at the dialog's width (their wrapped notes included),
        up to most of the screen; the rest scrolls."""
        width = max(self.minimumWidth(), self.sizeHint().width())
        margins = outer.contentsMargins()
        inner = width - margins.left() - margins.right()
        scrollbar = self.fields_area.verticalScrollBar().sizeHint().width()
        wanted = content.heightForWidth(inner - scrollbar)
        if wanted < 0:
            wanted = content.sizeHint().height()
        rest = self.sizeHint().height() - self.fields_area.sizeHint().height()
        height = wanted + rest + 4
        screen = self.screen() or QGuiApplication.primaryScreen()
        if screen is not None:
            height = min(height, int(screen.availableGeometry().height() * 0.9))
        self.resize(width, height)

    # ------------------------------------------------------------------- building

    def _group(self, layout: QVBoxLayout, title: str) -> QFormLayout:
        box = QGroupBox(title)
        form = QFormLayout(box)
        layout.addWidget(box)
        return form

    def _line(self, text: str) -> QLineEdit:
        line = QLineEdit(self)
        keep_left_to_right(line)  # URLs and names of keys
        line.setText(text)
        return line

    def _seconds(self, value: float, low: float, high: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setRange(low, high)
        spin.setDecimals(1)
        spin.setSuffix(translate("Settings", " s"))
        spin.setValue(value)
        return spin

    def _days(self, value: float) -> QDoubleSpinBox:
        spin = QDoubleSpinBox(self)
        spin.setRange(0.1, 36500)
        spin.setDecimals(1)
        spin.setSuffix(translate("Settings", " days"))
        spin.setValue(value)
        return spin

    def _secret(self, name: str, what: str) -> QLineEdit:
        line = QLineEdit(self)
        line.setObjectName(name)
        line.setAccessibleName(what)
        line.setEchoMode(QLineEdit.EchoMode.Password)
        line.setPlaceholderText(translate("Settings", "unchanged"))
        return line

    def _add(self, form: QFormLayout, key: str, label: str, row: QWidget) -> None:
        widget = row.editor if isinstance(row, BoundedTextField) else row
        widget.setObjectName("setting_" + key.replace(".", "_"))
        widget.setAccessibleName(label.replace("&", ""))
        variable = self.settings.overridden_by(key)
        if variable:
            widget.setEnabled(False)
            why = _locked_note(variable)
            widget.setToolTip(why)
            widget.setAccessibleDescription(why)
            # The placeholder told what an empty field does here; locked, it says what the
            # variable does instead (an empty check list probes nothing at all).
            if isinstance(widget, QLineEdit | QPlainTextEdit):
                widget.setPlaceholderText(_locked_placeholder(key, variable))
            # Said in words under the field: a disabled field takes no focus and shows no
            # tooltip to the keyboard.
            note = QLabel(why)
            note.setObjectName("settingLocked_" + key.replace(".", "_"))
            note.setTextFormat(Qt.TextFormat.PlainText)
            note.setWordWrap(True)
            self.locked_notes[key] = note
            holder = QWidget()
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            column.setSpacing(2)
            column.addWidget(row)
            column.addWidget(note)
            holder.setFocusProxy(widget)
            row = holder
        form.addRow(translate("Settings", "{label}:").format(label=label), row)
        self.fields[key] = widget

    # ------------------------------------------------------------------- saving

    def value(self, key: str) -> Any:
        widget = self.fields[key]
        if isinstance(widget, QCheckBox):
            return widget.isChecked()
        if isinstance(widget, QComboBox):
            return widget.currentData()
        if isinstance(widget, QDoubleSpinBox) and key == "storage.max_bytes":  # shown in MiB
            kept = self.settings.storage.max_bytes
            # A budget the file gives in bytes stays exact while its MiB are left alone.
            shown = round(widget.value(), 2)
            return kept if shown == round(kept / MIB, 2) else round(shown * MIB)
        if isinstance(widget, QDoubleSpinBox):
            return widget.value()
        if isinstance(widget, QPlainTextEdit) and key == "sync.upload_roots":
            return [line.strip() for line in widget.toPlainText().splitlines() if line.strip()]
        if isinstance(widget, QPlainTextEdit):
            urls = [line.strip() for line in widget.toPlainText().splitlines() if line.strip()]
            # An endpoint written in the file with its expected status/body keeps them.
            known = {
                str(e.get("url")): e
                for e in self.settings.network.endpoints
                if not isinstance(e, str)
            }
            return [dict(known[url]) if url in known else url for url in urls]
        if isinstance(widget, QLineEdit):
            return widget.text().strip()
        raise TypeError(key)

    def edited(self) -> Settings:
        """The settings with the dialog's values; ``SettingsError`` names the first bad one."""
        sections: dict[str, Any] = {}
        for key in self.fields:
            if not self.fields[key].isEnabled():
                continue  # set by the environment: the file keeps its own value
            section, name = key.split(".")
            value = validate_value(key, self.value(key))
            sections.setdefault(section, {})[name] = value
        replaced: dict[str, Any] = {}
        for section, values in sections.items():
            assert section in SECTIONS
            replaced[section] = dataclasses.replace(getattr(self.settings, section), **values)
        return dataclasses.replace(self.settings, **replaced)

    def submit(self) -> None:
        try:
            settings = self.edited()
        except (PeftStudioOfflineError, ValueError) as exc:
            self.show_error(str(exc))
            return
        pairs = [
            (
                translate(
                    "Settings", "Give the API token a name to keep it under before entering it."
                ),
                settings.credentials.api_token,
                self.api_secret.text(),
            ),
            (
                translate(
                    "Settings", "Give the MLflow token a name to keep it under before entering it."
                ),
                settings.credentials.mlflow_token,
                self.mlflow_secret.text(),
            ),
            (
                translate(
                    "Settings",
                    "Give the Hugging Face token a name to keep it under before entering it.",
                ),
                settings.credentials.huggingface_token,
                self.hub_secret.text(),
            ),
        ]
        for unnamed, name, secret in pairs:
            if secret and not name:
                self.show_error(unnamed)
                return
        secrets = {name: secret for _unnamed, name, secret in pairs if name and secret}
        self.buttons.setEnabled(False)
        self.error.hide()
        self.task = self.tasks.start(
            self._save(settings, secrets), QT_TRANSLATE_NOOP("Tasks", "save the settings")
        )

    async def _save(self, settings: Settings, secrets: dict[str, str]) -> None:
        try:
            # Writing the file and talking to the keyring may block: not on the GUI thread.
            await asyncio.to_thread(save_settings, settings)
            if secrets:
                await asyncio.to_thread(_store_secrets, settings, secrets)
        except Exception as exc:
            if shiboken6.isValid(self):
                self.buttons.setEnabled(True)
                self.show_error(
                    describe_error(exc, QT_TRANSLATE_NOOP("Tasks", "save the settings"))
                )
            return
        if shiboken6.isValid(self):
            self.settings = settings
            self.saved.emit()
            self.accept()

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.show()


def _locked_note(variable: str) -> str:
    return translate(
        "Settings",
        "Set by the environment variable {variable} in this session: change or unset it there"
        " to edit this here.",
    ).format(variable=variable)


def _locked_placeholder(key: str, variable: str) -> str:
    if key == "network.endpoints":
        return translate(
            "Settings", "None: {variable} is set and empty in this session, so nothing is checked."
        ).format(variable=variable)
    return translate("Settings", "Empty: {variable} is set and empty in this session.").format(
        variable=variable
    )


def _store_secrets(settings: Settings, secrets: dict[str, str]) -> None:
    from peft_studio_offline.core.credentials import CredentialStore

    store = CredentialStore.from_settings(settings)
    for name, secret in secrets.items():
        store.set(name, secret)
