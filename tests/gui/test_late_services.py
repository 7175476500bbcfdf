"""The window paints the queue before the monitor and the engine exist, then drives them.

The app shows ``MainWindow(queue, None, None)`` and attaches the services after the first
paint (``gui.services``); until then the sync controls are there but disabled.
"""

from __future__ import annotations

import gc
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import shiboken6

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.services import freeze_startup_objects
from tests.gui.conftest import Core, until
from tests.support.servers import HttpServer, Reply


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer(Reply(200, '{"ok": true}', {"Content-Type": "application/json"})) as running:
        yield running


@pytest.fixture
async def bare_window(core: Core) -> AsyncIterator[Callable[[], MainWindow]]:
    """Makes the window as the app first shows it: the queue, no monitor or engine yet."""
    made: list[MainWindow] = []

    def make() -> MainWindow:
        made.append(MainWindow(core.queue, None, None))
        return made[-1]

    yield make
    for win in made:
        if shiboken6.isValid(win):
            win.close()
            win.tasks.cancel_all()
            await win.tasks.drain()
            win.deleteLater()


async def _queue_five(core: Core, server: HttpServer) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"url": server.url(f"/{i}")}} for i in range(5)]
    )


async def test_first_paint_comes_with_the_first_page_and_no_services(
    core: Core, bare_window: Callable[[], MainWindow], server: HttpServer
) -> None:
    await _queue_five(core, server)
    win = bare_window()
    painted: list[int] = []
    win.first_painted.connect(lambda: painted.append(win.model.rowCount()))
    win.show()
    await until(lambda: bool(painted))
    assert painted == [5]  # the table painted with its first page, once
    assert win.painted and not win.services_ready
    assert win.indicator.isVisible() and win.statusBar().isVisible()
    a = win.actions_
    for action in (a.sync_now, a.check, a.auto_sync, a.pause, a.conflicts):
        assert not action.isEnabled(), action.objectName()
    assert a.add.isEnabled()  # the queue itself can be used at once


async def test_an_empty_queue_is_painted_too(bare_window: Callable[[], MainWindow]) -> None:
    win = bare_window()
    painted: list[int] = []
    win.first_painted.connect(lambda: painted.append(win.model.rowCount()))
    win.show()
    await until(lambda: bool(painted))
    assert painted == [0]


async def test_attached_services_drive_the_controls_and_sync(
    core: Core, bare_window: Callable[[], MainWindow], server: HttpServer
) -> None:
    await _queue_five(core, server)
    win = bare_window()
    win.show()
    await until(lambda: win.painted)
    core.engine.set_conflict_strategy(ConflictResolution.REMOTE_WINS)
    attached: list[bool] = []
    win.services_attached.connect(lambda: attached.append(True))

    win.attach_services(core.monitor, core.engine)

    assert attached == [True] and win.services_ready
    a = win.actions_
    assert a.strategies[ConflictResolution.REMOTE_WINS].isChecked()
    assert a.sync_now.isEnabled() and a.check.isEnabled() and a.pause.isEnabled()
    a.sync_now.trigger()
    await until(lambda: win.bridge.last_sync is not None, timeout=30)
    assert server.request_count == 5
    assert (await core.queue.get_queue_stats())["completed"] == 5
    await until(
        lambda: all(
            win.model.operation_at(row).status is OperationStatus.COMPLETED  # type: ignore[union-attr]
            for row in range(5)
        )
    )


async def test_a_window_closed_before_its_services_ignores_them(
    core: Core, bare_window: Callable[[], MainWindow]
) -> None:
    win = bare_window()
    win.show()
    await until(lambda: win.painted)
    win.close()
    win.attach_services(core.monitor, core.engine)
    assert not win.services_ready
    assert win.bridge.monitor is None and win.bridge.engine is None


def test_services_and_what_the_first_request_needs_are_imported() -> None:
    code = (
        "import asyncio, sys\n"
        "from peft_studio_offline.gui.services import import_services\n"
        "names = ('httpx', 'httpcore', 'peft_studio_offline.core.sync.engine')\n"
        "before = [n in sys.modules for n in names]\n"
        "asyncio.run(import_services())\n"
        "print(before, [n in sys.modules for n in names])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == "[False, False, False] [True, True, True]"


def test_startup_objects_are_kept_out_of_collections() -> None:
    gc.unfreeze()
    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 1000
    finally:
        gc.unfreeze()
