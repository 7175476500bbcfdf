"""The window over a 1,000,000-operation queue: first page, memory, and event-loop stalls.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/gui_large_queue.py [--size 1000000]
        [--sync 10000] [--db PATH (kept and reused between runs)]

1. Builds the queue in a child process with ``enqueue_many`` (so that this process's memory
   is the window's alone): ``size`` operations scheduled for later, a backlog.
2. Starts the whole app on it in a new process, ``--starts`` times (3): from the process's
   first line to the whole window painted with the first page (``repaint()`` on it, so the
   figure includes a full paint). Target: 500 ms. The app loads the monitor, the engine and
   the HTTP stack after that paint; the time until they are attached is printed as well.
   The baseline: a bare PySide6 process with a paged ``QTableView`` over the same file (its
   first 200 rows read with sqlite3), timed the same way; the ratio is printed.
3. Opens the window on it and times ``show()`` until the table has painted its first page,
   then attaches the services as the app does. Target: 100 ms.
4. Reads this process's resident memory with the window open. Target: 200 MB; the bare
   table's process is the baseline.
5. Queues ``sync`` operations due now and syncs them against a loopback server (a separate
   process) with the window open, the table following the changes row by row; an asyncio
   ticker measures how late the loop runs. Target: no stall over 50 ms. The loop is the
   app's (``gui.event_loop``).

Diagnostics: ``BENCH_STALLS=1`` prints each callback over 20 ms (asyncio debug mode, which
slows everything); ``BENCH_SAMPLE=1`` samples the GUI thread's stack while the loop is late
and prints the stacks of the longest stalls; ``BENCH_HIDE_WINDOW=1`` hides the window
during the sync, for comparison.

Figures are printed with their targets; exits 1 when one is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _loopback import serve_app

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

CHUNK = 50_000


# ---------------------------------------------------------------- the service


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers every request with 200 {} (the benchmark measures the client side)."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", b"2")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"{}"})


def serve(port: int) -> None:
    serve_app("gui_large_queue", port)


def start_server() -> tuple[subprocess.Popen[bytes], str]:
    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/ready", timeout=1)
            return process, url
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("The benchmark server did not start.")


# ----------------------------------------------------------------- the queue


async def build(path: Path, size: int) -> None:
    from peft_studio_offline.core.queue import OfflineQueueManager

    later = time.time() + 7 * 86400
    async with OfflineQueueManager(path) as queue:
        for start in range(0, size, CHUNK):
            await queue.enqueue_many(
                {
                    "operation_type": "metric_log",
                    "payload": {"run_id": f"run-{n % 97}", "metrics": {"loss": n / size}},
                    "not_before": later,
                }
                for n in range(start, min(size, start + CHUNK))
            )


def ensure_queue(path: Path, size: int) -> float:
    """Build the queue in a child process unless ``path`` already holds it; seconds taken."""
    if path.exists():
        return 0.0
    started = time.perf_counter()
    subprocess.run([sys.executable, __file__, "--build", str(path), str(size)], check=True)
    return time.perf_counter() - started


_START_PROBE = """
import time
started = time.perf_counter()
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
from peft_studio_offline.gui import app as gui_app

qt_app = QApplication([])

painted = None

def poll():
    global painted
    for window in qt_app.topLevelWidgets():
        if window.objectName() != "mainWindow" or not window.isVisible():
            continue
        if painted is None:
            # The whole window: its table with the first page, its status bar, its indicator.
            if window.model.rowCount() and window.indicator.isVisible():
                window.repaint()  # painted now, whatever the app did before
                painted = time.perf_counter()
        elif window.services_ready:  # the monitor and the engine are attached
            timer.stop()
            print(f"{(painted - started) * 1000:.1f} {(time.perf_counter() - started) * 1000:.1f}",
                  flush=True)  # fmt: skip
            window.actions_.quit.trigger()

