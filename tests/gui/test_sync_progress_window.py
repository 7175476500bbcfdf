"""The window's progress knows its total up front; the last sync reads as a summary."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QApplication

from peft_studio_offline.core.sync.engine import SyncEngine
from peft_studio_offline.gui import MainWindow
from peft_studio_offline.gui.details_panel import last_sync_lines
from tests.gui.conftest import Core, until
from tests.support.asgi import AsgiServer
from tests.support.sync_apps import ScriptedApp


async def test_the_bar_has_its_total_from_the_start(core: Core, window: MainWindow) -> None:
    async def accept(payload: dict[str, Any]) -> bool:
        return True

    core.engine.register_handler("metric_log", accept)
    core.engine.batch_size = 50
    await core.queue.enqueue_many(
        [{"operation_type": "metric_log", "payload": {"run_id": "r", "n": n}} for n in range(1200)]
    )
    shown: list[tuple[int, int]] = []
    window.bridge.sync_progress.connect(
        lambda done, total: shown.append((window.progress.value(), window.progress.maximum()))
    )
    task = window.commands.sync_now()
    assert task is not None
    await task
    assert shown, "no progress was shown"
    assert {maximum for _value, maximum in shown} == {1200}  # not 50, 100, 150...
    assert all(value < 1200 for value, _maximum in shown[:-1])
    # Numbers read one way everywhere: "1 200", as the counts in the indicator.
    # Counts in the locale's digits (the tests run in US English).
    assert window.statusBar().currentMessage() == "Sync finished: 1,200 of 1,200 sent."


async def test_held_back_work_and_grouped_errors_are_reported(
    core: Core, qapp: QApplication
) -> None:
    app = ScriptedApp()
    app.always = (503, {}, {"detail": "down"})
    with AsgiServer(app) as failing:
        for n in range(5):
            await core.queue.enqueue(
                "api_call", {"url": failing.url(f"/items/{n}"), "method": "POST"}
            )
        engine = SyncEngine(core.queue, None, concurrency=1, breaker_threshold=2)
        win = MainWindow(core.queue, core.monitor, engine)
        win.show()
        try:
            task = win.commands.sync_now()
            assert task is not None
            await task
            message = win.statusBar().currentMessage()
            assert "3 held back (a host is paused after repeated failures)" in message
            details = win.open_details()
            await until(lambda: "held back" in details._last_sync.text())
            text = details._last_sync.text()
            host = f"127.0.0.1:{failing.port}"
            assert f"3 held back: {host} paused after repeated failures" in text
            error_lines = [line for line in text.splitlines() if line.startswith("#")]
            assert len(error_lines) == 1 and error_lines[0].startswith("#1, #2: ")
            details.close()
        finally:
            win.close()
            win.tasks.cancel_all()
            await win.tasks.drain()
            await engine.close()


def test_many_kinds_of_error_end_with_how_many_more() -> None:
    errors = [{"id": n, "error": f"error {n % 5}"} for n in range(1, 101)]
    lines = last_sync_lines({"total": 100, "completed": 0, "failed": 100, "errors": errors}, None)
    grouped = [line for line in lines if line.startswith("#")]
    assert len(grouped) == 3
    assert grouped[0].endswith(" and 17 more: error 1")
    assert lines[-1] == "…and 40 more with other errors"
    assert lines[0] == "0 of 100 sent" and "100 failed for good" in lines
