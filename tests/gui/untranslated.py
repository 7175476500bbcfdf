"""Finds text in the window's source that reaches the screen without Qt's translation.

An AST walk: a string literal (or an f-string with words of its own) passed to a Qt text
setter or to a widget's constructor is a finding unless it is wrapped in ``translate(...)``,
``tr(...)`` or ``QT_TRANSLATE_NOOP(...)``. Markup, numbers, symbols and keys ("#", "—",
"<b>", "Ctrl+F") are not words and pass.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

# Methods whose string arguments are shown to the user (or read by a screen reader).
TEXT_METHODS = frozenset(
    {
        "setText",
        "setWindowTitle",
        "setToolTip",
        "setStatusTip",
        "setWhatsThis",
        "setPlaceholderText",
        "setAccessibleName",
        "setAccessibleDescription",
        "setLabelText",
        "setTitle",
        "setIconText",
        "setInformativeText",
        "setDetailedText",
        "setHeaderLabels",
        "setHeaderLabel",
        "setHeaderData",
        "setTabText",
        "setTabToolTip",
        "setItemText",
        "setSpecialValueText",
        "setSuffix",
        "setPrefix",
        "setFormat",
        "setNameFilter",
        "setNameFilters",
        "setPlainText",
        "setHtml",
        "showMessage",
        "addMenu",
        "addAction",
        "addTab",
        "addItem",
        "addItems",
        "addRow",
        "addButton",
        "insertItem",
        "drawText",
        "notify",
        "question",
        "warning",
        "information",
        "critical",
        "getText",
        "getSaveFileName",
        "getOpenFileName",
        "getExistingDirectory",
    }
)
# Constructors that take a text or a title.
TEXT_CLASSES = frozenset(
    {
        "QAction",
        "QLabel",
        "QPushButton",
        "QToolButton",
        "QCheckBox",
        "QRadioButton",
        "QGroupBox",
        "QToolBar",
        "QMenu",
        "QMessageBox",
        "QFileDialog",
        "QTreeWidgetItem",
        "QListWidgetItem",
        "QTableWidgetItem",
        "QStandardItem",
        "QDockWidget",
    }
)
_LOGGERS = frozenset({"log", "logger", "logging", "warnings"})
TRANSLATORS = frozenset({"translate", "tr", "QT_TRANSLATE_NOOP", "QT_TR_NOOP"})
_MARKUP = re.compile(r"<[^>]*>|&\w+;")
_KEYS = re.compile(r"\b(?:Ctrl|Shift|Alt|Meta|Tab|Enter|F\d+)\b")


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    call: str
    text: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.call}({self.text!r}) is not translated"


def has_words(text: str) -> bool:
    """Two letters in a row once markup and key names are taken out."""
    return re.search(r"[^\W\d_]{2}", _KEYS.sub("", _MARKUP.sub("", text))) is not None


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def _bare_texts(node: ast.expr) -> list[str]:
    """Words in ``node`` that no translation call wraps."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value] if has_words(node.value) else []
    if isinstance(node, ast.JoinedStr):
        parts = [v.value for v in node.values if isinstance(v, ast.Constant)]
        own = "".join(str(p) for p in parts)
        found = [own] if has_words(own) else []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                found += _bare_texts(value.value)
        return found
    if isinstance(node, ast.Call):
        if _name(node.func) in TRANSLATORS:
            return []
        # "...".format(...) / "...".join(...): the literal the method is called on counts.
        if isinstance(node.func, ast.Attribute):
            return _bare_texts(node.func.value)
        return []
    if isinstance(node, ast.BinOp):
        return _bare_texts(node.left) + _bare_texts(node.right)
    if isinstance(node, ast.IfExp):
        return _bare_texts(node.body) + _bare_texts(node.orelse)
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return [text for element in node.elts for text in _bare_texts(element)]
    if isinstance(node, ast.Starred):
        return _bare_texts(node.value)
    return []


def findings_in_source(source: str, path: str = "<source>") -> list[Finding]:
    found: list[Finding] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        if name not in TEXT_METHODS and name not in TEXT_CLASSES:
            continue
        receiver = node.func.value if isinstance(node.func, ast.Attribute) else None
        if isinstance(receiver, ast.Name) and receiver.id in _LOGGERS:
            continue  # the log is for developers, in English
        arguments = [*node.args, *(k.value for k in node.keywords if k.arg != "objectName")]
        for argument in arguments:
            for text in _bare_texts(argument):
                found.append(Finding(path, node.lineno, name, text))
    return found


def findings(folder: Path) -> list[Finding]:
    out: list[Finding] = []
    for path in sorted(folder.rglob("*.py")):
        out += findings_in_source(path.read_text(encoding="utf-8"), str(path))
    return out
