"""The window over a real queue: contract names, title, and a screenshot that renders."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QTableView, QWidget

from peft_studio_offline.gui import MainWindow
from tests.gui.conftest import Core, until


async def test_contract_names_and_title(window: MainWindow) -> None:
    assert window.windowTitle().startswith("PEFT Studio Offline")
    assert window.findChild(QWidget, "offlineIndicator") is window.indicator
    assert isinstance(window.findChild(QTableView, "queueTable"), QTableView)
    for name in ("actionSyncNow", "actionDeleteSelected", "actionCheckConnectivity"):
        assert window.findChild(QAction, name) is not None, name


async def test_grab_renders_rows(core: Core, window: MainWindow, tmp_path: Path) -> None:
    await core.queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"endpoint": f"/x/{i}"}} for i in range(20)]
    )
    await until(lambda: window.model.rowCount() == 20)
    shot = tmp_path / "shot.png"
    assert window.grab().save(str(shot))
    assert shot.stat().st_size > 1000
