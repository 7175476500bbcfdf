"""The app's core, headless, in its own process: a queue file, a network monitor, a sync engine.

The fault scenarios kill it, start it again, and run two of it at once. It speaks JSON
lines on stdout, each with ``t`` (Unix time, the clock the test shares):

- ``{"event": "ready"}`` once the queue is open (work a dead process held is pending again);
- ``{"event": "status", "old": ..., "new": ...}`` on every change the monitor reports;
- ``{"event": "run", "result": {...}}`` after each sync run (``drain`` mode);
- ``{"event": "done", "stats": {...}}`` when nothing is left to send, or the time is up.

Modes: ``drain`` runs ``SyncEngine.sync()`` again and again, as the ``sync`` command does,
until nothing is pending; ``auto`` starts monitoring and automatic sync, as ``serve`` does,
and waits until nothing is pending (with ``--until-drained``) or ``--max-seconds`` pass.

    python engine_process.py drain DB [--health URL] [options]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine


def emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, "t": time.time(), **fields}), flush=True)


Core = tuple[OfflineQueueManager, NetworkMonitor | None, SyncEngine]


def build(args: argparse.Namespace) -> Core:
    settings = Settings.load()
    settings = dataclasses.replace(
        settings,
        sync=dataclasses.replace(
            settings.sync,
            auto_sync=args.mode == "auto",
            request_timeout=args.request_timeout,
            concurrency=args.concurrency,
            batch_size=args.batch_size,
        ),
    )
    queue = OfflineQueueManager(
        args.db,
        max_attempts=args.max_attempts,
        lease_seconds=args.lease_seconds,
        backoff_base=args.backoff_base,
        backoff_cap=args.backoff_cap,
    )
    monitor = None
    if args.health:
        monitor = NetworkMonitor(
            [args.health],
            check_interval=args.check_interval,
            timeout=args.check_timeout,
            failure_threshold=1,
            backoff_initial=min(0.2, args.check_interval),
            settings=settings,
        )
    engine = SyncEngine(
        queue,
        monitor,
        settings=settings,
        credentials=lambda _name: None,
        breaker_cooldown=args.breaker_cooldown,
        idle_poll=0.5,
    )
    return queue, monitor, engine


async def drained(queue: OfflineQueueManager) -> tuple[bool, dict[str, int]]:
    stats = await queue.get_queue_stats()
    return stats["pending"] == 0 and stats["in_progress"] == 0, stats


async def run(args: argparse.Namespace) -> None:
    queue, monitor, engine = build(args)
    deadline = time.monotonic() + args.max_seconds
    await queue.open()
    if monitor is not None:

        def on_status(old: NetworkStatus, new: NetworkStatus) -> None:
            emit("status", old=old.value, new=new.value)

        monitor.add_callback(on_status)
    emit("ready")
    try:
        if args.mode == "drain":
            while time.monotonic() < deadline:
                result = await engine.sync()
                emit("run", result={k: v for k, v in result.items() if k != "errors"})
                done, _stats = await drained(queue)
                if done:
                    break
                if not result["total"]:
                    await asyncio.sleep(0.1)  # nothing due yet: a retry waits for its backoff
        else:
            assert monitor is not None, "auto mode needs --health"
            await monitor.start_monitoring()
            await engine.start_auto_sync()
            while time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                if args.until_drained and (await drained(queue))[0]:
                    break
        status = engine.get_status()
        emit(
            "done",
            stats=(await drained(queue))[1],
            running=status["running"],
            progress=status["progress"],
            network=status["network_status"],
        )
    finally:
        await engine.close()
        if monitor is not None:
            await monitor.stop_monitoring()
            await monitor.aclose()
        await queue.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("mode", choices=("drain", "auto"))
    parser.add_argument("db")
    parser.add_argument("--health", help="URL the network monitor probes")
    parser.add_argument("--check-interval", type=float, default=0.25)
    parser.add_argument("--check-timeout", type=float, default=0.5)
    parser.add_argument("--request-timeout", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--max-attempts", type=int, default=5)
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    parser.add_argument("--backoff-base", type=float, default=0.5)
    parser.add_argument("--backoff-cap", type=float, default=2.0)
    parser.add_argument("--breaker-cooldown", type=float, default=1.0)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--until-drained", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
