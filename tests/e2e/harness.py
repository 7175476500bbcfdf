"""What the fault scenarios share: the engine process, the workload, the figures they report."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx

from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.queue._schema import COUNTED_THROUGH
from tests.support.sqlite_files import connected

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ENGINE_SCRIPT = HERE / "engine_process.py"
SERVER_SCRIPT = HERE / "effects_server.py"


class ChildProcess:
    """A child process whose JSON-line output is collected by a thread as it arrives."""

    def __init__(self, argv: Sequence[str], *, env: dict[str, str] | None = None) -> None:
        self.argv = list(argv)
        self.events: list[dict[str, Any]] = []
        self._lines: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.proc = subprocess.Popen(
            self.argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env if env is not None else os.environ.copy(),
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.stderr = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                event = {"event": "text", "text": line.rstrip("\n")}
            self.events.append(event)
            self._lines.put(event)
        self._lines.put(None)

    def wait_for(self, name: str, timeout: float) -> dict[str, Any]:
        """The next event called ``name``; fails if the process ends or the time runs out."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"No {name!r} from {self.argv[1:3]} in {timeout} s; last events:"
                    f" {self.events[-5:]}"
                )
            try:
                event = self._lines.get(timeout=left)
            except queue.Empty:
                continue
            if event is None:
                code = self.proc.wait()
                self._close()
                raise AssertionError(
                    f"{self.argv[1:3]} ended (code {code}) before {name!r}: {self.stderr[-2000:]}"
                )
            if event.get("event") == name:
                return event

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind runs in the child."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close()

    def finish(self, timeout: float) -> int:
        """Wait for a normal exit; returns the exit code."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.argv[1:3]} did not finish in {timeout} s.") from None
        self._close()
        return code

    def _close(self) -> None:
        self._reader.join(5)
        self.read_stderr()
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()

    def read_stderr(self) -> str:
        stream = self.proc.stderr
        if self.proc.poll() is not None and stream is not None and not stream.closed:
            self.stderr += stream.read()
        return self.stderr


def engine(mode: str, db: Path, *options: str, prefix: Sequence[str] = ()) -> ChildProcess:
    """Start ``engine_process.py`` (optionally under a prefix such as ``ip netns exec``)."""
    return ChildProcess([*prefix, sys.executable, str(ENGINE_SCRIPT), mode, str(db), *options])


async def enqueue_posts(db: Path, base_url: str, count: int, start: int = 0) -> list[int]:
    """``count`` API calls, each a POST to its own URL carrying its number ``n``."""
    async with OfflineQueueManager(db) as q:
        return await q.enqueue_many(
            {
                "operation_type": "api_call",
                "payload": {
                    "url": f"{base_url}/items/{n}",
                    "method": "POST",
                    "data": {"n": n},
                },
            }
            for n in range(start, start + count)
        )


def server_report(base_url: str) -> dict[str, Any]:
    report: dict[str, Any] = httpx.get(f"{base_url}/__effects", timeout=10).json()
    return report


def ledger(report: dict[str, Any], count: int, start: int = 0) -> dict[str, int]:
    """Lost and duplicated effects, from the server's side, for operations ``start..``."""
    applied = report["applied"]
    wanted = [str(n) for n in range(start, start + count)]
    return {
        "lost": sum(1 for n in wanted if applied.get(n, 0) == 0),
        "duplicated": sum(max(0, applied.get(n, 0) - 1) for n in wanted)
        + sum(max(0, c - 1) for c in report["effects"].values()),
        "redelivered": sum(max(0, c - 1) for c in report["requests"].values()),
    }


def database_facts(db: Path) -> dict[str, Any]:
    """Integrity, statuses by a plain count, and the counters the queue keeps."""
    with connected(db) as conn:
        integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        statuses = dict(
            conn.execute("SELECT status, count(*) FROM offline_operations GROUP BY status")
        )
        counters = {
            status: count
            for status, count in conn.execute(
                "SELECT status, count FROM queue_counters WHERE status != ?", (COUNTED_THROUGH,)
            )
            if count
        }
    return {"integrity": integrity, "statuses": statuses, "counters": counters}


def report_figures(directory: Path, scenario: str, **figures: Any) -> dict[str, Any]:
    """Write the scenario's figures to ``figures.json`` in ``directory`` and print them."""
    record = {"scenario": scenario, **figures}
    (directory / "figures.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"\nFIGURES {json.dumps(record)}")
    return record
