"""Queue throughput next to raw sqlite3 doing the same work, measured in one run.

    .venv/bin/python benchmarks/queue_throughput.py [--big 1000000] [--rounds 5] [--folder DIR]

Every figure is printed next to its baseline as a ratio, with the target from the queue's
issue. The raw baseline does the same work the plain way: it builds each row (json.dumps
of the payload, a random key) and writes it into the same schema (same indexes and
triggers) with the same durability settings (WAL, synchronous=FULL). For enqueue_many the
ratio against inserting prebuilt rows, which leaves out that work, is printed as well.
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


def raw_row(n: int, stamp: str | None = None) -> tuple[object, ...]:
    """A row built the plain way: json.dumps of the payload, a random key, a timestamp."""
    stamp = stamp or time.strftime("%Y-%m-%d %H:%M:%S")
    payload = json.dumps({"endpoint": "/api/metrics", "n": n})
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


async def ours_single(folder: Path, count: int) -> float:
    queue = await fresh_queue(folder, "single")
    start = time.perf_counter()
    for n in range(count):
        await queue.enqueue("api_call", {"endpoint": "/api/metrics", "n": n})
    ours = rate(count, time.perf_counter() - start)
    await queue.close()
    return ours


async def raw_single(folder: Path, count: int) -> float:
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
    raw = rate(count, time.perf_counter() - start)
    conn.close()
    return raw


async def ours_concurrent(folder: Path, writers: int = 100, each: int = 200) -> float:
    queue = await fresh_queue(folder, "concurrent")

    async def writer(w: int) -> None:
        for n in range(each):
            await queue.enqueue("api_call", {"endpoint": "/api/metrics", "n": w * each + n})

    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    ours = rate(writers * each, time.perf_counter() - start)
    await queue.close()
    return ours


async def ours_many(folder: Path, count: int) -> float:
    queue = await fresh_queue(folder, "many")
    items = [
        {"operation_type": "api_call", "payload": {"endpoint": "/api/metrics", "n": n}}
        for n in range(count)
    ]
    start = time.perf_counter()
    await queue.enqueue_many(items)
    ours = rate(count, time.perf_counter() - start)
    await queue.close()
    return ours


async def raw_many(folder: Path, count: int) -> tuple[float, float]:
    """Raw executemany: building the rows and inserting them, and inserting alone."""
    rates = []
    for name, build_in_time in (("many-raw", True), ("many-prebuilt", False)):
        baseline_queue = await fresh_queue(folder, name)
        await baseline_queue.close()
        conn = raw_connection(folder / f"{name}.db")
        rows = [] if build_in_time else [raw_row(n) for n in range(count)]
        start = time.perf_counter()
        if build_in_time:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            rows = [raw_row(n, stamp) for n in range(count)]
        conn.execute("BEGIN")
        conn.executemany(
            f"INSERT INTO offline_operations ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows
        )
        conn.execute("COMMIT")
        rates.append(rate(count, time.perf_counter() - start))
        conn.close()
    return rates[0], rates[1]


def remove_files(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


async def throughput(folder: Path, count: int, many: int, rounds: int) -> None:
    """Each round measures ours and the baseline back to back; medians over the rounds.

    Other programs on the machine slow both sides of a round alike, so the ratio of each
    round is steadier than either rate; the figure printed is the median of those ratios.
    """
    figures: dict[str, list[tuple[float, float]]] = {
        "single": [],
        "concurrent": [],
        "many": [],
        "many-prebuilt": [],
    }
    for _ in range(rounds):
        single, raw = await ours_single(folder, count), await raw_single(folder, count)
        figures["single"].append((single, raw))
        figures["concurrent"].append((await ours_concurrent(folder), raw))
        ours = await ours_many(folder, many)
        raw_with_rows, raw_insert_only = await raw_many(folder, many)
        figures["many"].append((ours, raw_with_rows))
        figures["many-prebuilt"].append((ours, raw_insert_only))
        remove_files(folder)
    report_median("one awaited enqueue at a time", figures["single"], ">= 0.50")
    report_median(
        "100 coroutines enqueueing, each acknowledged",
        figures["concurrent"],
        ">= 15 x raw one-per-transaction",
    )
    report_median("enqueue_many", figures["many"], ">= 0.80 of raw executemany")
    report_median(
        "  the same, against inserting prebuilt rows",
        figures["many-prebuilt"],
        "none; for reference",
    )


def report_median(label: str, pairs: list[tuple[float, float]], target: str) -> None:
    ours = statistics.median(p[0] for p in pairs)
    baseline = statistics.median(p[1] for p in pairs)
    ratios = [p[0] / p[1] for p in pairs]
    ratio = statistics.median(ratios)
    print(
        f"{label:<48} {ours:>12,.0f} ops/s  baseline {baseline:>12,.0f} ops/s"
        f"  ratio {ratio:6.2f}  (target {target}; rounds {min(ratios):.2f}-{max(ratios):.2f})"
    )


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
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as name:
        folder = Path(name)
        await throughput(folder, args.count, args.many, args.rounds)
        await big_queue(folder, args.big)


if __name__ == "__main__":
    asyncio.run(main())
