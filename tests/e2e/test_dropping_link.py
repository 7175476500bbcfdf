"""A link that drops packets: no refusal, connections hang until their timeouts.

The server runs in a network namespace of the test's own, reached over a veth pair with
addresses from a private /30; the link is cut with an nft drop rule inside the namespace.
An ``unreachable`` route for the /30 on the host makes sure that traffic for it can never
leave the machine, even while the veth pair is being set up or torn down. Needs root and
the ``ip`` and ``nft`` tools (packaging/bootstrap.sh installs iproute2 and nftables).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from tests.e2e import harness
from tests.support.netns import Link, link, run

__all__ = ["link"]  # the fixture

OPERATIONS = 600
CUT_SECONDS = 6.0
PORT = 8080

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not hasattr(os, "geteuid") or os.geteuid() != 0,
        reason="needs root to create a network namespace and a veth pair",
    ),
    pytest.mark.skipif(
        shutil.which("ip") is None or shutil.which("nft") is None,
        reason="needs the ip (iproute2) and nft (nftables) tools",
    ),
]


def _applied(base_url: str) -> int:
    return len(harness.server_report(base_url)["effects"])


def test_sync_resumes_after_a_link_that_dropped_packets(tmp_path: Path, link: Link) -> None:
    db = tmp_path / "queue.db"
    route = run("ip", "route", "get", link.server_address).stdout
    assert link.host_side in route, f"the namespace is not reached over the veth pair: {route}"
    base = f"http://{link.server_address}:{PORT}"
    server = harness.ChildProcess(
        [*link.exec_prefix(), sys.executable, str(harness.SERVER_SCRIPT),
         "--host", link.server_address, "--port", str(PORT), "--delay", "0.01"]
    )  # fmt: skip
    child: harness.ChildProcess | None = None
    try:
        server.wait_for("listening", 30)
        import asyncio

        asyncio.run(harness.enqueue_posts(db, base, OPERATIONS))
        child = harness.engine(
            "auto", db, "--health", f"{base}/health", "--until-drained",
            "--check-interval", "0.25", "--check-timeout", "0.5", "--request-timeout", "2",
            "--concurrency", "4", "--max-seconds", "120",
        )  # fmt: skip
        child.wait_for("ready", 30)
        deadline = time.monotonic() + 60
        while _applied(base) < OPERATIONS // 6 and time.monotonic() < deadline:
            time.sleep(0.1)
        link.cut()
        cut_at = time.time()
        time.sleep(CUT_SECONDS)
        # The link may carry traffic (and the monitor see it) before restore() returns.
        restoring_at = time.time()
        link.restore()
        restored_at = time.time()
        at_restore = _applied(base)
        resumed_at = None
        while time.monotonic() < deadline + 60:
            if _applied(base) > at_restore:
                resumed_at = time.time()
                break
            time.sleep(0.05)
        done = child.wait_for("done", 120)
        assert child.finish(30) == 0, child.read_stderr()
        report = harness.server_report(base)
    finally:
        if child is not None:
            child.kill()
        server.kill()

    statuses = [e for e in child.events if e["event"] == "status"]
    offline_during_cut = [
        e for e in statuses if e["new"] == "offline" and cut_at <= e["t"] <= restored_at
    ]
    online_after = [e for e in statuses if e["new"] == "online" and e["t"] >= restoring_at]
    figures = harness.ledger(report, OPERATIONS)
    harness.report_figures(
        tmp_path,
        "a link that drops packets",
        operations=OPERATIONS,
        faults=1,
        fault=f"nft drop rule in the namespace for {CUT_SECONDS:g} s (connections hang)",
        lost=figures["lost"],
        duplicated=figures["duplicated"],
        redelivered_and_absorbed=figures["redelivered"],
        delivered_before_the_cut=at_restore,
        monitor_offline_after_s=round(offline_during_cut[0]["t"] - cut_at, 2)
        if offline_during_cut
        else None,
        sync_resumed_after_s=None if resumed_at is None else round(resumed_at - restored_at, 2),
        failed_permanently=done["stats"]["failed"],
    )
    assert at_restore < OPERATIONS, "everything was sent before the cut: it tested nothing"
    assert offline_during_cut, f"the monitor never said offline while the link was cut: {statuses}"
    assert online_after, "the monitor never said online again"
    assert resumed_at is not None and resumed_at - restored_at < 15, "sync did not resume"
    assert figures["lost"] == 0 and figures["duplicated"] == 0
    assert done["stats"]["completed"] == OPERATIONS and done["stats"]["failed"] == 0
