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
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e import harness

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


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=20)
    if check and result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")
    return result


@dataclass(frozen=True)
class Link:
    namespace: str
    host_side: str
    host_address: str
    server_address: str
    network: str

    def exec_prefix(self) -> list[str]:
        return ["ip", "netns", "exec", self.namespace]

    def cut(self) -> None:
        """Drop every packet between host and namespace, both ways (nothing is refused)."""
        rules = (
            "table inet pso_cut {\n"
            "  chain input {\n"
            "    type filter hook input priority 0; policy accept;\n"
            f"    ip saddr {self.host_address} drop\n"
            "  }\n"
            "  chain output {\n"
            "    type filter hook output priority 0; policy accept;\n"
            f"    ip daddr {self.host_address} drop\n"
            "  }\n"
            "}\n"
        )
        subprocess.run(
            [*self.exec_prefix(), "nft", "-f", "-"],
            input=rules, text=True, check=True, capture_output=True, timeout=20,
        )  # fmt: skip

    def restore(self) -> None:
        _run(*self.exec_prefix(), "nft", "delete", "table", "inet", "pso_cut")


@pytest.fixture
def link() -> Iterator[Link]:
    # Names and a /30 of this test run's own, from 10.213.0.0/16 (private, RFC 1918).
    tag = os.getpid() % 16384
    base = f"10.213.{tag // 64}.{(tag % 64) * 4}"
    prefix = base.rsplit(".", 1)[0]
    last = int(base.rsplit(".", 1)[1])
    made = Link(
        namespace=f"pso-e2e-{tag}",
        host_side=f"psoh{tag}",
        host_address=f"{prefix}.{last + 1}",
        server_address=f"{prefix}.{last + 2}",
        network=f"{base}/30",
    )
    peer = f"psoc{tag}"
    created = _run("ip", "netns", "add", made.namespace, check=False)
    if created.returncode != 0:  # root, but in a container without the right to do so
        pytest.skip(f"cannot create a network namespace here: {created.stderr.strip()}")
    try:
        # The safety net first: without the veth route, the range is unreachable.
        _run("ip", "route", "add", "unreachable", made.network, "metric", "4000")
        _run("ip", "link", "add", made.host_side, "type", "veth", "peer", "name", peer)
        _run("ip", "link", "set", peer, "netns", made.namespace)
        _run("ip", "addr", "add", f"{made.host_address}/30", "dev", made.host_side)
        _run("ip", "link", "set", made.host_side, "up")
        ns = made.exec_prefix()
        _run(*ns, "ip", "addr", "add", f"{made.server_address}/30", "dev", peer)
        _run(*ns, "ip", "link", "set", peer, "up")
        _run(*ns, "ip", "link", "set", "lo", "up")
        yield made
    finally:
        _run("ip", "netns", "del", made.namespace, check=False)  # takes the veth pair along
        _run("ip", "link", "del", made.host_side, check=False)
        _run("ip", "route", "del", "unreachable", made.network, "metric", "4000", check=False)


def _applied(base_url: str) -> int:
    return len(harness.server_report(base_url)["effects"])


def test_sync_resumes_after_a_link_that_dropped_packets(tmp_path: Path, link: Link) -> None:
    db = tmp_path / "queue.db"
    route = _run("ip", "route", "get", link.server_address).stdout
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
