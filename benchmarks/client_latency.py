"""A training script's ``client.log_metrics`` call: with the app serving, and without it.

    .venv/bin/python benchmarks/client_latency.py [--calls 1000]

Without an app the client writes straight into the queue database (the baseline). With
``peft-studio-offline serve`` running (a process of its own, on 127.0.0.1), each call is one
request on the client's kept-alive connection. Targets: median ≤ 2 ms, p99 ≤ 10 ms with
the app serving. Before the API set TCP_NODELAY on its connections, every request after
the first waited ~40 ms (Nagle's algorithm meeting delayed ACKs): a median of 48 ms.

Figures are printed with their targets; exits 1 when the app-serving target is missed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WARM_UP = 20
MEDIAN_TARGET_MS = 2.0
P99_TARGET_MS = 10.0


def timed_calls(client: object, calls: int) -> list[float]:
    """Milliseconds of each ``log_metrics`` call, after a warm-up."""
    log_metrics = client.log_metrics  # type: ignore[attr-defined]
    for step in range(WARM_UP):
        log_metrics("run-bench", {"loss": 1.0 / (step + 1)}, step=step)
    times = []
    for step in range(calls):
        began = time.perf_counter()
        log_metrics("run-bench", {"loss": 1.0 / (step + 1), "lr": 3e-4}, step=step)
        times.append((time.perf_counter() - began) * 1000)
    return times


def describe(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered):6.2f} ms, p99 {p99:6.2f} ms, max {ordered[-1]:6.1f} ms"
    )


def read_only_requests(url: str, token: str, calls: int) -> tuple[dict[str, int], list[float]]:
    """``GET /queue/stats`` on one kept-alive connection: the round trip without a commit."""
    import httpx

    headers = {"Authorization": f"Bearer {token}"}
    times = []
    with httpx.Client(base_url=f"{url}/api/offline", headers=headers) as http:
        for _ in range(WARM_UP):
            http.get("/queue/stats")
        for _ in range(calls):
            began = time.perf_counter()
            stats = http.get("/queue/stats").json()
            times.append((time.perf_counter() - began) * 1000)
    return stats, times


def start_app(home: Path) -> tuple[subprocess.Popen[str], str]:
    env = dict(os.environ, PEFT_STUDIO_OFFLINE_HOME=str(home), PEFT_STUDIO_OFFLINE_CHECK_URLS="")
    process = subprocess.Popen(
        [sys.executable, "-m", "peft_studio_offline", "serve", "--port", "0", "--no-auto-sync"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    url = process.stdout.readline().strip()
    if not url.startswith("http://"):
        process.kill()
        raise SystemExit(f"serve did not start: {url!r}")
    return process, url


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()

    from peft_studio_offline.client import OfflineClient

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        with OfflineClient(db_path=home / "direct.db", use_api=False) as direct:
            no_app = timed_calls(direct, args.calls)

        process, url = start_app(home / "app")
        try:
            token = (home / "app" / "data" / "api-token").read_text().strip()
            with OfflineClient(api_url=url, token=token) as client:
                with_app = timed_calls(client, args.calls)
            stats, round_trip = read_only_requests(url, token, args.calls)
        finally:
            process.terminate()
            process.wait(10)
    if stats["total"] != args.calls + WARM_UP:
        print(f"warning: the app queued {stats['total']} operations, not all the calls")

    print(f"client.log_metrics, {args.calls:,} calls each (after {WARM_UP} to warm up)")
    print(f"  no app (straight into the database): {describe(no_app)}")
    print(f"  app serving (through its local API):  {describe(with_app)}")
    print("  target with the app serving: median <= 2 ms, p99 <= 10 ms")
    print(
        f"  for comparison, GET /queue/stats (no commit) on one connection: {describe(round_trip)}"
    )
    ordered = sorted(with_app)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    if statistics.median(ordered) > MEDIAN_TARGET_MS or p99 > P99_TARGET_MS:
        print("MISSED: the app-serving target")
        return 1
    print("Target met.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
