"""Sync throughput next to a raw httpx client doing the same requests, in one run.

    .venv/bin/python benchmarks/sync_throughput.py [--count 1200] [--rounds 3]

Every operation is what people queue: a POST with about 300 bytes of nested JSON, sent to
one collection URL (``/api/metrics``, the common case) or to a URL of its own.

1. Loopback, concurrency 8: the engine (claim, send, record each outcome durably) next to
   raw httpx sending the same POSTs at the same concurrency, one long-lived client per
   worker in both. Target: at least 0.8 of the raw rate.
2. 20 ms of server-side latency, concurrency 32: the engine next to raw httpx at the same
   concurrency (like with like), and next to one request at a time. Target: at least 20
   times the sequential rate.

The server runs in a separate process (uvicorn, one worker) so that this process measures
the client side only. Each figure is the median of its rounds, with their spread; the
script exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from _loopback import serve_app

from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A trivial service: reads the request, answers 201 after the configured latency."""
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    latency = float(os.environ.get("BENCH_LATENCY", "0"))
    if latency:
        await asyncio.sleep(latency)
    await send({"type": "http.response.start", "status": 201,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", b"2")]})  # fmt: skip
    await send({"type": "http.response.body", "body": b"{}"})


def serve(port: int) -> None:
    serve_app("sync_throughput", port)


class Server:
    """The benchmark server in its own process."""

    def __init__(self, latency: float) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**os.environ, "BENCH_LATENCY": str(latency)}
        self.process = subprocess.Popen(
            [sys.executable, __file__, "--serve", str(self.port)], env=env
        )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url("/ready"), timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise RuntimeError("The benchmark server did not start.")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)


def body(n: int) -> dict[str, Any]:
    """About 300 bytes of nested JSON, as a metrics or model service receives."""
    return {
        "run_id": "run-42",
        "step": n,
        "metrics": {"loss": 1.0 / (n + 1), "lr": 2e-4, "grad_norm": 0.87},
        "config": {"r": 16, "alpha": 32, "dropout": 0.05, "targets": ["q_proj", "v_proj"]},
        "tags": ["peft", "lora"],
        "note": "evaluation pending; checkpoint saved to the local disk for now",
    }


def target_path(n: int, one_collection: bool) -> str:
    return "/api/metrics" if one_collection else f"/api/metrics/{n}"


async def raw_rate(server: Server, count: int, concurrency: int, one_collection: bool) -> float:
    """Raw httpx: the same POSTs, same headers and body, same concurrency."""
    todo = iter(range(count))
    clients = [httpx.AsyncClient() for _ in range(concurrency)]
    for client in clients:  # connections open before the clock starts, as for the engine
        await client.get(server.url("/warm"))

    async def worker(client: httpx.AsyncClient) -> None:
        for n in todo:
            response = await client.post(
                server.url(target_path(n, one_collection)),
                json=body(n),
                headers={"Idempotency-Key": os.urandom(16).hex()},
            )
            response.raise_for_status()

    try:
        started = time.perf_counter()
        await asyncio.gather(*(worker(c) for c in clients))
        return count / (time.perf_counter() - started)
    finally:
        for client in clients:
            await client.aclose()


async def engine_rate(
    server: Server, count: int, concurrency: int, folder: Path, one_collection: bool
) -> float:
    """The sync engine draining ``count`` queued API calls to the same server."""
    path = folder / f"bench-{time.monotonic_ns()}.db"
    async with OfflineQueueManager(path) as queue:
        items = [
            {"operation_type": "api_call",
             "payload": {"url": server.url(target_path(n, one_collection)), "method": "POST",
                         "data": body(n)}}
            for n in range(count)
        ]  # fmt: skip
        async with SyncEngine(
            queue, None, concurrency=concurrency, batch_size=max(100, 4 * concurrency)
        ) as engine:
            await queue.enqueue("api_call", {"url": server.url("/warm"), "method": "POST"})
            await engine.sync()  # clients made, connections open
            await queue.enqueue_many(items)
            started = time.perf_counter()
            result = await engine.sync()
            elapsed = time.perf_counter() - started
        if result["completed"] != count:
            raise RuntimeError(f"The engine completed {result['completed']} of {count}.")
    return count / elapsed


class Report:
    def __init__(self) -> None:
        self.missed: list[str] = []

    def line(
        self, label: str, ours: list[float], baseline: list[float], target: float | None
    ) -> None:
        ratios = [o / b for o, b in zip(ours, baseline, strict=True)]
        ratio = statistics.median(ratios)
        verdict = "for reference"
        if target is not None:
            verdict = f"target >= {target:g}: " + ("met" if ratio >= target else "MISSED")
            if ratio < target:
                self.missed.append(label)
        print(
            f"{label:<62} {statistics.median(ours):>8,.0f} ops/s"
            f"  baseline {statistics.median(baseline):>8,.0f} ops/s  ratio {ratio:6.2f}"
            f"  rounds {min(ratios):.2f}-{max(ratios):.2f}  ({verdict})",
            flush=True,
        )


async def rounds_of(rounds: int, *measures: Any) -> list[list[float]]:
    """Each measure's rate in each of ``rounds`` interleaved rounds (the machine is shared)."""
    rates: list[list[float]] = [[] for _ in measures]
    for _ in range(rounds):
        for index, measure in enumerate(measures):
            rates[index].append(await measure())
    return rates


async def main(args: argparse.Namespace) -> int:
    report = Report()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        count = args.count
        server = Server(latency=0.0)
        try:
            for one, where in ((True, "one collection URL"), (False, "distinct URLs")):
                raw, ours = await rounds_of(
                    args.rounds,
                    partial(raw_rate, server, count, 8, one),
                    partial(engine_rate, server, count, 8, folder, one),
                )
                report.line(f"loopback, {where}, concurrency 8, vs raw httpx", ours, raw, 0.80)
        finally:
            server.close()

        server = Server(latency=0.020)
        try:
            for one, where in ((True, "one collection URL"), (False, "distinct URLs")):
                sequential, raw, ours = await rounds_of(
                    args.rounds,
                    partial(raw_rate, server, 50, 1, one),
                    partial(raw_rate, server, count, 32, one),
                    partial(engine_rate, server, count, 32, folder, one),
                )
                label = f"20 ms latency, {where}, concurrency 32, vs sequential"
                report.line(label, ours, sequential, 20.0)
                report.line("  the same, vs raw httpx at concurrency 32", ours, raw, None)
        finally:
            server.close()
    if report.missed:
        print("Missed: " + "; ".join(report.missed))
        return 1
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1200)
    parser.add_argument("--rounds", type=int, default=3, help="the median of this many rounds")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve)
    else:
        sys.exit(asyncio.run(main(arguments)))
