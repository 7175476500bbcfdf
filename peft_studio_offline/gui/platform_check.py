"""Can Qt open a window here? Asked before ``QApplication`` exists.

When Qt cannot load its platform plugin or reach the display, it aborts the process
(SIGABRT) after a message that is easy to miss and often wrong: "xcb-cursor0 is needed"
shows whichever library is really missing. This module finds the real reason, in one
sentence, so that the app can say it and exit 1 instead.

Only the X11 platform (``xcb``, Qt's default on Linux) is examined: its plugin is loaded
with ``dlopen`` (which names the first missing library) and the display is connected to
with libxcb, as Qt would. Other platforms are left to Qt.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path

_MISSING = ": cannot open shared object file"


def chosen_platform(environ: Mapping[str, str] | None = None) -> str:
    """The platform plugin Qt will try first (``QT_QPA_PLATFORM``, else Qt's default)."""
    env = os.environ if environ is None else environ
    requested = env.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return requested.split(";")[0].split(":")[0].strip()
    if not sys.platform.startswith("linux"):
        return "native"
    if env.get("WAYLAND_DISPLAY") and env.get("XDG_SESSION_TYPE") == "wayland":
        return "wayland"
    return "xcb"


def platform_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """Why the window cannot open here, as a sentence without its final full stop; None
    when nothing is known to stand in the way."""
    env = os.environ if environ is None else environ
    if chosen_platform(env) != "xcb":
        return None
    display = env.get("DISPLAY", "")
    if not display:
        return "no display was found (DISPLAY is not set)"
    problem = plugin_problem(_plugin_folders(env))
    if problem is not None:
        return problem
    if not _display_answers(display):
        return (
            f"the display {display} cannot be reached (no X server answers there, or it"
            " refused this user)"
        )
    return None


def package_hint(library: str) -> str:
    """``libxcb-cursor.so.0`` -> ``libxcb-cursor0``: the Debian/Ubuntu package's usual name."""
    name, _, version = library.partition(".so.")
    if not version:
        return name.lower()
    joiner = "-" if name[-1:].isdigit() else ""
    return f"{name.lower()}{joiner}{version.split('.')[0]}"


def _plugin_folders(env: Mapping[str, str]) -> list[Path]:
    folders = [Path(p) for p in env.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    with contextlib.suppress(Exception):  # no QtCore: Qt itself will say so
        from PySide6.QtCore import QLibraryInfo

        folders.append(Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms")
    return folders


def plugin_problem(folders: list[Path]) -> str | None:
    """Why no ``libqxcb.so`` in ``folders`` loads (Qt tries them in this order and takes
    the first that loads); None when one loads, or when there is none to try."""
    first: str | None = None
    for folder in folders:
        candidate = folder / "libqxcb.so"
        if candidate.is_file():
            problem = _load_error(candidate)
            if problem is None:
                return None
            first = first or problem
    return first


def _load_error(plugin: Path) -> str | None:
    """What keeps ``plugin`` from loading (its first missing library), or None."""
    try:
        ctypes.CDLL(str(plugin))
    except OSError as exc:
        text = str(exc)
        if _MISSING in text:
            library = text.split(_MISSING)[0].rsplit(":", 1)[-1].strip()
            return (
                f"Qt's X11 platform plugin cannot load because the library {library} is"
                f" missing (on Debian and Ubuntu: apt install {package_hint(library)})"
            )
        return f"Qt's X11 platform plugin cannot load ({text})"
    return None


def _display_answers(display: str) -> bool:
    """Connect to ``display`` with libxcb as Qt would; True when it accepts."""
    name = ctypes.util.find_library("xcb")
    if name is None:
        return True  # the plugin loaded, so libxcb is there; let Qt find its own way
    try:
        xcb = ctypes.CDLL(name)
    except OSError:
        return True
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    if connection is not None and xcb.xcb_connection_has_error(connection) == 0:
        # Kept open: an X server that resets when its last client leaves (Xvfb does, by
        # default) would still be resetting when Qt connects a moment later, and refuse it.
        _kept.append(connection)
        return True
    if connection is not None:
        xcb.xcb_disconnect(connection)
    return False


_kept: list[int] = []  # the display connection of a successful check
