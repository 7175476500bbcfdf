"""Refresh the README screenshot: a realistic queue in the window, saved with grab().

    QT_QPA_PLATFORM=offscreen .venv/bin/python packaging/screenshot.py [OUTPUT.png]
        [--dark] [--scale FACTOR] [Qt options, e.g. -reverse]

Builds a throw-away queue in a temporary folder (a few hundred operations of every type and
status, with the errors and a conflict people meet), a loopback health endpoint so the
window shows "Online", and saves the window to resources/screenshot.png (or OUTPUT.png).
Also saves the details panel (``-details.png``) and the operations grouped by run
(``-runs.png``) next to it.

``--dark`` takes the pictures with a dark palette, ``--scale 2`` at 200 % (Qt's
``QT_SCALE_FACTOR``), and Qt's own options go to the application: ``-reverse`` mirrors the
layout as a right-to-left language does. The window speaks the system locale's language:
``LANGUAGE=de LANG=de_DE.UTF-8`` takes the German pictures.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

ROOT = Path(__file__).resolve().parents[1]
RUNS = ["llama3-lora-r16", "mistral-qlora-a2", "phi3-dora-sweep", "gemma-ia3-base"]


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        pass


def _items(rng: random.Random) -> list[dict[str, object]]:
    items: list[dict[str, object]] = []
    for step in range(0, 2400, 10):
        run = rng.choice(RUNS)
        items.append(
            {
                "operation_type": "metric_log",
                "payload": {
                    "run_id": run,
                    "metrics": {"loss": round(2.4 * 0.999**step, 4), "lr": 2e-4},
                    "step": step,
                },
            }
        )
    for i, run in enumerate(RUNS):
        items.append(
            {
                "operation_type": "model_push",
                "payload": {
                    "path": f"/home/ana/adapters/{run}/checkpoint-{1200 + 300 * i}",
                    "run_id": run,
                    "registered_model_name": run.split("-")[0] + "-adapter",
                },
                "priority": 5,
            }
        )
        items.append(
            {
                "operation_type": "experiment_sync",
                "payload": {"run_id": run, "tags": {"stage": "evaluated", "owner": "ana"}},
            }
        )
        items.append(
            {
                "operation_type": "file_upload",
                "payload": {
                    "path": f"/home/ana/adapters/{run}/eval-report.html",
                    "url": "https://artifacts.example.org/reports/",
                },
            }
        )
    items.append(
        {
            "operation_type": "api_call",
            "payload": {
                "endpoint": "/api/models/upload",
                "method": "POST",
                "headers": {"Authorization": "Bearer sk-live-0123456789"},
                "data": {"model_name": "llama3-lora-r16"},
            },
            "priority": 10,
        }
    )
    return items


async def _fill(queue: object) -> None:
    from peft_studio_offline.core.queue import OfflineQueueManager

    assert isinstance(queue, OfflineQueueManager)
    rng = random.Random(7)
    items = _items(rng)
    # Older work went through; the newest waits, some of it after failed attempts.
    older = await queue.enqueue_many(items[:200])
    for op in await queue.claim(limit=len(older)):
        await queue.mark_completed(op.id)
    await queue.enqueue_many(items[200:-6])
    taken = await queue.claim(limit=14)
    ids = await queue.enqueue_many(items[-6:])
    await queue.claim(limit=1)  # one being sent right now
    errors = [
        "Connection refused: mlflow.internal:5000",
        "HTTP 503 Service Unavailable (retry after 30 s)",
        "Read timed out after 30.0 s",
    ]
    for op in taken[:8]:
        await queue.mark_failed(op.id, rng.choice(errors), retry_after=rng.uniform(60, 900))
    for op in taken[8:10]:
        await queue.mark_failed(
            op.id, "HTTP 413 Payload Too Large: the adapter exceeds 2 GB", permanent=True
        )
    for op in taken[11:]:
        await queue.mark_completed(op.id)
    conflict = taken[10]
    await queue.mark_conflict(
        conflict.id,
        local={"stage": "evaluated", "owner": "ana"},
        remote={"stage": "archived", "owner": "ana", "reviewer": "li"},
        base={"stage": "training", "owner": "ana"},
        remote_version='"v7"',
        message="The run's tags changed on the server since this was queued.",
    )
    await queue.cancel(ids[-2])


async def _shoot(output: Path) -> None:
    from PySide6.QtWidgets import QApplication

    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.queue import OfflineQueueManager
    from peft_studio_offline.core.sync.engine import SyncEngine
    from peft_studio_offline.gui import MainWindow
    from peft_studio_offline.gui.history import CountSample, SyncSample

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    health = f"http://127.0.0.1:{server.server_address[1]}/health"
    with tempfile.TemporaryDirectory() as folder:
        os.environ["PEFT_STUDIO_OFFLINE_HOME"] = folder
        # Targets as a user sets them: the table's Host column names them.
        os.environ.setdefault("MLFLOW_TRACKING_URI", "http://mlflow.internal:5000")
        os.environ.setdefault("PEFT_STUDIO_OFFLINE_API_BASE_URL", "https://models.example.org")
        queue = OfflineQueueManager(Path(folder) / "queue.db")
        await queue.open()
        await _fill(queue)
        monitor = NetworkMonitor(endpoints=[health], check_interval=30)
        engine = SyncEngine(queue, monitor)
        window = MainWindow(queue, monitor, engine)
        window.resize(1280, 760)
        window.show()
        await monitor.check_connectivity()
        window.bridge.announce_network_info()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if window.model.rowCount() and window.bridge.stats:
                break
        # A few hours of samples, as a running window would have collected them.
        history = window.history
        now = time.time()
        history.counts.clear()
        for step in range(36):
            at = now - (36 - step) * 600
            history.counts.append(CountSample(at, 160 - step * 3 + (step % 5) * 6, step // 12))
            history.syncs.append(SyncSample(at, 10 + (step * 13) % 40, step % 7 == 0, 3.0))
        window.view.selectRow(6)
        window.view.setFocus()
        await asyncio.sleep(0.3)
        QApplication.processEvents()
        output.parent.mkdir(parents=True, exist_ok=True)
        window.grab().save(str(output))
        details = window.open_details()
        await asyncio.sleep(0.2)
        details.grab().save(str(output.with_name(output.stem + "-details.png")))
        details.close()
        window.show_run_groups(True)
        for _ in range(100):
            await asyncio.sleep(0.02)
            if window.run_groups.topLevelItemCount():
                break
        window.grab().save(str(output.with_name(output.stem + "-runs.png")))
        window.close()
        await engine.close()
        await monitor.aclose()
        await queue.close()
    server.shutdown()
    print(output)


def _dark_palette() -> object:
    """A dark palette like the ones desktops hand over in dark mode."""
    from PySide6.QtGui import QColor, QPalette

    palette = QPalette()
    role = QPalette.ColorRole
    for which, colour in (
        (role.Window, "#2d2d2d"), (role.WindowText, "#f0f0f0"), (role.Base, "#1e1e1e"),
        (role.AlternateBase, "#262626"), (role.Text, "#f0f0f0"), (role.Button, "#353535"),
        (role.ButtonText, "#f0f0f0"), (role.Highlight, "#3d8ee6"),
        (role.HighlightedText, "#ffffff"), (role.PlaceholderText, "#9a9a9a"),
        (role.ToolTipBase, "#353535"), (role.ToolTipText, "#f0f0f0"), (role.Link, "#6cb4ff"),
    ):  # fmt: skip
        palette.setColor(which, QColor(colour))
    return palette


def _options(argv: list[str]) -> tuple[Path, bool, str | None, list[str]]:
    """(output, dark, scale, Qt's options) from the command line."""
    output = ROOT / "resources" / "screenshot.png"
    dark, scale, qt = False, None, []
    items = iter(argv)
    for argument in items:
        if argument == "--dark":
            dark = True
        elif argument == "--scale":
            scale = next(items)
        elif argument.startswith("-"):
            qt.append(argument)
        else:
            output = Path(argument)
    return output, dark, scale, qt


def main() -> int:
    output, dark, scale, qt_options = _options(sys.argv[1:])
    if scale:
        os.environ["QT_SCALE_FACTOR"] = scale  # read when the application starts
    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication

    from peft_studio_offline.gui.event_loop import new_event_loop
    from peft_studio_offline.gui.i18n import install_translators

    app = QApplication.instance() or QApplication([sys.argv[0], *qt_options])
    assert isinstance(app, QApplication)
    install_translators(app)  # the system locale's language, as the app does
    if dark:
        palette = _dark_palette()
        assert isinstance(palette, QPalette)
        app.setPalette(palette)
    app.setQuitOnLastWindowClosed(False)  # closing the window must not stop the loop here
    with asyncio.Runner(loop_factory=lambda: new_event_loop(app)) as runner:
        runner.run(_shoot(output))
    return 0


if __name__ == "__main__":
    sys.exit(main())
