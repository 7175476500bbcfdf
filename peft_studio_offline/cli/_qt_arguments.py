"""Qt's own command-line options, passed on to the window instead of refused.

``QApplication`` reads these from the arguments it is given (``-reverse`` mirrors the
layout, ``-platform offscreen`` needs no display, ``-style fusion``...); the command line
must not call them unknown. Qt accepts both ``-style fusion`` and ``-style=fusion``.
"""

from __future__ import annotations

from collections.abc import Sequence

# Option → whether it takes a value (QGuiApplication's and QApplication's documented options).
QT_OPTIONS: dict[str, bool] = {
    "-platform": True,
    "-platformpluginpath": True,
    "-platformtheme": True,
    "-plugin": True,
    "-qwindowgeometry": True,
    "-qwindowicon": True,
    "-qwindowtitle": True,
    "-reverse": False,
    "-session": True,
    "-style": True,
    "-stylesheet": True,
    "-widgetcount": False,
    "-qmljsdebugger": True,
    # X11
    "-display": True,
    "-geometry": True,
    "-name": True,
    "-title": True,
    "-visual": True,
    "-nograb": False,
    "-dograb": False,
    "-sync": False,
}


def split_qt_arguments(arguments: Sequence[str]) -> tuple[list[str], list[str]]:
    """(our arguments, Qt's options with their values), each in the order given."""
    ours: list[str] = []
    qt: list[str] = []
    items = iter(arguments)
    for argument in items:
        name, has_value, _value = argument.partition("=")
        if name not in QT_OPTIONS:
            ours.append(argument)
            continue
        qt.append(argument)
        if QT_OPTIONS[name] and not has_value:
            value = next(items, None)
            if value is not None:
                qt.append(value)
    return ours, qt