timer = QTimer()
timer.timeout.connect(poll)
timer.start(2)
sys.exit(gui_app.main(["--db", sys.argv[1]]))
"""


def app_start_ms(path: Path, folder: Path) -> tuple[float, float]:
    """A new process running the app on ``path``: from its first line to the first page
    painted, and to the monitor and the engine attached (loaded after the first paint)."""
    env = {**os.environ, "PEFT_STUDIO_OFFLINE_HOME": str(folder / "start"),
           "PEFT_STUDIO_OFFLINE_CHECK_URLS": ""}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", _START_PROBE, str(path)],
        env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    paint, services = done.stdout.strip().splitlines()[-1].split()
    return float(paint), float(services)


# The baseline: a bare PySide6 process with a paged QTableView over the same file (its
# first 200 rows read with sqlite3), timed the same way, with its resident memory.
_BARE_PROBE = """
import time
started = time.perf_counter()
import sqlite3, sys
from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt, QTimer
from PySide6.QtWidgets import QApplication, QTableView

qt_app = QApplication([])
COLUMNS = ("id", "operation_type", "status", "priority", "created_at")


class Page(QAbstractTableModel):
    def __init__(self, path):
        super().__init__()
        with sqlite3.connect(path) as conn:
            self.rows = conn.execute(
                f"SELECT {', '.join(COLUMNS)} FROM offline_operations ORDER BY id LIMIT 200"
            ).fetchall()
        conn.close()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(COLUMNS)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole:
            return str(self.rows[index.row()][index.column()])
        return None

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None


view = QTableView()
view.setModel(Page(sys.argv[1]))
view.resize(1280, 800)
view.show()


def poll():
    if view.isVisible() and view.model().rowCount():
        timer.stop()
        view.repaint()
        painted = time.perf_counter()
        with open("/proc/self/status") as status:
            rss = next(int(l.split()[1]) / 1024 for l in status if l.startswith("VmRSS:"))
        print(f"{(painted - started) * 1000:.1f} {rss:.1f}", flush=True)
        qt_app.quit()


timer = QTimer()
timer.timeout.connect(poll)
timer.start(2)
sys.exit(qt_app.exec())
"""


def bare_start(path: Path) -> tuple[float, float]:
    """A bare PySide6 process with a paged QTableView over ``path``: milliseconds from its
    first line to its first page painted, and its resident memory then (MB)."""
    done = subprocess.run(
        [sys.executable, "-c", _BARE_PROBE, str(path)],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    paint, rss = done.stdout.strip().splitlines()[-1].split()
    return float(paint), float(rss)


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# ---------------------------------------------------------------- the window


class QtTicker:
    """The same lateness seen by Qt's own timers (what repaints and input wait behind)."""

    def __init__(self, interval_ms: int = 5) -> None:
        from PySide6.QtCore import QElapsedTimer, QTimer

        self.interval = interval_ms / 1000
        self.worst = 0.0
        self.samples = 0
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._tick)
        self._last = 0.0

    def start(self) -> None:
        self._clock.start()
        self._last = time.perf_counter()
        self._timer.start()

    def _tick(self) -> None:
        now = time.perf_counter()
        self.worst = max(self.worst, now - self._last - self.interval)
        self._last = now
        self.samples += 1

    def stop(self) -> None:
        self._timer.stop()


class StallSampler:
    """What the GUI thread runs while the loop is late (``BENCH_SAMPLE=1``).

    A thread looks at the GUI thread's stack every millisecond while the ticker has not
    ticked for ``threshold`` s; each such stretch is one stall, with the stacks seen in it.
    """

    def __init__(self, threshold: float = 0.02, depth: int = 14) -> None:
        self.threshold = threshold
        self.depth = depth
        self.beat = time.perf_counter()
        self.stalls: list[tuple[float, Counter[str]]] = []
        self._gui = threading.get_ident()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> None:
        self.beat = time.perf_counter()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _stack(self) -> str:
        frame = sys._current_frames().get(self._gui)
        lines = []
        while frame is not None and len(lines) < self.depth:
            code = frame.f_code
            lines.append(f"{Path(code.co_filename).name}:{frame.f_lineno} {code.co_name}")
            frame = frame.f_back
        return "\n      ".join(lines)

    def _watch(self) -> None:
        seen: Counter[str] | None = None
        began = 0.0
        while not self._stop.wait(0.001):
            beat = self.beat
            if time.perf_counter() - beat > self.threshold:
                if seen is None:
                    seen, began = Counter(), beat
                seen[self._stack()] += 1
            elif seen is not None:
                self.stalls.append((beat - began, seen))
                seen = None

    def report(self, count: int = 6) -> None:
        for length, stacks in sorted(self.stalls, key=lambda s: -s[0])[:count]:
            print(f"-- stall of about {length * 1000:.0f} ms, {sum(stacks.values())} samples")
            for stack, n in stacks.most_common(3):
                print(f"   {n} x {stack}")


