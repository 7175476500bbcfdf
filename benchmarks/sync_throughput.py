"""Sync throughput next to a raw httpx client doing the same requests, in one run.

    .venv/bin/python benchmarks/sync_throughput.py [--count 3000] [--concurrency 8]

1. Trivial operations against a loopback server: the engine (claim, send, record each
   outcome durably) next to raw httpx sending the same POSTs at the same concurrency, one
   long-lived client per worker in both. Target: at least 0.8 of the raw rate.
2. With 20 ms of server-side latency: the engine at high concurrency next to one request
   at a time. Target: at least 20 times the sequential rate.

The server runs in a separate process (uvicorn, one worker) so that this process measures
the client side only. Figures are printed; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
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


async def raw_rate(server: Server, count: int, concurrency: int) -> float:
    """Raw httpx: the same POSTs, same headers and body, same concurrency."""
    todo = iter(range(count))
    clients = [httpx.AsyncClient() for _ in range(concurrency)]
    for client in clients:  # connections open before the clock starts, as for the engine
        await client.get(server.url("/warm"))

    async def worker(client: httpx.AsyncClient) -> None:
        for n in todo:
            response = await client.post(
                server.url(f"/items/{n}"),
                json={"n": n},
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


async def engine_rate(server: Server, count: int, concurrency: int, folder: Path) -> float:
    """The sync engine draining ``count`` queued API calls to the same server."""
    path = folder / f"bench-{time.monotonic_ns()}.db"
    async with OfflineQueueManager(path) as queue:
        items = [
            {"operation_type": "api_call",
             "payload": {"url": server.url(f"/items/{n}"), "method": "POST", "data": {"n": n}}}
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


def report(label: str, ours: float, baseline: float, target: str) -> None:
    print(
        f"{label:<46} {ours:>9,.0f} ops/s  baseline {baseline:>9,.0f} ops/s"
        f"  ratio {ours / baseline:6.2f}  (target {target})",
        flush=True,
    )


async def best_of(rounds: int, *measures: Any) -> list[float]:
    """Each measure's best rate over ``rounds`` interleaved rounds (the machine is shared)."""
    best = [0.0] * len(measures)
    for _ in range(rounds):
        for index, measure in enumerate(measures):
            best[index] = max(best[index], await measure())
    return best


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        count, concurrency = args.count, args.concurrency
        server = Server(latency=0.0)
        try:
            raw, ours = await best_of(
                args.rounds,
                lambda: raw_rate(server, count, concurrency),
                lambda: engine_rate(server, count, concurrency, folder),
            )
            report(
                f"loopback, concurrency {concurrency}, engine vs raw httpx", ours, raw, ">= 0.80"
            )
        finally:
            server.close()

        server = Server(latency=0.020)
        try:
            sequential, ours = await best_of(
                args.rounds,
                lambda: raw_rate(server, 50, 1),
                lambda: engine_rate(server, args.latency_count, args.latency_concurrency, folder),
            )
            report(
                f"20 ms latency, engine at {args.latency_concurrency} vs sequential",
                ours,
                sequential,
                ">= 20",
            )
        finally:
            server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--latency-count", type=int, default=3000)
    parser.add_argument("--latency-concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3, help="best of this many rounds")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve)
    else:
        asyncio.run(main(arguments))
