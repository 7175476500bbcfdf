"""``peft-studio-offline --self-test``: does this installation work?

Starts Qt on the window's event loop (on the real platform when a display is set, which is
checked first; offscreen otherwise), opens a queue in a temporary folder (the user's own
queue and settings are never touched), enqueues, reads and deletes an operation, encrypts
and opens a queued secret (its key kept in that folder), answers one request of the local
API in-process, builds the main window, then quits. Prints one line per step and returns 0
when every step passed, 1 otherwise. Used to check a built bundle, where a module or Qt
plugin left out shows up here rather than on a user's machine.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import importlib.util
import logging
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from peft_studio_offline.core.logs import qt_message_handler
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.settings import Settings

_TIMEOUT = 60.0


def run_self_test() -> int:
    """Run every check; 0 when all passed, 1 when one failed (its error on stderr)."""
    from peft_studio_offline._version import __version__

    real_platform = _display_given()
    if not real_platform:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # nothing to show on: check the rest
    print(
        f"PEFT Studio Offline {__version__} self-test ({sys.platform}, Python "
        f"{sys.version.split()[0]})",
        flush=True,
    )
    started = time.monotonic()
    errors = _ErrorCollector()
    root = logging.getLogger()
    root.addHandler(errors)
    try:
        settings = Settings.load()  # problems in the user's file are shown, not a failure
        _passed(
            "settings", f"{len(settings.problems)} problem(s) in {settings.paths.settings_file}"
        )
        for problem in settings.problems:
            print(f"      {problem}", flush=True)
        if real_platform:
            # The platform the window would use, as the window would meet it: a missing
            # library or an unreachable display fails here, in a sentence, not in an abort.
            from peft_studio_offline.gui.platform_check import platform_problem

            obstacle = platform_problem()
            if obstacle is not None:
                raise RuntimeError(f"the window cannot open: {obstacle}")
        from PySide6 import __version__ as qt_version
        from PySide6.QtCore import qInstallMessageHandler
        from PySide6.QtWidgets import QApplication

        from peft_studio_offline.gui.event_loop import new_event_loop

        qInstallMessageHandler(qt_message_handler)

        app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "self-test"])
        assert isinstance(app, QApplication)
        _passed("qt", f"PySide6 {qt_version}, platform {app.platformName()}")
        with (
            tempfile.TemporaryDirectory(prefix="peft-studio-offline-self-test-") as folder,
            asyncio.Runner(loop_factory=lambda: new_event_loop(app)) as runner,
        ):
            runner.run(asyncio.wait_for(_checks(Path(folder)), _TIMEOUT))
        # Free the closed loop here, on the GUI thread: freed by the cycle collector
        # on another thread, it makes Qt stop timers from the wrong thread.
        gc.collect()
        if errors.records:
            first = errors.records[0]
            raise RuntimeError(
                f"{len(errors.records)} error(s) were logged, the first from {first.name}: "
                f"{first.getMessage()}"
            )
    except BrokenPipeError:
        raise  # nobody reads the report any more (``--self-test | head``): not a failure
    except Exception as exc:  # the point of a self-test: report anything, never a traceback
        print(f"self-test FAILED: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        root.removeHandler(errors)
    print(f"self-test passed in {time.monotonic() - started:.1f} s", flush=True)
    return 0


def _display_given() -> bool:
    """A display to check the real platform on: set in the environment, or a platform
    chosen explicitly (``QT_QPA_PLATFORM``)."""
    return any(os.environ.get(name) for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY"))


class _ErrorCollector(logging.Handler):
    """Keeps every error logged during the checks: a logged error fails the self-test too."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)  # also keeps warnings from reaching stderr
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR:
            self.records.append(record)


def _passed(step: str, detail: str = "") -> None:
    print(f"  ok  {step}" + (f": {detail}" if detail else ""), flush=True)


async def _checks(folder: Path) -> None:
    from peft_studio_offline.core.runtime import Runtime

    settings = Settings(AppPaths.under(folder))  # defaults: no sync target, nothing probed
    runtime = Runtime(settings)
    try:
        await _check_queue(runtime)
        _check_secrets(folder)
        await _optional("api", "peft_studio_offline.api.app", lambda: _check_api(runtime))
        await _optional(
            "window", "peft_studio_offline.gui.main_window", lambda: _check_window(runtime)
        )
    finally:
        await runtime.close()


async def _optional(step: str, module: str, check: Callable[[], Awaitable[str]]) -> None:
    """Run ``check`` when this installation has ``module``; an import error there fails."""
    if importlib.util.find_spec(module) is None:
        # Not "ok": nothing was checked, and a reader must be able to tell.
        print(f"  skip  {step}: not part of this installation", flush=True)
        return
    _passed(step, await check())


async def _check_queue(runtime: Any) -> None:
    queue = runtime.queue
    await queue.open()
    op_id = await queue.enqueue("api_call", {"endpoint": "/self-test", "method": "GET"}, priority=1)
    operation = await queue.get_operation(op_id)
    if operation is None or operation.payload.get("endpoint") != "/self-test":
        raise RuntimeError("the queue did not return the operation just enqueued")
    stats = await queue.get_queue_stats()
    if stats.get("pending") != 1:
        raise RuntimeError(f"the queue counts {stats.get('pending')} pending, not 1")
    if not await queue.delete_operation(op_id):
        raise RuntimeError("the queue could not delete the operation")
    _passed("queue", f"enqueue, read, count and delete in {queue.db_path}")


def _check_secrets(folder: Path) -> None:
    """A queued secret is encrypted and opened again (the cipher library is there); the key
    is kept in the temporary folder, never in the user's keyring."""
    from peft_studio_offline.core.credentials import CredentialStore
    from peft_studio_offline.core.sealing import PayloadSealer

    sealer = PayloadSealer(CredentialStore(AppPaths.under(folder), "file"))
    payload = {"headers": {"Authorization": "Bearer self-test-secret-0123"}}
    sealed = sealer.seal(payload)
    if "self-test-secret-0123" in repr(sealed) or sealer.unseal(sealed) != payload:
        raise RuntimeError("a queued secret was not encrypted and opened again")
    _passed("secrets", "a queued secret encrypted and opened again")


async def _check_api(runtime: Any) -> str:
    import httpx

    from peft_studio_offline.api import create_app

    token = "self-test-token-0123456789abcdef"
    transport = httpx.ASGITransport(app=create_app(runtime, token))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
        denied = await client.get("/api/offline/queue")
        answer = await client.get(
            "/api/offline/queue", headers={"Authorization": f"Bearer {token}"}
        )
    if denied.status_code != 401 or answer.status_code != 200:
        raise RuntimeError(
            f"the local API answered {denied.status_code} without the token and "
            f"{answer.status_code} with it (expected 401 and 200)"
        )
    return "GET /api/offline/queue answered in-process"


async def _check_window(runtime: Any) -> str:
    from peft_studio_offline.gui import main_window

    window = main_window.MainWindow(
        runtime.queue, runtime.monitor, runtime.engine, paths=runtime.settings.paths
    )
    window.show()
    await asyncio.sleep(0.3)  # let the first page of the table load and paint
    title = window.windowTitle()
    window.hide()
    window.deleteLater()
    await asyncio.sleep(0.05)
    if not title.endswith("PEFT Studio Offline"):
        raise RuntimeError(f"the window's title is {title!r}")
    return f"MainWindow built and shown ({title})"
