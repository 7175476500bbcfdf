"""``mlflow.log_metric`` against the local endpoint, next to the same call against MLflow.

    .venv/bin/python benchmarks/mlflow_endpoint_latency.py [--calls 500]

The same script (the real ``mlflow`` client, in the MLflow server's environment) times each
``mlflow.log_metric`` call twice in this run: logging directly to a real MLflow tracking
server on 127.0.0.1 (the baseline), and under ``peft-studio-offline run`` with the
tracking server gone, so every call is answered by the local endpoint and queued. Target:
the local endpoint's median at most 0.5 times the server's. Figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support.mlflow_server import MlflowServer, mlflow_venv
from tests.support.servers import free_port

TARGET_RATIO = 0.5
PROBE = """
import json, sys, time
import mlflow

mlflow.set_experiment("latency")
with mlflow.start_run():
    for step in range(20):
        mlflow.log_metric("warm_up", 1.0, step=step)
    times = []
    for step in range(int(sys.argv[1])):
        began = time.perf_counter()
        mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        times.append((time.perf_counter() - began) * 1000)
print("times=" + json.dumps(times), flush=True)
"""


def timed(command: list[str], env: dict[str, str]) -> list[float]:
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:
        raise SystemExit(f"The probe failed:\n{result.stderr[-3000:]}")
    line = next(x for x in result.stdout.splitlines() if x.startswith("times="))
    times: list[float] = json.loads(line[len("times=") :])
    return times


def describe(times: list[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered):6.2f} ms, p99 {p99:6.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=500)
    args = parser.parse_args()
    python = str(mlflow_venv() / "bin" / "python")
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        probe = root / "probe.py"
        probe.write_text(PROBE)
        base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
        server = MlflowServer(root / "server").start()
        try:
            direct = timed(
                [python, str(probe), str(args.calls)],
                {**base, "MLFLOW_TRACKING_URI": server.url},
            )
        finally:
            server.stop()
        app_env = {
            **base,
            "PEFT_STUDIO_OFFLINE_HOME": str(root / "home"),
            "PEFT_STUDIO_OFFLINE_API_PORT": "0",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{free_port()}",  # the server is gone
        }
        run = [sys.executable, "-m", "peft_studio_offline", "run", "--", python, str(probe)]
        local = timed([*run, str(args.calls)], app_env)
    ratio = statistics.median(local) / statistics.median(direct)
    print(f"mlflow.log_metric, {args.calls} calls each")
    print(f"  real MLflow server on loopback: {describe(direct)}")
    print(f"  local endpoint, server gone:    {describe(local)}")
    print(f"  ratio of medians: {ratio:.2f} (target <= {TARGET_RATIO})")
    if ratio > TARGET_RATIO:
        print("MISSED: the ratio of medians")
        return 1
    print("Target met.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
