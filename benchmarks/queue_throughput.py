"""Queue throughput next to raw sqlite3 doing the same work, measured in one run.

    .venv/bin/python benchmarks/queue_throughput.py [--big 1000000] [--folder DIR]

Every figure is printed next to its baseline as a ratio, with the target from the queue's
issue. The raw baseline writes the same rows into the same schema (same indexes and
triggers) with the same durability settings (WAL, synchronous=FULL).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from peft_studio_offline import OfflineQueueManager

COLUMNS = (
    "operation_type, payload, status, created_at, updated_at, retry_count, priority,"
    " idempotency_key, max_attempts, next_attempt_at"
)


def raw_row(n: int) -> tuple[object, ...]:
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    payload = json.dumps({"endpoint": "/api/metrics", "n": n}, separators=(",", ":"))
    return (
        "api_call",
        payload,
        "pending",
        stamp,
        stamp,
        0,
        0,
        os.urandom(16).hex(),
        5,
        time.time(),
    )


def raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


async def fresh_queue(folder: Path, name: str) -> OfflineQueueManager:
    queue = OfflineQueueManager(folder / f"{name}.db")
    await queue.open()
    return queue


def rate(count: int, seconds: float) -> float:
    return count / seconds


def report(label: str, ours: float, baseline: float, target: str, unit: str = "ops/s") -> None:
    print(
        f"{label:<48} {ours:>12,.0f} {unit}  baseline {baseline:>12,.0f} {unit}"
        f"  ratio {ours / baseline:6.2f}  (target {target})"
    )


async def single_enqueues(folder: Path, count: int) -> None:
    queue = await fresh_queue(folder, "single")
    start = time.perf_counter()
    for n in range(count):
        await queue.enqueue("api_call", {"endpoint": "/api/metrics", "n": n})
    ours = rate(count, time.perf_counter() - start)
    await queue.close()

    baseline_queue = await fresh_queue(folder, "single-raw")  # same schema, then raw writes
    await baseline_queue.close()
    conn = raw_connection(folder / "single-raw.db")
    start = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN")
        conn.execute(
            f"INSERT INTO offline_operations ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", raw_row(n)
        )
        conn.execute("COMMIT")
    raw_single = rate(count, time.perf_counter() - start)
    conn.close()
    report("one awaited enqueue at a time", ours, raw_single, ">= 0.50")
    await concurrent_enqueues(folder, raw_single)


async def concurrent_enqueues(
    folder: Path, raw_single: float, writers: int = 100, each: int = 200
) -> None:
    queue = await fresh_queue(folder, "concurrent")

    async def writer(w: int) -> None:
        for n in range(each):
            await queue.enqueue("api_call", {"endpoint": "/api/metrics", "n": w * each + n})

    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    ours = rate(writers * each, time.perf_counter() - start)
    await queue.close()
    report(
        f"{writers} coroutines enqueueing, each acknowledged",
        ours,
        raw_single,
        ">= 15 x raw one-per-transaction",
    )


async def many_enqueues(folder: Path, count: int) -> None:
    queue = await fresh_queue(folder, "many")
    items = [
        {"operation_type": "api_call", "payload": {"endpoint": "/api/metrics", "n": n}}
        for n in range(count)
    ]
    start = time.perf_counter()
    await queue.enqueue_many(items)
    ours = rate(count, time.perf_counter() - start)
    await queue.close()

    baseline_queue = await fresh_queue(folder, "many-raw")
    await baseline_queue.close()
    conn = raw_connection(folder / "many-raw.db")
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO offline_operations ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
        [raw_row(n) for n in range(count)],
    )
    conn.execute("COMMIT")
    raw = rate(count, time.perf_counter() - start)
    conn.close()
    report("enqueue_many", ours, raw, ">= 0.80 of raw executemany")


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def big_queue(folder: Path, count: int) -> None:
    path = folder / "big.db"
    queue = await fresh_queue(folder, "big")
    chunk = 100_000
    for start in range(0, count, chunk):
        await queue.enqueue_many(
            [
                {"operation_type": "metric_log", "payload": {"run_id": "r", "n": n}}
                for n in range(start, min(count, start + chunk))
            ]
        )
    # Half of them completed, as after a long-running project.
    await queue.close()
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute("UPDATE offline_operations SET status = 'completed' WHERE id % 2 = 0")
    queue = OfflineQueueManager(path)
    await queue.open()

    claims = []
    for _ in range(50):
        start = time.perf_counter()
        batch = await queue.claim(100)
        claims.append(time.perf_counter() - start)
        await queue.release([op.id for op in batch])
    stats_times = []
    for _ in range(200):
        start = time.perf_counter()
        await queue.get_queue_stats()
        stats_times.append(time.perf_counter() - start)
    await queue.close()

    conn = sqlite3.connect(path)
    group_by = timed(
        lambda: conn.execute(
            "SELECT status, count(*) FROM offline_operations GROUP BY status"
        ).fetchall(),
        5,
    )
    plain_select = timed(
        lambda: conn.execute(
            "SELECT id FROM offline_operations WHERE status = 'pending'"
            " ORDER BY priority DESC, id LIMIT 100"
        ).fetchall(),
        50,
    )
    conn.close()
    claim_ms = statistics.median(claims) * 1000
    stats_ms = statistics.median(stats_times) * 1000
    print(
        f"{'claim 100 of ' + format(count, ',') + ' (half completed)':<48} {claim_ms:12.2f} ms"
        f"     raw SELECT of 100 pending {plain_select * 1000:8.2f} ms  (target <= 2 ms)"
    )
    print(
        f"{'queue stats on ' + format(count, ',') + ' operations':<48} {stats_ms:12.3f} ms"
        f"     GROUP BY over the table  {group_by * 1000:8.1f} ms  (target <= 1 ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--many", type=int, default=100_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as name:
        folder = Path(name)
        await single_enqueues(folder, args.count)
        await many_enqueues(folder, args.many)
        await big_queue(folder, args.big)


if __name__ == "__main__":
    asyncio.run(main())
