"""Queue throughput next to raw sqlite3 doing the same work, measured in one run.

    .venv/bin/python benchmarks/queue_throughput.py [--big 1000000] [--rounds 5] [--folder DIR]

Every figure is printed next to its baseline as a ratio, with the target from the queue's
issue. The payloads are the ones people queue: the spec's metric_log shape (a run, two metrics, a
step, a 200-character note), an api_call with about 300 bytes of nested data, and a 64 KB
report; a tiny flat payload is kept as a line for reference. The raw baseline does the same
work the plain way: it builds each row (json.dumps of the payload, a time-ordered key made
as the queue makes its own) and writes it into the same schema (same indexes and triggers)
with the same durability settings (WAL, synchronous=FULL). The script exits 1 when a figure
misses its target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from peft_studio_offline import OfflineQueueManager
from peft_studio_offline.core.storage_budget import StorageBudget

COLUMNS = (
    "operation_type, payload, status, created_at, updated_at, retry_count, priority,"
    " idempotency_key, max_attempts, next_attempt_at"
)

NOTE = "Fine-tuned with r=16, alpha=32 on the instruction set; evaluation pending. " * 3


def metric_log(n: int) -> dict[str, object]:
    """The spec's metric_log shape: a run, two metrics, a step and a 200-character note."""
    return {
        "run_id": "run-42",
        "metrics": {"loss": 1.0 / (n + 1), "lr": 2e-4},
        "step": n,
        "note": NOTE[:200],
    }


def api_call(n: int) -> dict[str, object]:
    """An api_call whose nested ``data`` is about 300 bytes."""
    return {
        "endpoint": "/api/models",
        "method": "POST",
        "data": {
            "name": f"lora-{n}",
            "config": {"r": 16, "alpha": 32, "dropout": 0.05, "targets": ["q_proj", "v_proj"]},
            "metrics": {"eval_loss": 0.42, "accuracy": 0.871},
            "tags": ["peft", "lora", "llama"],
            "description": NOTE[:120],
        },
    }


def large(n: int) -> dict[str, object]:
    """One 64 KB payload: an evaluation report with many rows (compressed when stored)."""
    rows = [
        {"i": i, "score": (i * 7919 + n) % 1000 / 1000, "label": f"item-{i}"} for i in range(1300)
    ]
    return {"endpoint": "/api/reports", "method": "POST", "data": {"rows": rows}}


def tiny(n: int) -> dict[str, object]:
    return {"endpoint": "/api/metrics", "n": n}


SHAPES = {"metric_log": metric_log, "api_call": api_call, "64 KB": large, "tiny": tiny}
TYPES = {
    "metric_log": "metric_log",
    "api_call": "api_call",
    "64 KB": "api_call",
    "tiny": "api_call",
}


def raw_key() -> str:
    """Made as the queue makes a key: time-ordered, so new keys go to the end of the index."""
    return f"{time.time_ns() // 1000:014x}{int.from_bytes(os.urandom(9)):018x}"


def raw_row(shape: str, n: int, stamp: str | None = None) -> tuple[object, ...]:
    """A row built the plain way: json.dumps of the payload, a key, a timestamp."""
    stamp = stamp or time.strftime("%Y-%m-%d %H:%M:%S")
    payload = json.dumps(SHAPES[shape](n))
    return (TYPES[shape], payload, "pending", stamp, stamp, 0, 0, raw_key(), 5, time.time())


def raw_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    return conn


async def fresh_queue(folder: Path, name: str, *, budget: bool = False) -> OfflineQueueManager:
    path = folder / f"{name}.db"
    # A budget never reached: each insert still measures the files against it.
    measured = StorageBudget.for_queue(2**50, path, folder, folder / "logs") if budget else None
    queue = OfflineQueueManager(path, storage_budget=measured)
    await queue.open()
    return queue


def rate(count: int, seconds: float) -> float:
    return count / seconds


async def ours_single(folder: Path, shape: str, count: int, *, budget: bool = False) -> float:
    queue = await fresh_queue(folder, "single-budget" if budget else "single", budget=budget)
    make, kind = SHAPES[shape], TYPES[shape]
    start = time.perf_counter()
    for n in range(count):
        await queue.enqueue(kind, make(n))
    ours = rate(count, time.perf_counter() - start)
    await queue.close()
    return ours


async def raw_single(folder: Path, shape: str, count: int) -> float:
    baseline_queue = await fresh_queue(folder, "single-raw")  # same schema, then raw writes
    await baseline_queue.close()
    conn = raw_connection(folder / "single-raw.db")
    start = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN")
        conn.execute(
            f"INSERT INTO offline_operations ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",
            raw_row(shape, n),
        )
        conn.execute("COMMIT")
    raw = rate(count, time.perf_counter() - start)
    conn.close()
    return raw


async def ours_concurrent(folder: Path, shape: str, writers: int = 100, each: int = 200) -> float:
    queue = await fresh_queue(folder, "concurrent")
    make, kind = SHAPES[shape], TYPES[shape]

    async def writer(w: int) -> None:
        for n in range(each):
            await queue.enqueue(kind, make(w * each + n))

    start = time.perf_counter()
    await asyncio.gather(*(writer(w) for w in range(writers)))
    ours = rate(writers * each, time.perf_counter() - start)
    await queue.close()
    return ours


