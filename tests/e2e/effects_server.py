"""A remote service that counts effects per ``Idempotency-Key``, for the fault scenarios.

Used two ways:

- in the test process: ``CountingApp()`` under ``tests.support.asgi.AsgiServer`` (state
  outlives ``stop()``/``start()``, as a real service's database would);
- as its own process (inside a network namespace, or to be killed):
  ``python effects_server.py --host H --port P [--delay S]``; it prints ``listening`` once
  it accepts connections.

Every POST/PUT takes effect once per key and replays the stored answer after that.
``GET /__effects`` answers what the service saw, so a test can count what was lost or
doubled: ``effects`` (applications per key), ``requests`` (deliveries per key) and
``applied`` (how often each payload's ``data.n`` took effect, which also catches a client
that changes its key between attempts). ``GET /health`` answers 200 for the monitor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from collections import Counter
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make ``tests.support`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.sync_apps import EffectsApp, Seen, Send, reply


class CountingApp(EffectsApp):
    """``EffectsApp`` plus per-key delivery counts and per-``n`` effect counts."""

    def __init__(self, *, delay: float = 0.0) -> None:
        super().__init__(delay=delay)
        self.requests: Counter[str | None] = Counter()

    async def handle(self, request: Seen, send: Send) -> None:
        if request.method == "GET" and request.path == "/__effects":
            await reply(send, 200, self.report())
            return
        if request.method != "GET":
            with self.lock:
                self.requests[request.key] += 1
        await super().handle(request, send)

    def report(self) -> dict[str, Any]:
        with self.lock:
            applied: Counter[str] = Counter()
            for _path, body in self.applied:
                if isinstance(body, dict) and "n" in body:
                    applied[str(body["n"])] += 1
            return {
                "effects": {str(k): v for k, v in self.effects.items()},
                "requests": {str(k): v for k, v in self.requests.items()},
                "applied": dict(applied),
            }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.0)
    args = parser.parse_args()

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    config = uvicorn.Config(
        CountingApp(delay=args.delay),
        lifespan="off",
        ws="none",
        http="h11",
        log_level="critical",
        access_log=False,
    )
    server = uvicorn.Server(config)

    async def serve() -> None:
        task = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if task.done():
                task.result()
                return
            await asyncio.sleep(0.01)
        print(json.dumps({"event": "listening", "port": args.port}), flush=True)
        await task

    asyncio.run(serve())


if __name__ == "__main__":
    main()
