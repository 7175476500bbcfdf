"""What encrypting queued secrets costs the payloads that have none, and those that have.

    .venv/bin/python benchmarks/sealing_cost.py [--rounds 20000]

A training loop's metric log carries no secret: storing it in a queue with a sealer (as
every app's queue has) must cost about what it costs without one. The figure that counts is
the training client's ``log_metrics`` writing straight into the database, with the sealer
and with it taken off the same client's queue (target: ratio ≤ 1.05). For reference: the
encoding step alone, where the look for secrets happens (about a microsecond), the same on
``enqueue_many``, where a microsecond is a larger share of each operation, and a payload
with an ``Authorization`` header, which pays for its encryption. Figures are printed with
their targets; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peft_studio_offline.core.credentials import CredentialStore
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.queue._codec import encode_payload
from peft_studio_offline.core.sealing import PayloadSealer, seal_with

METRIC = {
    "run_id": "run-bench",
    "metrics": [
        {"key": "loss", "value": 0.31, "timestamp": 1_700_000_000_000, "step": 10},
        {"key": "lr", "value": 3e-4, "timestamp": 1_700_000_000_000, "step": 10},
    ],
    "step": 10,
}
SECRET = {
    "url": "https://studio.example.org/api/runs",
    "method": "POST",
    "headers": {"Authorization": "Bearer bench-token-0123456789", "X-Team": "nlp"},
    "data": {"name": "lora"},
}


def per_call(function: Callable[[], Any], rounds: int) -> float:
    """Best of five: microseconds per call."""
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(rounds):
            function()
        best = min(best, (time.perf_counter() - began) / rounds * 1e6)
    return best


async def enqueue_many_rate(folder: Path, name: str, count: int, sealer: Any) -> float:
    """Operations per second stored by ``enqueue_many`` of ``count`` metric logs."""
    items = [{"operation_type": "metric_log", "payload": METRIC} for _ in range(count)]
    best = 0.0
    for round_ in range(3):
        async with OfflineQueueManager(folder / f"{name}-{round_}.db", sealer=sealer) as queue:
            await queue.enqueue_many(items[:10])
            began = time.perf_counter()
            await queue.enqueue_many(items)
            best = max(best, count / (time.perf_counter() - began))
    return best


def client_latencies(folder: Path, calls: int) -> tuple[float, float]:
    """Median milliseconds of ``log_metrics`` straight into the database: with the app's
    sealer, then with the same client's queue storing payloads as given."""
    from peft_studio_offline.client import OfflineClient

    medians = []
    for name in ("sealed", "plain"):
        with OfflineClient(db_path=folder / f"client-{name}.db", use_api=False) as client:
            client.log_metrics("run-bench", {"loss": 1.0}, step=0)  # opens the queue
            if name == "plain":
                queue = client._direct._runtime.queue  # type: ignore[union-attr]
                queue._seal_new = None
            times = []
            for step in range(calls):
                began = time.perf_counter()
                client.log_metrics("run-bench", {"loss": 1.0 / (step + 1), "lr": 3e-4}, step=step)
                times.append((time.perf_counter() - began) * 1000)
        medians.append(sorted(times)[len(times) // 2])
    return medians[0], medians[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20000)
    rounds = parser.parse_args().rounds
    with tempfile.TemporaryDirectory() as folder:
        store = CredentialStore(AppPaths.under(Path(folder)), "file")
        seal = seal_with(PayloadSealer(store), fresh=True)
        plain = per_call(lambda: encode_payload(METRIC, 0), rounds)
        sealed = per_call(lambda: encode_payload(METRIC, 0, seal), rounds)
        print(
            f"metric log, encoded: {plain:.2f} µs without a sealer, {sealed:.2f} µs with one:"
            f" ratio {sealed / plain:.2f} (the look for secrets; reference)"
        )
        secret = per_call(lambda: encode_payload(SECRET, 0, seal), rounds // 10)
        print(f"api_call with an Authorization header, encoded and encrypted: {secret:.1f} µs")
        count = rounds
        without = asyncio.run(enqueue_many_rate(Path(folder), "plain", count, None))
        with_sealer = asyncio.run(
            enqueue_many_rate(Path(folder), "sealed", count, PayloadSealer(store))
        )
        print(
            f"enqueue_many of {count} metric logs: {without:,.0f}/s without a sealer,"
            f" {with_sealer:,.0f}/s with one: ratio {without / with_sealer:.2f} (reference)"
        )
        sealed_ms, plain_ms = client_latencies(Path(folder), min(rounds, 2000))
        print(
            f"client.log_metrics into the database, median: {plain_ms:.3f} ms without a"
            f" sealer, {sealed_ms:.3f} ms with one: ratio {sealed_ms / plain_ms:.2f}"
            " (target ≤ 1.05)"
        )


if __name__ == "__main__":
    main()
