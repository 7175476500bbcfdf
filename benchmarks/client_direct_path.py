"""A training loop's ``client.log_metrics`` with no app running, next to the best peer.

    .venv/bin/python benchmarks/client_direct_path.py [--calls 1000] [--rounds 5]

Without an app the client writes straight into the queue database, committing each call
durably (WAL, ``synchronous=FULL``) before it returns. The peer is persist-queue's
``SQLiteAckQueue.put`` (WAL, SQLite's default synchronous), the fastest durable local queue
of its kind, given the same payload in the same process; the rounds alternate between the
two so that a busy disk or CPU weighs on both alike. The buffered client
(``durability="buffered"``) is measured too, with a bare loop that only builds the payload.

Targets: the durable call's median at most 1.0x persist-queue's and its p99 at most 1.5x;
the buffered call's median under 50 us. Exits 1 when a target is missed, 2 when
persist-queue is not installed (``.venv/bin/pip install -e '.[bench]'``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WARM_UP = 50
MEDIAN_TARGET = 1.0
P99_TARGET = 1.5
BUFFERED_MEDIAN_TARGET_MS = 0.05


def payload(step: int) -> dict[str, Any]:
    return {"run_id": "run-bench", "metrics": {"loss": 1.0 / (step + 1), "lr": 3e-4}, "step": step}


def timed(call: Callable[[int], object], first_step: int, calls: int) -> list[float]:
    """Milliseconds of each call."""
    times = []
    clock = time.perf_counter
    for step in range(first_step, first_step + calls):
        began = clock()
        call(step)
        times.append((clock() - began) * 1000)
    return times


def percentile(times: list[float], fraction: float) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def describe(times: list[float]) -> str:
    return (
        f"median {statistics.median(times):7.3f} ms, p99 {percentile(times, 0.99):7.3f} ms,"
        f" max {max(times):7.2f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000, help="calls per round and path")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    try:
        from persistqueue import SQLiteAckQueue  # type: ignore[import-untyped]
    except ImportError:
        print("persist-queue is missing: .venv/bin/pip install -e '.[bench]'", file=sys.stderr)
        return 2

    from peft_studio_offline.client import OfflineClient

    results: dict[str, list[float]] = {"bare": [], "peer": [], "durable": [], "buffered": []}
    with tempfile.TemporaryDirectory(dir=Path.home()) as folder:
        home = Path(folder)
        peer = SQLiteAckQueue(str(home / "peer"), auto_commit=True)
        durable = OfflineClient(db_path=home / "durable.db", use_api=False)
        buffered = OfflineClient(db_path=home / "buffered.db", use_api=False, durability="buffered")

        def log(client: OfflineClient) -> Callable[[int], object]:
            def call(step: int) -> object:
                data = payload(step)
                return client.log_metrics(data["run_id"], data["metrics"], step=step)

            return call

        paths: dict[str, Callable[[int], object]] = {
            "bare": payload,
            "peer": lambda step: peer.put(payload(step)),
            "durable": log(durable),
            "buffered": log(buffered),
        }
        for call in paths.values():
            timed(call, 0, WARM_UP)
        step = WARM_UP
        for _ in range(args.rounds):
            for name, call in paths.items():
                results[name] += timed(call, step, args.calls)
            step += args.calls
        durable.close()
        buffered.close()
        expected = WARM_UP + args.rounds * args.calls
        counts = {name: _stored(home / f"{name}.db") for name in ("durable", "buffered")}

    calls = args.rounds * args.calls
    print(f"One log call per step, {calls:,} calls per path in {args.rounds} alternating rounds")
    print(f"  bare loop (builds the payload):        {describe(results['bare'])}")
    print(f"  persist-queue SQLiteAckQueue.put:      {describe(results['peer'])}")
    print(f"  client.log_metrics, durable (default): {describe(results['durable'])}")
    print(f"  client.log_metrics, buffered:          {describe(results['buffered'])}")
    median_ratio = statistics.median(results["durable"]) / statistics.median(results["peer"])
    p99_ratio = percentile(results["durable"], 0.99) / percentile(results["peer"], 0.99)
    buffered_median = statistics.median(results["buffered"])
    print(f"  durable / persist-queue: median {median_ratio:.2f}x (target <= {MEDIAN_TARGET}x),")
    print(f"                           p99    {p99_ratio:.2f}x (target <= {P99_TARGET}x)")
    print(
        f"  buffered median {buffered_median * 1000:.1f} us"
        f" (target < {BUFFERED_MEDIAN_TARGET_MS * 1000:.0f} us)"
    )
    missed = []
    if median_ratio > MEDIAN_TARGET:
        missed.append("the durable median")
    if p99_ratio > P99_TARGET:
        missed.append("the durable p99")
    if buffered_median > BUFFERED_MEDIAN_TARGET_MS:
        missed.append("the buffered median")
    for name, count in counts.items():
        if count != expected:
            missed.append(f"{name}: {count} of {expected} points stored")
    if missed:
        print("MISSED: " + "; ".join(missed))
        return 1
    print("All targets met.")
    return 0


def _stored(db: Path) -> int:
    import sqlite3

    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM offline_operations").fetchone()[0])


if __name__ == "__main__":
    raise SystemExit(main())
