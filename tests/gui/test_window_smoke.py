"""The window over a real queue: contract names, title, and a screenshot that renders."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QTableView, QWidget

from peft_studio_offline.gui import MainWindow
from tests.gui.conftest import Core, until


async def test_contract_names_and_title(window: MainWindow) -> None:
    assert window.windowTitle() == "queue.db — PEFT Studio Offline"
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


async def test_layout_is_remembered(core: Core, window: MainWindow) -> None:
    from peft_studio_offline.gui import MainWindow as Window

    window.resize(700, 450)  # the offscreen screen is 800 x 600
    await until(lambda: window.size().width() == 700)
    header = window.view.horizontalHeader()
    header.resizeSection(1, 222)
    header.moveSection(8, 1)  # "Last error" dragged next to the id
    window.close()
    again = Window(core.queue, core.monitor, core.engine)
    again.show()
    await until(lambda: not again.model.is_loading)
    assert again.size().width() == 700 and again.size().height() == 450
    restored = again.view.horizontalHeader()
    assert restored.sectionSize(1) == 222
    assert restored.visualIndex(8) == 1
    again.close()
    await again.tasks.drain()
    again.deleteLater()


async def test_controls_have_accessible_names(window: MainWindow) -> None:
    for widget in (
        window.indicator,
        window.view,
        window.filter_bar.search,
        window.filter_bar.status,
        window.filter_bar.type,
        window.progress,
    ):
        assert widget.accessibleName(), widget.objectName()
    for action in window.actions():
        assert action.text().replace("&", "").strip(), action.objectName()
    # The indicator takes keyboard focus, so the details are reachable without a mouse.
    assert window.indicator.focusPolicy() & window.indicator.focusPolicy().TabFocus


async def test_the_screenshot_script_runs(tmp_path: Path) -> None:
    import asyncio
    import sys

    script = Path(__file__).resolve().parents[2] / "packaging" / "screenshot.py"
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(script), str(tmp_path / "shot.png"),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode == 0, err.decode()[-2000:]
    assert (tmp_path / "shot.png").stat().st_size > 20_000
