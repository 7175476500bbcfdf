"""Help → About: what the product is and the versions it runs on."""

from __future__ import annotations

import platform
import sqlite3
from importlib import metadata
from pathlib import Path

import PySide6
from PySide6.QtCore import qVersion
from PySide6.QtWidgets import QMessageBox, QWidget

from peft_studio_offline.gui.icons import app_icon


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def versions() -> dict[str, str]:
    return {
        "PEFT Studio Offline": _version("peft-studio-offline"),
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
    box.setWindowTitle("About PEFT Studio Offline")
    box.setIconPixmap(app_icon().pixmap(64, 64))
    box.setText(
        "<h3>PEFT Studio Offline</h3>"
        "<p>Keeps your fine-tuning work moving without a network: uploads, metrics and model"
        " pushes wait in a local queue and are sent when the connection returns.</p>"
    )
    box.setInformativeText(f"<table>{rows}</table><p>Queue: {database}</p>")
    box.setStandardButtons(QMessageBox.StandardButton.Close)
    return box
