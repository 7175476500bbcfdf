"""Secrets typed into the window's Add Operation are encrypted at rest, shown masked and sent.

The window runs over a queue built as the app builds it (with the runtime's sealer, its key
in the user-only credentials file); the form is filled and "Add to Queue" pressed, then the
database file, its WAL and the table are looked at, and a sync sends to a server on
127.0.0.1 that keeps what it receives.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.runtime import build_queue
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.dialogs.add_operation import AddOperationDialog
from tests.gui.conftest import Core, until
from tests.support.asgi import AsgiServer
from tests.support.recorder import RecorderApp

BEARER = "window-bearer-5a8c1e"
TOKEN = "window-token-2f7d9b"


@pytest.fixture
def recorder() -> Iterator[tuple[RecorderApp, AsgiServer]]:
    app = RecorderApp()
    with AsgiServer(app) as server:
        yield app, server


@pytest.fixture
async def core(tmp_path: Path, isolated_home: Path) -> AsyncIterator[Core]:
    """The app's queue (with its sealer), a monitor that probes nothing, and an engine."""
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.sync.engine import SyncEngine

    (isolated_home / "config").mkdir(parents=True)
    (isolated_home / "config" / "settings.toml").write_text('[credentials]\nstore = "file"\n')
    queue = build_queue(Settings.load(), tmp_path / "queue.db")
    await queue.open()
    monitor = NetworkMonitor(endpoints=[], check_interval=60)
    engine = SyncEngine(queue, monitor)
    yield Core(queue, monitor, engine)
    await engine.close()
    await monitor.stop_monitoring()
    await queue.close()


async def test_secrets_added_in_the_window_are_stored_encrypted_and_sent_intact(
    core: Core, window: MainWindow, tmp_path: Path, recorder: tuple[RecorderApp, AsgiServer]
) -> None:
    app, server = recorder
    dialog = window.open_add_operation()
    assert isinstance(dialog, AddOperationDialog)
    form = dialog.select_type(OperationType.API_CALL)
    form.set_value("url", server.url("/window"))
    form.set_value("method", "POST")
    form.set_value("headers", json.dumps({"Authorization": f"Bearer {BEARER}", "X-Team": "nlp"}))
    form.set_value("data", json.dumps({"token": TOKEN, "name": "from-the-window"}))
    dialog.submit()
    await until(lambda: dialog.added_id is not None)
    await until(lambda: window.model.rowCount() == 1)

    stored = tmp_path / "queue.db"
    for path in (stored, stored.with_name("queue.db-wal")):
        data = path.read_bytes()
        assert BEARER.encode() not in data and TOKEN.encode() not in data, path
    assert b"from-the-window" in stored.with_name("queue.db-wal").read_bytes()
    model = window.model
    for role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
        shown = " ".join(
            str(model.data(model.index(0, c), role)) for c in range(model.columnCount())
        )
        assert BEARER not in shown and TOKEN not in shown, shown

    result = await core.engine.sync()
    assert result["completed"] == 1, result
    (request,) = app.received()
    assert request.headers["authorization"] == f"Bearer {BEARER}"
    assert json.loads(request.body) == {"token": TOKEN, "name": "from-the-window"}
