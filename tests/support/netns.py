"""A network namespace of the test's own, reached from the host over a veth pair.

Addresses come from a private /30 of 10.213.0.0/16 (RFC 1918) chosen by the test run's pid;
an ``unreachable`` route for the /30 on the host makes sure that traffic for it can never
leave the machine, even while the veth pair is being set up or torn down. Needs root and the
``ip`` tool (iproute2); ``Link.cut`` needs ``nft`` (nftables). packaging/bootstrap.sh
installs both.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

needs_namespaces = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("ip") is None,
    reason="needs root and the ip (iproute2) tool to create a network namespace",
)


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
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
        run(*self.exec_prefix(), "nft", "delete", "table", "inet", "pso_cut")


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
    created = run("ip", "netns", "add", made.namespace, check=False)
    if created.returncode != 0:  # root, but in a container without the right to do so
        pytest.skip(f"cannot create a network namespace here: {created.stderr.strip()}")
    try:
        # The safety net first: without the veth route, the range is unreachable.
        run("ip", "route", "add", "unreachable", made.network, "metric", "4000")
        run("ip", "link", "add", made.host_side, "type", "veth", "peer", "name", peer)
        run("ip", "link", "set", peer, "netns", made.namespace)
        run("ip", "addr", "add", f"{made.host_address}/30", "dev", made.host_side)
        run("ip", "link", "set", made.host_side, "up")
        ns = made.exec_prefix()
        run(*ns, "ip", "addr", "add", f"{made.server_address}/30", "dev", peer)
        run(*ns, "ip", "link", "set", peer, "up")
        run(*ns, "ip", "link", "set", "lo", "up")
        yield made
    finally:
        run("ip", "netns", "del", made.namespace, check=False)  # takes the veth pair along
        run("ip", "link", "del", made.host_side, check=False)
        run("ip", "route", "del", "unreachable", made.network, "metric", "4000", check=False)
