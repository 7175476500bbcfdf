"""A full disk on a real small filesystem: every acknowledged operation stays reachable.

Each scenario fills an 8 MiB tmpfs from its own process, lets that process end, and then
checks every way into the queue, first while the disk is still full, then after it has
grown. The failure these guard against: a checkpoint that ran out of space leaves the
database shorter than its header says (the missing pages are in the WAL), and the queue was
then refused as "truncated" by every entry point, even after space came back.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.client import OfflineClient
from peft_studio_offline.core.errors import StorageFullError
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import STORAGE_MAX_BYTES_VARIABLE
from tests.support.small_disk import SmallDisk, mounted_small_disk, needs_root

pytestmark = [needs_root, pytest.mark.slow]

FILLER = Path(__file__).with_name("disk_filler.py")
FULL_SENTENCE = "cannot grow (the disk is full or its size limit is reached)"


@pytest.fixture(autouse=True)
def only_the_disk_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    """These scenarios are about the disk itself: a storage budget larger than the disk
    leaves the refusing to it (``test_storage_budget_disk`` has the budget stop first)."""
    monkeypatch.setenv(STORAGE_MAX_BYTES_VARIABLE, str(2**50))


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with mounted_small_disk(tmp_path) as disk:
        yield disk


def fill(db: Path, mode: str = "fill") -> set[int]:
    """Fill the disk from another process, which then exits; the ids it was told are kept."""
    done = subprocess.run(
        [sys.executable, str(FILLER), str(db), mode],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    lines = done.stdout.splitlines()
    assert lines[-1] == "full", done.stdout[-500:] + done.stderr[-2000:]
    return {int(line.split()[1]) for line in lines if line.startswith("acked ")}


def take_the_rest(path: Path) -> None:
    """Fill what room is left on the disk with one file."""
    with path.open("wb", buffering=0) as ballast:
        chunk = b"\0" * 4096
        try:
            while True:
                ballast.write(chunk)
        except OSError:
            pass


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_ids(db: Path) -> set[int]:
    async def read() -> set[int]:
        async with OfflineQueueManager(db) as queue:
            return {op.id for op in await queue.list_operations(limit=None)}

    return asyncio.run(read())


def assert_whole(db: Path, acked: set[int]) -> None:
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    missing = acked - stored_ids(db)
    assert not missing, f"{len(missing)} acknowledged operations are gone"


def test_every_entry_point_reads_the_queue_after_the_filling_process_exits(
    small_disk: SmallDisk,
) -> None:
    db = small_disk.path / "queue.db"
    acked = fill(db)
    assert len(acked) > 500, "the disk filled too early to prove anything"
    header_pages = int.from_bytes(db.read_bytes()[28:32], "big")
    assert db.stat().st_size < header_pages * 4096, (
        "the checkpoint fitted after all: this run does not reproduce the short file"
    )

    # While the disk is still full: the queue opens and is read; a write says "disk full".
    listed = cli("list", "--json", "--db", str(db))
    assert listed.returncode == 0, listed.stderr
    assert {item["id"] for item in json.loads(listed.stdout)} >= acked
    large = {"url": "http://127.0.0.1:9/late", "c": os.urandom(50_000).hex()}  # past any slack
    refused = cli("enqueue", "api_call", json.dumps(large), "--db", str(db))
    assert refused.returncode == 1
    assert FULL_SENTENCE in refused.stderr and "truncated" not in refused.stderr
    assert refused.stderr.count("\n") == 1

    small_disk.grow(64)
    stats = cli("stats", "--json", "--db", str(db))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["total"] >= len(acked)
    added = cli("enqueue", "api_call", json.dumps({"url": "http://127.0.0.1:9/after"}), "--db",
                str(db))  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert_whole(db, acked | {int(added.stdout)})
    # The checkpoint that failed for want of space ran once space returned.
    assert (
        not (small_disk.path / "queue.db-wal").exists()
        or (small_disk.path / "queue.db-wal").stat().st_size == 0
    )
    assert db.stat().st_size == int.from_bytes(db.read_bytes()[28:32], "big") * 4096


def test_the_client_keeps_what_a_full_disk_refused_and_queues_it_later(
    small_disk: SmallDisk, caplog: pytest.LogCaptureFixture
) -> None:
    db = small_disk.path / "queue.db"
    acked = fill(db)
    # The filler's log file went when it closed its queue: take that room too, so that the
    # disk is full when the client comes, whatever it opens first.
    take_the_rest(small_disk.path / "ballast")
    caplog.set_level(logging.INFO, logger="peft_studio_offline")
    with OfflineClient(db_path=db, use_api=False) as client:
        client._backlog.retry_after = 0.0  # retry on every call, so the test need not wait
        # A training loop logs on: what room the queue's own files still hold is used
        # first (a log file made empty again is written over), then the disk refuses.
        stored = 0
        for step in range(1, 20_000):
            if client.log_metrics("run-1", {"loss": 1.0 / step}, step=step) is None:
                break
            stored = step
        else:
            pytest.fail("the disk never filled")
        second = client.log_metrics("run-1", {"loss": 0.4}, step=stored + 2)
        assert second is None
        assert client.held_in_memory == 2
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, warnings  # one warning, not one per training step
        assert FULL_SENTENCE in warnings[0] and "kept in memory" in warnings[0]

        small_disk.grow(64)
        third = client.log_metrics("run-1", {"loss": 0.3}, step=stored + 3)
        assert third is not None
        assert client.held_in_memory == 0

    async def steps() -> list[int]:
        async with OfflineQueueManager(db) as queue:
            ops = await queue.list_operations(operation_type=["metric_log"], limit=None)
            return [op.payload["metrics"][0]["step"] for op in ops]

    expected = list(range(1, stored + 4))
    assert asyncio.run(steps()) == expected, "held operations were lost or reordered"
    assert_whole(db, acked)


def test_the_http_api_answers_507_and_the_queue_survives_the_server(
    small_disk: SmallDisk, isolated_home: Path
) -> None:
    db = small_disk.path / "queue.db"
    acked = fill(db)
    small_disk.grow(9)  # a little room: the server can start, then fills it again
    server = subprocess.Popen(
        [sys.executable, "-m", "peft_studio_offline", "serve", "--port", "0", "--db", str(db)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:"), url
        token = (isolated_home / "data" / "api-token").read_text().strip()
        body = {"operation_type": "api_call", "payload": {"url": "http://127.0.0.1:9/h"}}
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            for n in range(2000):  # bounded: 1 MiB of room is gone within a few hundred
                body["payload"]["c"] = "z" * 3000 + str(n)  # type: ignore[index]
                answer = http.post(f"{url.rstrip('/')}/api/offline/queue", json=body)
                if answer.status_code == 507:
                    assert FULL_SENTENCE in answer.text
                    break
                assert answer.status_code == 201, answer.text
                acked.add(answer.json()["id"])
            else:
                pytest.fail("the disk never filled through the API")
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=60)

    small_disk.grow(64)
    assert_whole(db, acked)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_kill_during_a_checkpoint_on_a_full_disk_loses_nothing(
    small_disk: SmallDisk, seed: int
) -> None:
    db = small_disk.path / "queue.db"
    worker = subprocess.Popen(
        [sys.executable, str(FILLER), str(db), "checkpoint"],
        stdout=subprocess.PIPE,
        text=True,
    )
    acked: set[int] = set()
    assert worker.stdout is not None
    for line in worker.stdout:  # ends with "checkpointing", then it loops until killed
        if line.startswith("acked "):
            acked.add(int(line.split()[1]))
        if line.startswith("checkpointing"):
            break
    time.sleep(random.Random(seed).uniform(0.0, 0.2))
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    worker.stdout.close()
    assert len(acked) > 500

    small_disk.grow(64)
    assert_whole(db, acked)


async def test_a_full_disk_is_one_sentence_in_python(small_disk: SmallDisk) -> None:
    db = small_disk.path / "queue.db"
    acked = await asyncio.to_thread(fill, db)
    async with OfflineQueueManager(db) as queue:
        assert {op.id for op in await queue.list_operations(limit=None)} >= acked
        with pytest.raises(StorageFullError, match=r"cannot grow \(the disk is full"):
            await queue.enqueue(
                "api_call", {"url": "http://127.0.0.1:9/x", "c": os.urandom(100_000).hex()}
            )
