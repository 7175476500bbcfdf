"""When the window cannot open, one sentence on stderr and exit 1, never a silent abort;
on a real display, the window and ``--self-test`` use the real platform."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from peft_studio_offline.gui.platform_check import package_hint, plugin_problem
from tests.support.xvfb import display_env, unused_display, xvfb_display

__all__ = ["xvfb_display"]  # the fixture, used by name

TIMEOUT = 120


def _window(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peft_studio_offline"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        check=False,
    )


def _one_sentence(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("peft-studio-offline: The window cannot open: ")
    assert lines[0].endswith(".")
    return lines[0]


def test_a_display_nobody_serves_is_named(tmp_path: Path) -> None:
    display = unused_display()
    result = _window(display_env(display, PEFT_STUDIO_OFFLINE_HOME=str(tmp_path)))
    line = _one_sentence(result)  # was: SIGABRT (-6) and Qt's messages
    assert f"the display {display} cannot be reached" in line


def test_a_platform_qt_cannot_load_is_said_not_aborted_on(tmp_path: Path) -> None:
    env = display_env(None, PEFT_STUDIO_OFFLINE_HOME=str(tmp_path))
    env["QT_QPA_PLATFORM"] = "no-such-platform"
    line = _one_sentence(_window(env))
    assert "no-such-platform" in line


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs a C compiler")
def test_the_missing_library_is_named_with_its_package(tmp_path: Path) -> None:
    # A plugin that needs a library this machine lacks, as Qt's xcb plugin needs
    # libxcb-cursor.so.0 on a bare system.
    build = tmp_path / "build"
    build.mkdir()
    (build / "absent.c").write_text("int absent_symbol(void) { return 1; }\n")
    (build / "plugin.c").write_text(
        "int absent_symbol(void);\nint plugin_entry(void) { return absent_symbol(); }\n"
    )
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(build / "libpeftabsent.so"),
         "-Wl,-soname,libpeftabsent.so.0", str(build / "absent.c")],
        check=True,
    )  # fmt: skip
    plugins = tmp_path / "platforms"
    plugins.mkdir()
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-o", str(plugins / "libqxcb.so"), str(build / "plugin.c"),
         f"-L{build}", "-lpeftabsent"],
        check=True,
    )  # fmt: skip
    problem = plugin_problem([plugins])
    assert problem == (
        "Qt's X11 platform plugin cannot load because the library libpeftabsent.so.0 is"
        " missing (on Debian and Ubuntu: apt install libpeftabsent0)"
    )
    # Qt takes the first plugin that loads: a good one after it means no problem.
    real = Path(sys.modules["PySide6"].__file__ or "").parent / "Qt" / "plugins" / "platforms"
    if (real / "libqxcb.so").is_file():
        assert plugin_problem([plugins, real]) is None


def test_package_names() -> None:
    assert package_hint("libxcb-cursor.so.0") == "libxcb-cursor0"
    assert package_hint("libxkbcommon-x11.so.0") == "libxkbcommon-x11-0"
    assert package_hint("libX11-xcb.so.1") == "libx11-xcb1"


TITLE_DRIVER = textwrap.dedent(
    """
    import asyncio, subprocess, sys
    from PySide6.QtWidgets import QApplication
    from peft_studio_offline.gui import app as gui_app

    # The app makes its QApplication itself, as when a user starts it; this only watches.
    started = gui_app.run_window

    async def run_window(settings, db_path, instance):
        running = asyncio.ensure_future(started(settings, db_path, instance))
        while True:
            await asyncio.sleep(0.05)
            app = QApplication.instance()
            found = [w for w in app.topLevelWidgets() if w.objectName() == "mainWindow"]
            if found and found[0].isVisible():
                break
        window = found[0]
        await asyncio.sleep(0.2)
        name = subprocess.run(
            ["xprop", "-id", str(int(window.winId())), "_NET_WM_NAME"],
            capture_output=True, text=True,
        ).stdout
        print("platform", app.platformName(), flush=True)
        print(name.strip(), flush=True)
        window.actions_.quit.trigger()
        return await running

    gui_app.run_window = run_window
    sys.exit(gui_app.main([]))
    """
)


@pytest.mark.skipif(shutil.which("xprop") is None, reason="needs xprop")
def test_on_a_real_display_the_title_names_the_app_once(tmp_path: Path, xvfb_display: str) -> None:
    import peft_studio_offline

    script = tmp_path / "driver.py"
    script.write_text(TITLE_DRIVER)
    env = display_env(xvfb_display, PEFT_STUDIO_OFFLINE_HOME=str(tmp_path / "home"))
    env["PYTHONPATH"] = str(Path(peft_studio_offline.__file__).parents[1])
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "platform xcb" in result.stdout
    # What the window manager shows: Qt adds the app's name unless the title ends with it.
    assert '_NET_WM_NAME(UTF8_STRING) = "queue.db — PEFT Studio Offline"' in result.stdout


SELF_TEST = (
    "from peft_studio_offline.selftest import run_self_test; raise SystemExit(run_self_test())"
)


def _self_test(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", SELF_TEST],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        check=False,
    )


def test_self_test_with_a_display_checks_the_real_platform(
    tmp_path: Path, xvfb_display: str
) -> None:
    result = _self_test(display_env(xvfb_display, PEFT_STUDIO_OFFLINE_HOME=str(tmp_path)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "platform xcb" in result.stdout


def test_self_test_fails_in_a_sentence_when_the_display_cannot_be_reached(
    tmp_path: Path,
) -> None:
    display = unused_display()
    result = _self_test(display_env(display, PEFT_STUDIO_OFFLINE_HOME=str(tmp_path)))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip() == (
        "self-test FAILED: RuntimeError: the window cannot open: the display"
        f" {display} cannot be reached (no X server answers there, or it refused this user)"
    )
