"""Several processes syncing one database at once: two headless engines and the ``sync`` command.

Nothing may be taken twice: the server must see every idempotency key exactly once (two
processes holding one operation would both send it), and the runs' counts must add up.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e import harness
from tests.e2e.effects_server import CountingApp
from tests.support.asgi import AsgiServer

OPERATIONS = 2000

pytestmark = pytest.mark.slow


async def test_two_engines_and_the_cli_never_take_one_operation_twice(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    app = CountingApp(delay=0.002)
    with AsgiServer(app) as server:
        base = server.url("").rstrip("/")
        await harness.enqueue_posts(db, base, OPERATIONS)
        engines = [
            harness.engine("drain", db, "--concurrency", "4", "--batch-size", "25")
            for _ in range(2)
        ]
        for child in engines:
            child.wait_for("ready", 30)
        cli = subprocess.run(
            [sys.executable, "-m", "peft_studio_offline", "sync", "--db", str(db), "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        for child in engines:
            child.wait_for("done", 120)
            assert child.finish(30) == 0, child.read_stderr()
        report = harness.server_report(base)

    assert cli.returncode == 0, cli.stderr
    by_cli = json.loads(cli.stdout)["completed"]
    by_engine = [
        sum(e["result"]["completed"] for e in child.events if e["event"] == "run")
        for child in engines
    ]
    sent_twice = sum(1 for count in report["requests"].values() if count > 1)
    figures = harness.ledger(report, OPERATIONS)
    facts = harness.database_facts(db)
    harness.report_figures(
        tmp_path,
        "two processes",
        operations=OPERATIONS,
        faults=0,
        fault="two engine processes and the sync command on one database at once",
        completed_by_each=[*by_engine, by_cli],
        taken_twice=sent_twice,
        lost=figures["lost"],
        duplicated=figures["duplicated"],
    )
    assert sent_twice == 0
    assert sum(by_engine) + by_cli == OPERATIONS
    assert sum(1 for n in by_engine if n) == 2, "one engine did all the work: nothing was tested"
    assert figures["lost"] == 0 and figures["duplicated"] == 0
    assert facts["integrity"] == "ok" and facts["statuses"] == {"completed": OPERATIONS}
