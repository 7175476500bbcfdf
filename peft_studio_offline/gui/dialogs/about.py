"""Help → About: what the product is and the versions it runs on."""

from __future__ import annotations

import html
import platform
import sqlite3
from importlib import metadata
from pathlib import Path

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from peft_studio_offline.gui.i18n import translate
from peft_studio_offline.gui.icons import app_icon

PRODUCT = "PEFT Studio Offline"  # a name: the same in every language


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return translate("About", "unknown")


def versions() -> dict[str, str]:
    return {
        PRODUCT: _version("peft-studio-offline"),
        "Python": platform.python_version(),
        "Qt": qVersion(),
        "PySide6": PySide6.__version__,
        "qasync": _version("qasync"),
        "SQLite": sqlite3.sqlite_version,
        "httpx": _version("httpx"),
    }


def about_box(parent: QWidget, database: Path) -> QMessageBox:
    rows = "".join(
        f"<tr><td>{name}</td><td>&nbsp;{value}</td></tr>" for name, value in versions().items()
    )
    box = QMessageBox(parent)
    box.setObjectName("aboutDialog")
    box.setWindowTitle(translate("About", "About PEFT Studio Offline"))
    box.setIconPixmap(app_icon().pixmap(64, 64))
    what = translate(
        "About",
        "Keeps your fine-tuning work moving without a network: uploads, metrics and model"
        " pushes wait in a local queue and are sent when the connection returns.",
    )
    box.setText(f"<h3>{PRODUCT}</h3><p>{html.escape(what)}</p>")
    queue = translate("About", "Queue: {database}").format(database=database)
    box.setInformativeText(f"<table>{rows}</table><p>{html.escape(queue)}</p>")
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    return box