class Ticker:
    """How late the event loop runs a callback that asks to run every ``interval`` s."""

    def __init__(self, interval: float = 0.005, sampler: StallSampler | None = None) -> None:
        self.interval = interval
        self.worst = 0.0
        self.samples = 0
        self.sampler = sampler
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(self.interval)
            now = time.perf_counter()
            late = now - before - self.interval
            self.worst = max(self.worst, late)
            self.samples += 1
            if self.sampler is not None:
                self.sampler.beat = now

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def measure(path: Path, sync_count: int) -> dict[str, float]:
    from PySide6.QtCore import QEvent, QObject

    from peft_studio_offline.core.queue import OfflineQueueManager
    from peft_studio_offline.gui import MainWindow
    from peft_studio_offline.gui.services import freeze_startup_objects, import_services

    figures: dict[str, float] = {}
    queue = OfflineQueueManager(path)
    await queue.open()
    # As the app starts: the window first, the services once it has painted.
    window = MainWindow(queue, None, None)
    window.resize(1280, 800)
    if os.environ.get("BENCH_STALLS"):  # print each stall over 20 ms with what the loop ran
        asyncio.get_running_loop().slow_callback_duration = 0.02
        asyncio.get_running_loop().set_debug(True)

    painted = asyncio.get_running_loop().create_future()

    class FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
            if (
                event.type() == QEvent.Type.Paint
                and window.model.rowCount() > 0
                and not painted.done()
            ):
                painted.set_result(time.perf_counter())
            return False

    spy = FirstPaint()
    window.view.viewport().installEventFilter(spy)
    shown = time.perf_counter()
    window.show()
    first_paint = await asyncio.wait_for(painted, 30)
    figures["first_page_ms"] = (first_paint - shown) * 1000
    await import_services()
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.sync.engine import SyncEngine

    monitor = NetworkMonitor(endpoints=[], check_interval=3600)
    engine = SyncEngine(queue, monitor, concurrency=8)
    window.attach_services(monitor, engine)
    freeze_startup_objects()
    await asyncio.sleep(0.5)
    figures["rss_mb_open"] = rss_mb()

    server, url = start_server()
    try:
        await queue.enqueue_many(
            {
                "operation_type": "api_call",
                "payload": {"url": f"{url}/items/{n}", "method": "POST", "data": {"n": n}},
                "priority": 1,
            }
            for n in range(sync_count)
        )
        await asyncio.sleep(0.5)  # the table shows them
        if os.environ.get("BENCH_HIDE_WINDOW"):  # for comparison: the core's own stalls
            window.hide()
            window.bridge.close()
        sampler = StallSampler() if os.environ.get("BENCH_SAMPLE") else None
        ticker = Ticker(sampler=sampler)
        ticker.start()
        if sampler is not None:
            sampler.start()
        qt_ticker = QtTicker()
        qt_ticker.start()
        started = time.perf_counter()
        result = await engine.sync()
        figures["sync_seconds"] = time.perf_counter() - started
        await asyncio.sleep(0.5)  # the last changes reach the table
        await ticker.stop()
        qt_ticker.stop()
        if sampler is not None:
            sampler.stop()
            sampler.report()
        figures["max_qt_stall_ms"] = qt_ticker.worst * 1000
        figures["sync_completed"] = result["completed"]
        figures["max_stall_ms"] = ticker.worst * 1000
        figures["ticks"] = ticker.samples
    finally:
        server.terminate()
        server.wait(10)
    figures["rss_mb_after_sync"] = rss_mb()
    window.close()
    await window.tasks.drain()
    await engine.close()
    await queue.close()
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--sync", type=int, default=10_000)
    parser.add_argument("--db", type=Path, default=None)
    parser.add_argument("--starts", type=int, default=3, help="app starts timed (0: none)")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--build", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return 0
    if args.build:
        asyncio.run(build(Path(args.build[0]), int(args.build[1])))
        return 0

    with tempfile.TemporaryDirectory() as folder:
        os.environ["PEFT_STUDIO_OFFLINE_HOME"] = folder  # the window's layout file goes here
        kept = args.db is not None
        path = args.db if kept else Path(folder) / "queue.db"
        if kept and path.exists():
            print(f"Reusing {path} (its operations from earlier runs are kept).")
        built = ensure_queue(path, args.size)
        if built:
            print(f"Built a queue of {args.size:,} operations in {built:.1f} s.")
        starts = [app_start_ms(path, Path(folder)) for _ in range(args.starts)]
        bare = [bare_start(path) for _ in range(max(1, args.starts))]
        work = Path(folder) / "work.db"
        # Each run syncs into a copy so that the kept queue stays as built.
        import shutil

        shutil.copyfile(path, work)

        from PySide6.QtWidgets import QApplication

        from peft_studio_offline.gui.event_loop import new_event_loop

        qt_app = QApplication.instance() or QApplication([])
        assert isinstance(qt_app, QApplication)
        qt_app.setQuitOnLastWindowClosed(False)
        with asyncio.Runner(loop_factory=lambda: new_event_loop(qt_app)) as runner:
            figures = runner.run(measure(work, args.sync))

    print(f"Queue: {args.size:,} operations; sync: {args.sync:,} operations.")
    if starts:
        paints = [paint for paint, _ in starts]
        print(
            f"Start of the app to its first page: {min(paints):6.1f} ms   (target < 500 ms)"
            f"  [best of {len(paints)}; {', '.join(f'{p:.0f}' for p in paints)}]"
        )
        ready = [services for _, services in starts]
        print(
            f"... to its sync engine attached:  {min(ready):7.1f} ms"
            f"  [{', '.join(f'{r:.0f}' for r in ready)}]"
        )
    bare_paint = min(paint for paint, _ in bare)
    bare_rss = min(rss for _, rss in bare)
    print(
        f"Baseline, a bare PySide6 QTableView's start to its first page: {bare_paint:.1f} ms"
        f" [{', '.join(f'{p:.0f}' for p, _ in bare)}]"
        + (f"; the app takes {min(p for p, _ in starts) / bare_paint:.2f}x it" if starts else "")
    )
    print(
        f"First page painted after show(): {figures['first_page_ms']:7.1f} ms   (target < 100 ms)"
    )
    print(f"Resident memory, window open:    {figures['rss_mb_open']:7.1f} MB   (target < 200 MB)")
    print(
        f"Baseline, the bare QTableView's resident memory: {bare_rss:.1f} MB;"
        f" the window holds {figures['rss_mb_open'] / bare_rss:.2f}x it"
    )
    print(
        f"Longest event-loop stall in sync: {figures['max_stall_ms']:7.1f} ms   (target < 50 ms)"
        f"  [{figures['sync_completed']:.0f} sent in {figures['sync_seconds']:.1f} s,"
        f" {figures['ticks']:.0f} ticks]"
    )
    print(f"Longest wait of a Qt timer then:  {figures['max_qt_stall_ms']:7.1f} ms")
    print(f"Resident memory after the sync:  {figures['rss_mb_after_sync']:7.1f} MB")
    missed = [
        name
        for name, value, target in (
            ("the start to the first page", min(p for p, _ in starts) if starts else 0.0, 500),
            ("the first page after show()", figures["first_page_ms"], 100),
            ("the resident memory", figures["rss_mb_open"], 200),
            ("the longest stall in sync", figures["max_stall_ms"], 50),
        )
        if value >= target
    ]
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    print("All targets met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
