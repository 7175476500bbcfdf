"""Crash during sync: the engine process is SIGKILLed at random points and started again.

The promise: an operation acknowledged by ``enqueue`` reaches the server once in effect,
whatever point the process dies at (mid-request, mid-commit, between the two).
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import pytest

from tests.e2e import harness
from tests.e2e.effects_server import CountingApp
from tests.support.asgi import AsgiServer
from tests.support.sqlite_files import connected

OPERATIONS = 2000
KILLS = 20

pytestmark = pytest.mark.slow


async def test_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    app = CountingApp()
    with AsgiServer(app) as server:
        base = server.url("").rstrip("/")
        ids = await harness.enqueue_posts(db, base, OPERATIONS)
        assert len(set(ids)) == OPERATIONS

        taken_when_killed = 0
        for _ in range(KILLS):
            child = harness.engine("drain", db, "--max-seconds", "60")
            child.wait_for("ready", 30)
            time.sleep(rng.uniform(0.05, 0.8))
            child.kill()
            with connected(db) as conn:
                taken_when_killed += conn.execute(
                    "SELECT count(*) FROM offline_operations WHERE status = 'in_progress'"
                ).fetchone()[0]

        last = harness.engine("drain", db, "--max-seconds", "90")
        done = last.wait_for("done", 120)
        assert last.finish(30) == 0, last.read_stderr()
        report = harness.server_report(base)

    figures = harness.ledger(report, OPERATIONS)
    facts = harness.database_facts(db)
    harness.report_figures(
        tmp_path,
        "crash during sync",
        operations=OPERATIONS,
        faults=KILLS,
        fault="SIGKILL of the engine process at a random point, then a restart",
        taken_when_killed=taken_when_killed,
        lost=figures["lost"],
        duplicated=figures["duplicated"],
        redelivered_and_absorbed=figures["redelivered"],
        seed=seed,
    )
    assert taken_when_killed > 0, "no kill landed while operations were being sent"
    assert figures["lost"] == 0
    assert figures["duplicated"] == 0
    assert done["stats"]["completed"] == OPERATIONS
    assert facts["integrity"] == "ok"
    assert facts["statuses"] == {"completed": OPERATIONS}
    assert facts["counters"] == {"completed": OPERATIONS}, "the stats counters drifted"
