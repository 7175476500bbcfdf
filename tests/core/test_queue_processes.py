"""Several processes on one queue file, and processes killed mid-write."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from peft_studio_offline import OfflineQueueManager, OperationStatus
from tests.support.sqlite_files import connected

WORKER = Path(__file__).with_name("queue_worker.py")


def start(mode: str, db_path: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(WORKER), mode, str(db_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


async def test_two_processes_never_take_the_same_operation(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        ids = await queue.enqueue_many(
            [{"operation_type": "api_call", "payload": {"n": n}} for n in range(2000)]
        )
    workers = [start("claim", db_path), start("claim", db_path)]
    for worker in workers:
        assert worker.stdout is not None
        assert worker.stdout.readline().strip() == "ready"
    db_path.with_name("go").touch()
    outputs = [w.communicate(timeout=120) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [o[1] for o in outputs]
    taken = [[int(line) for line in out.split()] for out, _ in outputs]
    everything = taken[0] + taken[1]
    assert len(everything) == len(set(everything)), "an operation was handed out twice"
    assert sorted(everything) == ids
    assert taken[0] and taken[1], "both processes should have worked"
    async with OfflineQueueManager(db_path) as queue:
        stats = await queue.get_queue_stats()
    assert stats["completed"] == 2000 and stats["in_progress"] == 0


async def test_kill_9_loses_nothing_acknowledged(db_path: Path) -> None:
    rng = random.Random(7)
    acknowledged: dict[int, dict[str, object]] = {}
    for _ in range(8):
        writer = start("enqueue", db_path)
        assert writer.stdout is not None
        deadline = time.monotonic() + rng.uniform(0.4, 1.2)
        lines: list[str] = []
        while time.monotonic() < deadline:
            line = writer.stdout.readline()
            if not line:
                break
            lines.append(line)
        writer.send_signal(signal.SIGKILL)
        rest, _ = writer.communicate()
        # Everything printed was acknowledged before the kill: it must all be there.
        for line in lines + rest.splitlines():
            if line.strip():
                record = json.loads(line)
                acknowledged[record["id"]] = record["payload"]
    assert len(acknowledged) > 100
    with connected(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    async with OfflineQueueManager(db_path) as queue:
        stored = {op.id: op for op in await queue.list_operations(limit=None)}
        stats = await queue.get_queue_stats()
    missing = sorted(set(acknowledged) - set(stored))
    assert not missing, f"acknowledged but lost: {missing[:10]}"
    for op_id, payload in acknowledged.items():
        assert stored[op_id].payload == payload
        assert stored[op_id].status is OperationStatus.PENDING
    assert stats["total"] == len(stored) == stats["pending"]


async def test_operations_of_a_killed_claimer_return_on_next_open(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        await queue.enqueue_many(
            [{"operation_type": "api_call", "payload": {"n": n}} for n in range(5)]
        )
    code = (
        "import asyncio, os, signal\n"
        "from peft_studio_offline import OfflineQueueManager\n"
        "async def main():\n"
        f"    q = OfflineQueueManager({str(db_path)!r})\n"
        "    print(len(await q.claim(5)), flush=True)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        "asyncio.run(main())\n"
    )
    victim = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert victim.returncode == -signal.SIGKILL
    assert victim.stdout.strip() == "5"
    # The lease is still valid, but its holder is gone: the next open takes them back.
    async with OfflineQueueManager(db_path, lease_seconds=3600) as queue:
        stats = await queue.get_queue_stats()
        assert stats["pending"] == 5 and stats["in_progress"] == 0
        assert len(await queue.claim(10)) == 5
