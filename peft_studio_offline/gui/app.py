"""The window's entry point: QApplication, then the app's main coroutine on qasync.

``main(argv)`` is what ``peft-studio-offline`` (no arguments) and the ``-gui`` script run.
It returns the exit status: 0 when the user quits (Ctrl+Q or closing the window), 0 as well
when another window on the same data directory was brought to the front instead (said on
stderr), 1 when the queue cannot be opened or the window cannot open here (no display, a
library Qt needs is missing: said on stderr in one sentence, never a silent abort).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QMessageBox

    from peft_studio_offline.core.runtime import Runtime
    from peft_studio_offline.core.settings import Settings

log = logging.getLogger(__name__)

APP_NAME = "PEFT Studio Offline"
DESKTOP_ID = "io.github.peftstudio.Offline"  # the .desktop entry in resources/


def _parse(argv: Sequence[str]) -> tuple[argparse.Namespace, list[str]]:
    parser = argparse.ArgumentParser(prog="peft-studio-offline", add_help=True)
    parser.add_argument("--db", type=Path, default=None, help="the queue database to open")
    return parser.parse_known_args(list(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the desktop window until the user quits; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    options, qt_arguments = _parse(arguments)

    from PySide6.QtCore import qInstallMessageHandler
    from PySide6.QtWidgets import QApplication

    from peft_studio_offline.core.logs import configure_logging, qt_message_handler
    from peft_studio_offline.core.settings import Settings
    from peft_studio_offline.gui.event_loop import new_event_loop
    from peft_studio_offline.gui.i18n import install_translators
    from peft_studio_offline.gui.icons import app_icon
    from peft_studio_offline.gui.single_instance import SingleInstance

    settings = Settings.load()
    configure_logging(settings, entry_point="gui")
    qInstallMessageHandler(_fatal_says_why)

    if QApplication.instance() is None:
        from peft_studio_offline.gui.platform_check import platform_problem

        problem = platform_problem()
        if problem is not None:
            log.error("The window cannot open: %s.", problem)
            _say(f"The window cannot open: {problem}.")
            return 1
    app = QApplication.instance() or QApplication(
        [sys.argv[0] if sys.argv else APP_NAME, *qt_arguments]
    )
    qInstallMessageHandler(qt_message_handler)
    assert isinstance(app, QApplication)
    install_translators(app)  # the system locale's language; English is the source
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setOrganizationName("PEFT Studio")
    app.setDesktopFileName(DESKTOP_ID)
    app.setWindowIcon(app_icon())
    # The app ends when the window asks (quit_requested), after the core is closed; Qt
    # quitting by itself on the last close would stop the loop under that shutdown.
    app.setQuitOnLastWindowClosed(False)

    db_path = (options.db or settings.paths.database).expanduser()
    instance = SingleInstance(db_path.parent)
    if instance.activate_running():
        log.info("Another window is open on %s; brought it to the front.", db_path)
        _say(f"{APP_NAME} is already open on {db_path}; its window was brought to the front.")
        return 0
    instance.listen()
    try:
        with asyncio.Runner(loop_factory=lambda: new_event_loop(app)) as runner:
            return runner.run(run_window(settings, db_path, instance))
    finally:
        instance.close()


def _say(sentence: str) -> None:
    """One sentence for the terminal the app was started from."""
    sys.stderr.write(f"peft-studio-offline: {sentence}\n")
    sys.stderr.flush()


_last_qt_message: list[str] = []


def _fatal_says_why(mode: Any, context: Any, message: str) -> None:
    """Qt's message handler until the application exists: Qt aborts right after a fatal
    message (no platform plugin, no display), so say why on stderr and exit 1 first."""
    from peft_studio_offline.core.logs import qt_message_handler

    qt_message_handler(mode, context, message)
    if int(getattr(mode, "value", mode)) != 3:  # QtFatalMsg
        if message.strip():
            # The fatal message only says that no plugin could start; the one before it
            # says which plugin and why ('Could not find the Qt platform plugin "x"').
            _last_qt_message[:] = [message.strip().splitlines()[0]]
        return
    from peft_studio_offline.gui.platform_check import platform_problem

    reason = _last_qt_message[0] if _last_qt_message else message.strip().split(". ")[0]
    reason = reason.replace(' in ""', "").rstrip(".")
    problem = platform_problem() or reason[:1].lower() + reason[1:]
    _say(f"The window cannot open: {problem}.")
    logging.shutdown()
    os._exit(1)


async def run_window(settings: object, db_path: Path, instance: object) -> int:
    """Open the queue, show the window, start the services, and wait for the user to quit."""

    from peft_studio_offline.core.errors import PeftStudioOfflineError
    from peft_studio_offline.core.runtime import set_runtime
    from peft_studio_offline.core.settings import Settings
    from peft_studio_offline.gui.i18n import translate
    from peft_studio_offline.gui.main_window import MainWindow
    from peft_studio_offline.gui.services import (
        freeze_startup_objects,
        import_api_server,
        import_services,
    )
    from peft_studio_offline.gui.single_instance import SingleInstance

    assert isinstance(settings, Settings) and isinstance(instance, SingleInstance)
    runtime = await _open_runtime(settings, db_path)
    if runtime is None:
        return 1
    set_runtime(runtime)

    # The window paints the queue first; the monitor, the engine and the HTTP stack are
    # loaded after that first paint, and monitoring and auto sync start then.
    window = MainWindow(runtime.queue, None, None, paths=settings.paths)
    closed = asyncio.Event()
    window.quit_requested.connect(closed.set)
    instance.activation_requested.connect(window.tray.raise_window)
    painted: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def on_first_paint() -> None:
        if not painted.done():
            painted.set_result(None)

    window.first_painted.connect(on_first_paint)
    window.show()
    for problem in settings.problems:
        window.statusBar().showMessage(problem, 15000)
    with contextlib.suppress(TimeoutError):  # e.g. started minimised: go on regardless
        await asyncio.wait_for(painted, 2.0)
    await import_services()
    if not closed.is_set():
        window.attach_services(runtime.monitor, runtime.engine)
        try:
            await runtime.start()
        except PeftStudioOfflineError as exc:
            window.commands.failed.emit(
                translate("App", "Sync could not start: {error}").format(error=exc)
            )
        window.refresh_auto_sync()  # read again now that auto sync has (or has not) started
    api = None
    if settings.api.enabled and not closed.is_set():
        await import_api_server()  # only now: neither the paint nor sync waits for it
        from peft_studio_offline.api import start_api

        api = await start_api(runtime)
        if api is None:
            window.statusBar().showMessage(
                translate(
                    "App", "The local API is off: its port is taken (see api.port in the settings)."
                ),
                15000,
            )
    freeze_startup_objects()
    await closed.wait()
    if api is not None:
        await api.stop()
    window.tasks.cancel_all()
    try:
        await asyncio.wait_for(window.tasks.drain(), 5.0)
    except TimeoutError:  # quitting must not hang on a task that ignores cancellation
        log.warning("Some window tasks did not stop within 5 s; quitting anyway.")
    await runtime.close()
    set_runtime(None)
    return 0


async def _open_runtime(settings: Settings, db_path: Path) -> Runtime | None:
    """The runtime with its queue open; for a damaged database, the user decides the way on.

    The damaged file is never changed: either it is moved aside, whole, and a new queue
    starts, or the app quits and leaves it as it is.
    """
    from PySide6.QtWidgets import QMessageBox

    from peft_studio_offline.core.errors import CorruptDatabaseError, PeftStudioOfflineError
    from peft_studio_offline.core.queue import move_aside_corrupt_database
    from peft_studio_offline.core.runtime import Runtime
    from peft_studio_offline.gui.i18n import translate

    runtime = Runtime(settings, db_path=db_path)
    try:
        await runtime.queue.open()
        return runtime
    except CorruptDatabaseError as exc:
        await runtime.close()
        log.error("The queue cannot be opened: %s", exc)
        question = translate(
            "App",
            "Start with a new, empty queue? The damaged file is kept aside, renamed, next to"
            " the new one.",
        )
        choice = await _ask(
            f"{exc}\n\n{question}",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
        )
        if choice != QMessageBox.StandardButton.Yes:
            return None
        try:
            moved = move_aside_corrupt_database(db_path)
        except PeftStudioOfflineError as move_error:
            await _tell(QMessageBox.Icon.Critical, str(move_error))
            return None
        log.warning("The damaged queue database was moved to %s.", moved)
        runtime = Runtime(settings, db_path=db_path)
        try:
            await runtime.queue.open()
        except PeftStudioOfflineError as again:
            await runtime.close()
            await _tell(QMessageBox.Icon.Critical, str(again))
            return None
        return runtime
    except PeftStudioOfflineError as exc:
        log.error("The queue cannot be opened: %s", exc)
        await _tell(QMessageBox.Icon.Critical, str(exc))
        await runtime.close()
        return None


async def _ask(text: str, buttons: QMessageBox.StandardButton) -> QMessageBox.StandardButton:
    """A question box shown with open() and awaited; answers the button pressed."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon.Warning, APP_NAME, text)
    box.setTextFormat(Qt.TextFormat.PlainText)
    box.setObjectName("corruptDatabaseQuestion")
    box.setStandardButtons(buttons)
    answer: asyncio.Future[QMessageBox.StandardButton] = asyncio.get_running_loop().create_future()

    def finished(_result: int) -> None:
        if not answer.done():
            answer.set_result(box.standardButton(box.clickedButton()))

    box.finished.connect(finished)
    box.open()
    return await answer


async def _tell(icon: object, text: str) -> None:
    """A message box shown with open() and awaited (no exec() inside a coroutine)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QMessageBox

    box = QMessageBox(QMessageBox.Icon(icon), APP_NAME, text)
    box.setTextFormat(Qt.TextFormat.PlainText)
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def finished(_result: int) -> None:
        if not done.done():
            done.set_result(None)

    box.finished.connect(finished)
    box.open()
    await done


if __name__ == "__main__":
    sys.exit(main())
