"""GUI test setup: async tests run on a qasync loop; Qt objects are freed on this thread.

pytest-asyncio runs every ``async def`` test here on the app's loop (``GuiEventLoop``, a
``qasync.QEventLoop``) through its ``pytest_asyncio_loop_factories`` hook, so awaiting core
coroutines also runs Qt's events.
Inside an async test never call ``qtbot.wait*``: the nested loop loses the test's task.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import shiboken6
from PySide6.QtCore import QLocale
from PySide6.QtWidgets import QApplication

from peft_studio_offline.gui.event_loop import GuiEventLoop, new_event_loop
from peft_studio_offline.gui.i18n import install_translators

ENGLISH = QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)

if TYPE_CHECKING:
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.queue import OfflineQueueManager
    from peft_studio_offline.core.sync.engine import SyncEngine
    from peft_studio_offline.gui import MainWindow


def _qasync_loop() -> GuiEventLoop:
    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    # Closing a test's window must not quit the application, which would stop the loop.
    app.setQuitOnLastWindowClosed(False)
    return new_event_loop(app)


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], Any]]:
    return {"qasync": _qasync_loop}


async def until(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Let the loop run until ``condition()`` holds (the async tests' ``waitUntil``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"Timed out waiting for {condition}")
        await asyncio.sleep(0.01)


@dataclass
class Core:
    queue: OfflineQueueManager
    monitor: NetworkMonitor
    engine: SyncEngine


@pytest.fixture(scope="session", autouse=True)
def english(qapp: QApplication) -> None:
    """The window in English (the tests read its words), with English plural forms and
    numbers, whatever the machine's locale (``in_language`` switches for one test)."""
    install_translators(qapp, ENGLISH)


@contextlib.contextmanager
def in_language(locale: QLocale) -> Iterator[None]:
    """Translators and default locale for ``locale`` inside the block, English after."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    install_translators(app, locale)
    try:
        yield
    finally:
        install_translators(app, ENGLISH)


@pytest.fixture(autouse=True)
def collect_in_gui_thread() -> Iterator[None]:
    """A closed qasync loop collected on another thread makes Qt stop timers there and crash."""
    yield
    gc.collect()


# ----------------------------------------------------------------- core and window


@pytest.fixture
async def core(tmp_path: Path) -> AsyncIterator[Core]:
    """A real queue in tmp_path, a monitor that probes nothing, and an engine over them."""
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.queue import OfflineQueueManager
    from peft_studio_offline.core.sync.engine import SyncEngine

    queue = OfflineQueueManager(tmp_path / "queue.db", backoff_base=0.0)
    await queue.open()
    monitor = NetworkMonitor(endpoints=[], check_interval=60)
    engine = SyncEngine(queue, monitor)
    yield Core(queue, monitor, engine)
    await engine.close()
    await monitor.stop_monitoring()
    await queue.close()


@pytest.fixture
async def window(core: Core, qapp: QApplication) -> AsyncIterator[MainWindow]:
    from peft_studio_offline.gui import MainWindow

    win = MainWindow(core.queue, core.monitor, core.engine)
    win.show()
    await until(lambda: not win.model.is_loading)
    yield win
    if shiboken6.isValid(win):
        win.close()
        # As the app does on quit: what is still running (a check, a sync) is cancelled.
        win.tasks.cancel_all()
        await asyncio.wait_for(win.tasks.drain(), 10)
        win.deleteLater()
    await asyncio.sleep(0)
