"""Alt+letter reaches one thing per scope: the window (menu titles and its own labels and
buttons), each menu, each dialog; in English and in the German translation alike."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QLocale
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QGroupBox,
    QLabel,
    QMenu,
    QTabWidget,
    QToolButton,
    QWidget,
)

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.add_operation import AddOperationDialog
from peft_studio_offline.gui.dialogs.conflicts import ConflictDialog
from tests.gui.conftest import ENGLISH, Core, in_language, until
from tests.gui.test_dialogs import _conflicts

_MNEMONIC = re.compile(r"&(.)")
GERMAN = QLocale(QLocale.Language.German, QLocale.Country.Germany)


@pytest.fixture(params=[ENGLISH, GERMAN], ids=["en", "de"])
def language(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[QLocale]:
    """The window is built in this language (requested before ``window``)."""
    with in_language(request.param):
        yield request.param


def mnemonic(text: str) -> str | None:
    found = _MNEMONIC.search(text.replace("&&", ""))
    return found.group(1).casefold() if found else None


def _keys_of_widgets(scope: QWidget) -> list[tuple[str, str]]:
    """(letter, text) of what Alt+letter can reach inside ``scope``'s own window."""
    keys: list[tuple[str, str]] = []

    def add(text: str) -> None:
        letter = mnemonic(text)
        if letter:
            keys.append((letter, text))

    for widget in scope.findChildren(QWidget):
        if widget.window() is not scope or not widget.isVisibleTo(scope):
            continue
        if isinstance(widget, QLabel) and widget.buddy() is not None:
            if widget.buddy().isVisibleTo(scope):
                add(widget.text())
        elif isinstance(widget, QToolButton) and widget.defaultAction() is not None:
            continue  # shows the action's icon text, which has no mnemonic
        elif isinstance(widget, QAbstractButton):
            add(QAbstractButton.text(widget))
        elif isinstance(widget, QGroupBox):
            add(widget.title())
        elif isinstance(widget, QTabWidget):
            for i in range(widget.count()):
                add(widget.tabText(i))
    return keys


def _keys_of_menu(actions: list[QAction]) -> list[tuple[str, str]]:
    keys = []
    for action in actions:
        if action.isSeparator() or not action.isVisible():
            continue
        letter = mnemonic(action.text())
        if letter:
            keys.append((letter, action.text()))
    return keys


def _assert_unique(where: str, keys: list[tuple[str, str]]) -> None:
    counts = Counter(letter for letter, _text in keys)
    clashes = {
        letter: [text for other, text in keys if other == letter]
        for letter, n in counts.items()
        if n > 1
    }
    assert not clashes, f"{where}: Alt+letter clashes {clashes}"


def _menus(window: MainWindow) -> list[QMenu]:
    found: list[QMenu] = []

    def walk(menu: QMenu) -> None:
        found.append(menu)
        for action in menu.actions():
            if action.menu() is not None:
                walk(action.menu())  # type: ignore[arg-type]

    for action in window.menuBar().actions():
        if action.menu() is not None:
            walk(action.menu())  # type: ignore[arg-type]
    return found


async def test_every_menu_has_unique_mnemonics(
    language: QLocale, core: Core, window: MainWindow
) -> None:
    await _conflicts(core, 1)  # "Resolve Conflicts (1)" keeps its letter
    await until(lambda: "(1)" in window.actions_.conflicts.text())
    menus = _menus(window)
    assert len(menus) >= 5
    first = "&Datei" if language == GERMAN else "&File"
    assert window.menuBar().actions()[0].text() == first  # built in the language asked
    for menu in menus:
        assert all(mnemonic(a.text()) for a in menu.actions() if not a.isSeparator()), (
            f"{menu.title()}: an item has no mnemonic"
        )
        _assert_unique(menu.title(), _keys_of_menu(menu.actions()))
    context = window.actions_.context_menu(window)
    _assert_unique("context menu", _keys_of_menu(context.actions()))
    # Menu titles share the window's scope with its labels and buttons.
    window_keys = _keys_of_menu(window.menuBar().actions()) + _keys_of_widgets(window)
    _assert_unique("main window", window_keys)
    assert any(text.replace("&", "") == "Status" for _letter, text in window_keys)


async def test_every_dialog_has_unique_mnemonics(
    language: QLocale, core: Core, window: MainWindow
) -> None:
    await _conflicts(core, 1)
    conflicts = window.open_conflicts()
    assert isinstance(conflicts, ConflictDialog)
    await until(lambda: conflicts.list.count() == 1)
    _assert_unique("Conflicts", _keys_of_widgets(conflicts))
    conflicts.close()

    settings = window.open_settings()
    keys = _keys_of_widgets(settings)
    assert len(keys) >= 10
    _assert_unique("Settings", keys)
    settings.close()

    add = window.open_add_operation()
    assert isinstance(add, AddOperationDialog)
    for kind in OperationType:
        add.select_type(kind)
        _assert_unique(f"Add Operation ({kind})", _keys_of_widgets(add))
    add.close()

    await until(lambda: window.model.rowCount() == 1)
    inspect = window.open_inspect(0)
    assert inspect is not None
    _assert_unique("Inspect", _keys_of_widgets(inspect))
    inspect.close()
    for opener in (window.open_shortcuts, window.open_about):
        dialog = opener()
        _assert_unique(dialog.objectName(), _keys_of_widgets(dialog))
        dialog.close()
