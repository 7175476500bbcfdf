"""Flapping network: the target server goes away and comes back at random while a sync runs.

The engine runs in its own process with monitoring and automatic sync on (as ``serve``
runs it); the server is stopped (gracefully or abruptly) and started again every 0.2-2 s,
with every sixth outage held for 2-3 s.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.queue import OfflineQueueManager
from tests.e2e import harness
from tests.e2e.effects_server import CountingApp
from tests.support.asgi import AsgiServer
from tests.support.sqlite_files import connected

OPERATIONS = 2000
FLAP_SECONDS = 60.0
CHECK_INTERVAL = 0.25
CHECK_TIMEOUT = 0.5
SLACK = 1.0  # scheduling delays of a loaded machine, on top of a check's own time


Timeline = list[tuple[float, str]]  # (time, "up" | "down" | "changing"), starting up


def was_ever(timeline: Timeline, state: str, start: float, end: float) -> bool:
    """Whether the server was in ``state`` (or between states) at some time in [start, end]."""
    current = "up"
    for when, value in timeline:
        if when > start:
            break
        current = value
    states = {current} | {value for when, value in timeline if start <= when <= end}
    return state in states or "changing" in states


@pytest.mark.slow
async def test_flapping_server_loses_nothing_and_the_monitor_follows(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    app = CountingApp(delay=0.1)  # slow enough for the sync to span the whole window
    server = AsgiServer(app, graceful_timeout=0.5).start()
    try:
        base = server.url("").rstrip("/")
        await harness.enqueue_posts(db, base, OPERATIONS)
        child = harness.engine(
            "auto", db, "--health", f"{base}/health", "--until-drained",
            "--check-interval", str(CHECK_INTERVAL), "--check-timeout", str(CHECK_TIMEOUT),
            "--request-timeout", "2", "--max-seconds", str(FLAP_SECONDS + 60),
        )  # fmt: skip
        child.wait_for("ready", 30)
        timeline: Timeline = []
        outages = 0
        end = time.monotonic() + FLAP_SECONDS
        while time.monotonic() < end:
            # Every sixth outage lasts 2-3 s, longer than a check takes to notice it, so that
            # each run measures whether the monitor followed; the rest are 0.2-2 s at random.
            long_one = not server.running and outages % 6 == 1
            time.sleep(rng.uniform(2.0, 3.0) if long_one else rng.uniform(0.2, 2.0))
            # Between the call and its return the server may still answer, or already does.
            timeline.append((time.time(), "changing"))
            if server.running:
                server.kill() if rng.random() < 0.5 else server.stop()
                timeline.append((time.time(), "down"))
                outages += 1
            else:
                server.start()
                timeline.append((time.time(), "up"))
        delivered_while_flapping = len(app.effects)
        if not server.running:
            timeline.append((time.time(), "changing"))
            server.start()
            timeline.append((time.time(), "up"))
        done = child.wait_for("done", 90)  # the child gives up first
        assert child.finish(30) == 0, child.read_stderr()
        report = harness.server_report(base)
    finally:
        server.stop()

    statuses = [e for e in child.events if e["event"] == "status"]
    (tmp_path / "timeline.json").write_text(json.dumps({"server": timeline, "monitor": statuses}))
    wrong = [e for e in statuses if not _plausible(timeline, e)]
    # Outages while the engine process ran (it ends once everything is delivered).
    long_outages = [
        (start, stop)
        for start, stop in _long_outages(timeline, CHECK_INTERVAL + CHECK_TIMEOUT + SLACK)
        if stop + SLACK < done["t"]
    ]
    # The monitor said offline during each long outage: it already did when the outage
    # ended (it noticed while the server was shutting down), or it said so before long.
    missed = [
        (start, stop)
        for start, stop in long_outages
        if _reported(statuses, stop) != "offline"
        and not any(e["new"] == "offline" and start <= e["t"] <= stop + SLACK for e in statuses)
    ]
    figures = harness.ledger(report, OPERATIONS)
    with connected(db) as conn:
        history = dict(
            conn.execute("SELECT outcome, count(*) FROM operation_attempts GROUP BY outcome")
        )
    harness.report_figures(
        tmp_path,
        "flapping network",
        operations=OPERATIONS,
        faults=outages,
        fault=f"server stopped or killed and restarted every 0.2-2 s for {FLAP_SECONDS:g} s",
        lost=figures["lost"],
        duplicated=figures["duplicated"],
        redelivered_and_absorbed=figures["redelivered"],
        delivered_while_flapping=delivered_while_flapping,
        failed_attempts_retried=history.get("retry", 0),
        put_back_untried=history.get("released", 0),
        failed_permanently=done["stats"]["failed"],
        status_changes=len(statuses),
        outages_longer_than_a_check=len(long_outages),
        outages_the_monitor_missed=len(missed),
        status_reports_contradicting_the_server=len(wrong),
        seed=seed,
    )
    assert outages >= 5
    assert delivered_while_flapping > 0, "the sync did not run while the server flapped"
    assert figures["lost"] == 0, done
    assert figures["duplicated"] == 0
    assert done["stats"]["completed"] == OPERATIONS
    assert done["stats"]["failed"] == 0, "an outage alone made operations fail for good"
    assert not wrong, f"the monitor reported what the server was not doing: {wrong[:3]}"
    assert long_outages and not missed, f"outages the monitor never reported: {missed[:3]}"
    assert statuses and statuses[-1]["new"] == "online"


def _plausible(timeline: Timeline, event: dict[str, Any]) -> bool:
    """A report is plausible when the server was in that state shortly before it."""
    state = "up" if event["new"] == "online" else "down"
    return was_ever(timeline, state, event["t"] - CHECK_TIMEOUT - SLACK, event["t"])


def _reported(statuses: list[dict[str, Any]], moment: float) -> str | None:
    """What the monitor last said before ``moment``."""
    said = [e["new"] for e in statuses if e["t"] <= moment]
    return said[-1] if said else None


def _long_outages(timeline: Timeline, minimum: float) -> list[tuple[float, float]]:
    """(start, end) of the periods the server was certainly down for at least ``minimum``."""
    outages = []
    for (when, state), (after, _) in itertools.pairwise(timeline):
        if state == "down" and after - when >= minimum:
            outages.append((when, after))
    return outages


async def test_a_claim_cancelled_midway_leaves_nothing_taken(tmp_path: Path) -> None:
    """What the scenario found: a sync stopped (the network went offline) while it was taking
    a batch lost track of the batch, which then stayed in progress for as long as the app ran.
    """
    db = tmp_path / "queue.db"
    async with OfflineQueueManager(db) as q:
        await q.enqueue_many(
            {"operation_type": "api_call", "payload": {"url": f"http://127.0.0.1:9/{n}"}}
            for n in range(50)
        )
        for _ in range(5):
            claiming = asyncio.ensure_future(q.claim(10))
            await asyncio.sleep(0)  # the claim is handed to the writer, which will commit it
            claiming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await claiming
        for _ in range(100):  # the clean-up finishes in the background of the cancellation
            if (await q.get_queue_stats())["in_progress"] == 0:
                break
            await asyncio.sleep(0.02)
        stats = await q.get_queue_stats()
    assert stats["in_progress"] == 0 and stats["pending"] == 50, stats
