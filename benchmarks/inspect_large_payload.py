"""Opening the inspect view of a 10 MB payload: how long the window's event loop stalls.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/inspect_large_payload.py [--mb 10]

Two payloads of ``--mb`` megabytes are queued: one of many small metric points (the worst
case for a JSON decoder: ~0.3 s in C for 12 MB) and one holding a single long string (the
case that laid out one line of megabytes). For each, the window opens its inspect view
while a 5 ms asyncio ticker and a 5 ms Qt timer measure how late the loop runs, from the
double-click until the preview is shown. Target: no stall of 100 ms or more. Then "Show
all" is pressed on the first one and measured the same way (the whole payload formatted on
a worker thread and handed to the text view in pieces).

Baselines in the same run: the loop's lateness with nothing to do, and what the previous
inspect view did on the GUI thread for the first payload (decode, mask, indent, set the
text); the previous view is not run on the second, which took minutes.

Figures are printed with their targets; exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gui_large_queue import QtTicker, Ticker

TARGET_MS = 100.0


def metric_points(megabytes: float) -> dict[str, Any]:
    count = int(megabytes * 1e6 / 85)  # a point is ~85 bytes of JSON
    return {
        "run_id": "run-42",
        "headers": {"Authorization": "Bearer sk-live-1234"},
        "metrics": [
            {"key": "loss", "value": 1 / (i + 1), "step": i, "timestamp": 1_800_000_000_000 + i}
            for i in range(count)
        ],
    }


def one_string(megabytes: float) -> dict[str, Any]:
    return {"url": "https://me:hunter2@example.org/x", "data": "x" * int(megabytes * 1e6)}


async def watch(action: Any) -> tuple[float, float, float]:
    """(worst asyncio lateness ms, worst Qt timer lateness ms, elapsed ms) while ``action``."""
    ticker, qt_ticker = Ticker(0.005), QtTicker(5)
    ticker.start()
    qt_ticker.start()
    await asyncio.sleep(0.05)
    began = time.perf_counter()
    await action()
    elapsed = time.perf_counter() - began
    await asyncio.sleep(0.05)
    await ticker.stop()
    qt_ticker.stop()
    return ticker.worst * 1000, qt_ticker.worst * 1000, elapsed * 1000


async def measure(folder: Path, megabytes: float) -> dict[str, float]:
    from peft_studio_offline.core.queue import OfflineQueueManager
    from peft_studio_offline.gui import MainWindow
    from peft_studio_offline.gui.dialogs.inspect import InspectDialog

    figures: dict[str, float] = {}
    queue = OfflineQueueManager(folder / "queue.db")
    await queue.open()
    points_id = await queue.enqueue("metric_log", metric_points(megabytes))
    string_id = await queue.enqueue("api_call", one_string(megabytes))
    window = MainWindow(queue, None, None)
    window.show()
    while window.model.rowCount() < 2:
        await asyncio.sleep(0.01)

    async def idle() -> None:
        await asyncio.sleep(1.0)

    figures["idle"], figures["idle_qt"], _ = await watch(idle)

    for name, op_id in (("points", points_id), ("string", string_id)):
        dialogs: list[InspectDialog] = []

        async def open_view(op_id: int = op_id, dialogs: list[InspectDialog] = dialogs) -> None:
            row = window.model.row_of(op_id)
            assert row is not None
            dialog = window.open_inspect(row)
            assert isinstance(dialog, InspectDialog)
            dialogs.append(dialog)
            await dialog.loaded

        stall, qt_stall, elapsed = await watch(open_view)
        figures[f"{name}_stall"], figures[f"{name}_qt"], figures[f"{name}_ms"] = (
            stall,
            qt_stall,
            elapsed,
        )
        dialog = dialogs[0]
        figures[f"{name}_size"] = dialog.operation.payload_size
        figures[f"{name}_shown"] = len(dialog.payload.toPlainText())
        if name == "points":

            async def show_all(dialog: InspectDialog = dialog) -> None:
                dialog.show_all_button.click()
                assert dialog.showing_all is not None
                await dialog.showing_all

            figures["all_stall"], figures["all_qt"], figures["all_ms"] = await watch(show_all)
            figures["all_chars"] = len(dialog.payload.toPlainText())

            async def close(dialog: InspectDialog = dialog) -> None:
                dialog.close()
                await asyncio.sleep(0.3)  # the deferred delete of the dialog and its text

            figures["close_stall"], figures["close_qt"], _ = await watch(close)
        else:
            dialog.close()

    # The previous inspect view, on the GUI thread, for the first payload.
    from PySide6.QtWidgets import QPlainTextEdit

    from peft_studio_offline.core.masking import mask_secrets

    operation = await queue.get_operation(points_id)
    assert operation is not None
    view = QPlainTextEdit()
    began = time.perf_counter()
    text = json.dumps(mask_secrets(operation.payload), indent=2, ensure_ascii=False, sort_keys=True)
    view.setPlainText(text)
    figures["old_points_ms"] = (time.perf_counter() - began) * 1000
    view.deleteLater()

    window.close()
    window.tasks.cancel_all()
    await window.tasks.drain()
    await queue.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=10.0, help="payload size in megabytes")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    from peft_studio_offline.gui.event_loop import new_event_loop

    app = QApplication.instance() or QApplication([])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    loop = new_event_loop(app)
    with tempfile.TemporaryDirectory() as folder:
        figures = loop.run_until_complete(measure(Path(folder), args.mb))
    loop.close()

    print(f"Inspect view of a large payload ({args.mb:g} MB of JSON each)")
    print(
        f"  the loop with nothing to do:            worst lateness {figures['idle']:6.1f} ms"
        f" (Qt timer {figures['idle_qt']:.1f} ms)"
    )
    for name, label in (("points", "metric points"), ("string", "one long string")):
        print(
            f"  open, {label:<16} {figures[f'{name}_size'] / 1e6:5.1f} MB:"
            f" longest stall {figures[f'{name}_stall']:6.1f} ms"
            f" (Qt timer {figures[f'{name}_qt']:.1f} ms; target < {TARGET_MS:.0f} ms),"
            f" preview of {figures[f'{name}_shown']:,.0f} characters shown after"
            f" {figures[f'{name}_ms']:.0f} ms"
        )
    print(
        f"  Show all, metric points:              longest stall {figures['all_stall']:6.1f} ms"
        f" (Qt timer {figures['all_qt']:.1f} ms), {figures['all_chars']:,.0f} characters"
        f" shown after {figures['all_ms'] / 1000:.1f} s"
    )
    print(
        f"  closing it after Show all:            longest stall {figures['close_stall']:6.1f} ms"
        f" (Qt timer {figures['close_qt']:.1f} ms)"
    )
    print(
        f"  previous view, metric points, on the GUI thread: {figures['old_points_ms']:,.0f} ms"
        " (one stall); one long string: not run (it took minutes)"
    )
    missed = [name for name in ("points", "string") if figures[f"{name}_stall"] >= TARGET_MS]
    if missed:
        print("MISSED: the longest stall opening " + " and ".join(missed))
        return 1
    print("All targets met.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
