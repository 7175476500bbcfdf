"""``sync`` on a terminal: a bar whose total is right from the start, drawn ~10 times a
second, and errors that read as a summary."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
from pathlib import Path

from peft_studio_offline.cli._format import ProgressBar
from peft_studio_offline.core.queue import OfflineQueueManager
from tests.support.servers import HttpServer, Reply

TIMEOUT = 120


def _fill(db: Path, count: int, endpoint: str = "/m") -> None:
    async def fill() -> None:
        async with OfflineQueueManager(db) as queue:
            await queue.enqueue_many(
                [
                    {"operation_type": "api_call", "payload": {"endpoint": f"{endpoint}/{n}"}}
                    for n in range(count)
                ]
            )

    asyncio.run(fill())


def _sync_on_a_terminal(db: Path, env: dict[str, str]) -> tuple[bytes, str]:
    """Run ``sync`` with stderr on a pseudo-terminal, read while it runs (a full terminal
    buffer would stop the process)."""
    import pty
    import threading

    leader, follower = pty.openpty()
    drawn = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                return
            if not chunk:
                return
            drawn.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "peft_studio_offline", "--db", str(db), "sync"],
            stdout=subprocess.PIPE,
            stderr=follower,
            env=env,
            timeout=TIMEOUT,
            check=False,
        )
    finally:
        os.close(follower)
        reader.join(10)
        os.close(leader)
    assert process.returncode == 0
    return bytes(drawn), process.stdout.decode()


def test_the_bar_knows_its_total_and_redraws_a_few_times_a_second(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    _fill(db, 1500)
    with HttpServer(Reply(200, b"{}", {"Content-Type": "application/json"})) as target:
        env = {**os.environ, "PEFT_STUDIO_OFFLINE_API_BASE_URL": target.url("/")}
        drawn, out = _sync_on_a_terminal(db, env)
    frames = [f for f in drawn.decode().split("\r") if f.strip()]
    figures = [tuple(map(int, m.groups())) for f in frames if (m := re.search(r"(\d+)/(\d+)", f))]
    assert figures and figures[-1] == (1500, 1500)
    assert {total for _done, total in figures} == {1500}  # never 100/100, 200/200...
    assert len(frames) <= 80  # one per operation was 1,500
    assert "Synced 1500" in out


def test_equal_errors_print_as_one_line(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    _fill(db, 40)
    with HttpServer(Reply(503, b"busy")) as target:
        env = {**os.environ, "PEFT_STUDIO_OFFLINE_API_BASE_URL": target.url("/")}
        result = subprocess.run(
            [sys.executable, "-m", "peft_studio_offline", "--db", str(db), "sync"],
            capture_output=True,
            text=True,
            env=env,
            timeout=TIMEOUT,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    errors = [line for line in lines if line.startswith("  #")]
    assert len(errors) == 1, result.stdout
    assert re.match(r"  #\d+, #\d+, #\d+ and \d+ more: .*503", errors[0]), errors[0]


def test_an_unknown_total_draws_an_empty_bar_not_a_full_one() -> None:
    class Terminal:
        def __init__(self) -> None:
            self.text = ""

        def isatty(self) -> bool:
            return True

        def write(self, text: str) -> None:
            self.text += text

        def flush(self) -> None:
            pass

    terminal = Terminal()
    now = [0.0]
    bar = ProgressBar(terminal, clock=lambda: now[0])  # type: ignore[arg-type]
    bar.update(0, 0, "operations")
    assert "#" not in terminal.text
    for done in range(1, 1001):  # a thousand updates within half a second
        now[0] += 0.0005
        bar.update(done, 1000, "operations")
    bar.close()
    frames = [f for f in terminal.text.split("\r") if f.strip()]
    assert len(frames) <= 7  # the first, ~5 in half a second, and the last
    assert "1000/1000" in frames[-1] and "#" * 30 in frames[-1]


def test_a_sent_operation_counts_the_attempt_that_sent_it(tmp_path: Path) -> None:
    db = tmp_path / "q.db"
    _fill(db, 1)
    with HttpServer(Reply(200, b"{}", {"Content-Type": "application/json"})) as target:
        env = {**os.environ, "PEFT_STUDIO_OFFLINE_API_BASE_URL": target.url("/")}
        synced = subprocess.run(
            [sys.executable, "-m", "peft_studio_offline", "--db", str(db), "sync"],
            capture_output=True, text=True, env=env, timeout=TIMEOUT, check=False,
        )  # fmt: skip
    assert synced.returncode == 0, synced.stderr

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "peft_studio_offline", "--db", str(db), *args],
            capture_output=True, text=True, timeout=TIMEOUT, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    row = cli("list").splitlines()[1].split()
    assert row[2] == "completed" and row[4] == "1/5"  # was 0/5 beside a history of one
    assert "Attempts: 1 of 5" in " ".join(cli("show", "1").split())