async def ours_many(folder: Path, shape: str, count: int) -> float:
    queue = await fresh_queue(folder, "many")
    make, kind = SHAPES[shape], TYPES[shape]
    items = [{"operation_type": kind, "payload": make(n)} for n in range(count)]
    start = time.perf_counter()
    await queue.enqueue_many(items)
    ours = rate(count, time.perf_counter() - start)
    await queue.close()
    return ours


async def raw_many(folder: Path, shape: str, count: int) -> float:
    """Raw executemany, json.dumps of each row inside the timed section, as enqueue_many."""
    baseline_queue = await fresh_queue(folder, "many-raw")
    await baseline_queue.close()
    conn = raw_connection(folder / "many-raw.db")
    make = SHAPES[shape]
    payloads = [make(n) for n in range(count)]  # both sides get their payloads made
    start = time.perf_counter()
    stamp = time.strftime("%Y-%m-%d %H:%M:%S")
    kind = TYPES[shape]
    rows = [
        (kind, json.dumps(p), "pending", stamp, stamp, 0, 0, raw_key(), 5, time.time())
        for p in payloads
    ]
    conn.execute("BEGIN")
    conn.executemany(
        f"INSERT INTO offline_operations ({COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)", rows
    )
    conn.execute("COMMIT")
    raw = rate(count, time.perf_counter() - start)
    conn.close()
    return raw


def remove_files(folder: Path) -> None:
    for path in folder.iterdir():
        path.unlink()


async def throughput(folder: Path, count: int, many: int, rounds: int) -> list[str]:
    """Each round measures ours and the baseline back to back; medians over the rounds.

    Other programs on the machine slow both sides of a round alike, so the ratio of each
    round is steadier than either rate; the figure printed is the median of those ratios.
    Returns the figures that missed their targets.
    """
    figures: dict[str, list[tuple[float, float]]] = {}

    def add(name: str, pair: tuple[float, float]) -> None:
        figures.setdefault(name, []).append(pair)

    for _ in range(rounds):
        raw = await raw_single(folder, "metric_log", count)
        add("single", (await ours_single(folder, "metric_log", count), raw))
        without = await ours_single(folder, "metric_log", count)
        add("budget", (await ours_single(folder, "metric_log", count, budget=True), without))
        add("concurrent", (await ours_concurrent(folder, "metric_log"), raw))
        for shape in SHAPES:
            size = many if shape != "64 KB" else max(1, many // 50)
            ours = await ours_many(folder, shape, size)
            add(f"many {shape}", (ours, await raw_many(folder, shape, size)))
        remove_files(folder)
    missed: list[str] = []
    report("one awaited enqueue at a time (metric_log)", figures["single"], 0.50, missed)
    report(
        "one at a time, under a storage budget",
        figures["budget"],
        0.90,
        missed,
        "of no budget",
    )
    report(
        "100 coroutines enqueueing metric_log, each acked",
        figures["concurrent"],
        15.0,
        missed,
        "x raw one-per-transaction",
    )
    report("enqueue_many, metric_log", figures["many metric_log"], 0.80, missed)
    report("enqueue_many, api_call with nested data", figures["many api_call"], 0.80, missed)
    report("enqueue_many, 64 KB payloads", figures["many 64 KB"], 0.80, missed)
    report("enqueue_many, tiny flat payload (reference)", figures["many tiny"], None, missed)
    return missed


def report(
    label: str,
    pairs: list[tuple[float, float]],
    target: float | None,
    missed: list[str],
    unit: str = "of raw",
) -> None:
    ours = statistics.median(p[0] for p in pairs)
    baseline = statistics.median(p[1] for p in pairs)
    ratios = [p[0] / p[1] for p in pairs]
    ratio = statistics.median(ratios)
    verdict = "none; for reference"
    if target is not None:
        met = ratio >= target
        verdict = f">= {target:g} {unit}: {'met' if met else 'MISSED'}"
        if not met:
            missed.append(label)
    print(
        f"{label:<50} {ours:>10,.0f} ops/s  baseline {baseline:>10,.0f} ops/s"
        f"  ratio {ratio:6.2f}  rounds {min(ratios):.2f}-{max(ratios):.2f}  (target {verdict})"
    )


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


async def big_queue(folder: Path, count: int) -> list[str]:
    path = folder / "big.db"
    queue = await fresh_queue(folder, "big")
    chunk = 100_000
    for start in range(0, count, chunk):
        await queue.enqueue_many(
            [
                {"operation_type": "metric_log", "payload": metric_log(n)}
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
    claim_met, stats_met = claim_ms <= 2.0, stats_ms <= 1.0
    print(
        f"{'claim 100 of ' + format(count, ',') + ' (half completed)':<50} {claim_ms:10.2f} ms"
        f"     raw SELECT of 100 pending {plain_select * 1000:8.2f} ms"
        f"  (target <= 2 ms: {'met' if claim_met else 'MISSED'})"
    )
    print(
        f"{'queue stats on ' + format(count, ',') + ' operations':<50} {stats_ms:10.3f} ms"
        f"     GROUP BY over the table  {group_by * 1000:8.1f} ms"
        f"  (target <= 1 ms: {'met' if stats_met else 'MISSED'})"
    )
    return [name for name, met in (("claim", claim_met), ("stats", stats_met)) if not met]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--many", type=int, default=60_000)
    parser.add_argument("--big", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as name:
        folder = Path(name)
        missed = await throughput(folder, args.count, args.many, args.rounds)
        missed += await big_queue(folder, args.big)
    if missed:
        print("Missed: " + "; ".join(missed))
        sys.exit(1)


if __name__ == "__main__":
    asyncio.run(main())
