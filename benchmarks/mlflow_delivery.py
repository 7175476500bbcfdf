"""Metric points queued offline, delivered to a real MLflow server, next to MLflow's own rate.

    .venv/bin/python benchmarks/mlflow_delivery.py [--points 100000] [--per-step 4]
        [--batch-size 100] [--uri http://127.0.0.1:5000]

Without ``--uri`` it starts its own ``mlflow server`` (one worker, SQLite store; installed
into .venv-mlflow when missing). Three figures from the same server in the same run:

- MLflow's own client (``MlflowClient.log_batch``, 1,000 metrics a call, run from
  .venv-mlflow), the rate a training script gets when it is online; measured before and
  after the queue (the store grows with every pass) and averaged;
- raw ``runs/log-batch`` requests with httpx, bodies built in advance (the ceiling);
- the queue: the points queued while the server is unreachable (one operation per training
  step, ``--per-step`` metrics each), then one ``SyncEngine.sync()`` once it is reachable.

The target: 100,000 points reach MLflow in at most 110 requests, every point exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # for tests.support.mlflow_server, the server launcher

from peft_studio_offline.core.enums import OperationType  # noqa: E402
from peft_studio_offline.core.handlers.mlflow import (  # noqa: E402
    MetricLogHandler,
    MlflowRestClient,
    prepare_mlflow_payload,
)
from peft_studio_offline.core.queue import OfflineQueueManager  # noqa: E402
from peft_studio_offline.core.sync.engine import SyncEngine  # noqa: E402
from tests.support.mlflow_server import MlflowServer, mlflow_venv  # noqa: E402

KEYS = ("loss", "learning_rate", "grad_norm", "tokens_per_second", "epoch", "eval_loss")
REQUEST_TARGET = 110

MLFLOW_CLIENT_SCRIPT = """
import sys, time
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient
uri, run_id, points, per_step = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
keys = {keys!r}[:per_step]
client = MlflowClient(tracking_uri=uri)
metrics = [Metric(keys[i % per_step], float(i), 1_700_000_000_000 + i // per_step, i // per_step)
           for i in range(points)]
start = time.perf_counter()
for i in range(0, points, 1000):
    client.log_batch(run_id, metrics=metrics[i:i + 1000])
print(time.perf_counter() - start)
"""


def step_payload(run_id: str, step: int, per_step: int) -> dict[str, object]:
    return {
        "run_id": run_id,
        "step": step,
        "metrics": {KEYS[k]: 1.0 / (step + k + 1) for k in range(per_step)},
    }


async def mlflow_client_rate(uri: str, run_id: str, points: int, per_step: int) -> float:
    script = MLFLOW_CLIENT_SCRIPT.replace("{keys!r}", repr(KEYS))
    python = mlflow_venv() / "bin" / "python"
    done = await asyncio.to_thread(
        subprocess.run,
        [str(python), "-c", script, uri, run_id, str(points), str(per_step)],
        capture_output=True,
        text=True,
        check=True,
    )
    return points / float(done.stdout.strip().splitlines()[-1])


async def raw_rate(rest: MlflowRestClient, run_id: str, points: int, per_step: int) -> float:
    bodies = []
    for start in range(0, points, 1000):
        metrics = [
            {"key": KEYS[i % per_step], "value": float(i), "timestamp": 1_700_000_000_000,
             "step": i // per_step}
            for i in range(start, min(points, start + 1000))
        ]  # fmt: skip
        bodies.append(json.dumps({"run_id": run_id, "metrics": metrics}).encode())
    began = time.perf_counter()
    for body in bodies:
        await rest.log_batch_raw(body)
    return points / (time.perf_counter() - began)


async def queued_delivery(
    uri: str, run_id: str, points: int, per_step: int, batch_size: int, folder: Path
) -> dict[str, float]:
    steps = points // per_step
    async with OfflineQueueManager(folder / "queue.db") as queue:
        began = time.perf_counter()
        items = [
            {
                "operation_type": OperationType.METRIC_LOG,
                "payload": prepare_mlflow_payload("metric_log", step_payload(run_id, s, per_step)),
            }
            for s in range(steps)
        ]
        for start in range(0, steps, 5000):
            await queue.enqueue_many(items[start : start + 5000])
        queued = time.perf_counter() - began
        # The target, as the app reads it when the engine is created.
        os.environ["MLFLOW_TRACKING_URI"] = uri
        async with SyncEngine(queue, None, batch_size=batch_size) as engine:
            handler = engine.handler_for(OperationType.METRIC_LOG)
            assert isinstance(handler, MetricLogHandler)
            began = time.perf_counter()
            result = await engine.sync()
            elapsed = time.perf_counter() - began
        if result["completed"] != steps:
            raise SystemExit(f"Only {result['completed']} of {steps} operations were delivered.")
        return {
            "operations": steps,
            "queued_seconds": queued,
            "seconds": elapsed,
            "requests": handler.requests_sent,
            "rate": points / elapsed,
        }


async def count_points(rest: MlflowRestClient, run_id: str, per_step: int) -> int:
    total = 0
    for key in KEYS[:per_step]:
        history = await rest.get_metric_history(run_id, key)
        if len({(p["step"], p["timestamp"]) for p in history}) != len(history):
            raise SystemExit(f"Metric {key} has duplicated points.")
        total += len(history)
    return total


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--per-step", type=int, default=4, choices=range(1, len(KEYS) + 1))
    parser.add_argument(
        "--batch-size", type=int, default=100, help="operations per claim (the default setting)"
    )
    parser.add_argument("--uri", help="an MLflow tracking server to use instead of starting one")
    args = parser.parse_args()
    points = args.points - args.points % args.per_step
    ok = False

    with tempfile.TemporaryDirectory(prefix="mlflow-bench-") as tmp:
        folder = Path(tmp)
        os.environ["PEFT_STUDIO_OFFLINE_HOME"] = str(folder / "home")  # not the user's files
        server = None if args.uri else MlflowServer(folder / "server")
        uri = args.uri or server.start().url  # type: ignore[union-attr]
        try:
            async with httpx.AsyncClient(timeout=120) as http:
                rest = MlflowRestClient(http, uri, timeout=120)
                experiment = await rest.create_experiment(f"bench-{uuid.uuid4().hex[:8]}")
                runs = [(await rest.create_run(experiment))["info"]["run_id"] for _ in range(4)]
                print(f"{points:,} metric points, {args.per_step} per training step, server {uri}")
                # The store grows with every pass: MLflow's client runs before and after the
                # queue, and its mean is the baseline.
                before = await mlflow_client_rate(uri, runs[0], points, args.per_step)
                ceiling = await raw_rate(rest, runs[1], points, args.per_step)
                queued = await queued_delivery(
                    uri, runs[2], points, args.per_step, args.batch_size, folder
                )
                after = await mlflow_client_rate(uri, runs[3], points, args.per_step)
                official = (before + after) / 2
                print(
                    f"MLflow's own client, log_batch of 1,000:   {official:10,.0f} points/s"
                    f"  ({before:,.0f} before, {after:,.0f} after)"
                )
                print(f"raw runs/log-batch with httpx, 1,000 each: {ceiling:10,.0f} points/s")
                print(
                    f"queued offline, then delivered:            {queued['rate']:10,.0f} points/s"
                    f"  ({queued['rate'] / official:.2f}x MLflow's client,"
                    f" {queued['rate'] / ceiling:.2f}x raw)"
                )
                print(
                    f"  {queued['operations']:,} operations queued in"
                    f" {queued['queued_seconds']:.2f} s, delivered in {queued['seconds']:.2f} s"
                    f" with {queued['requests']} log-batch requests"
                    f" (target: at most {REQUEST_TARGET} for 100,000 points;"
                    f" engine batch_size {args.batch_size})"
                )
                arrived = await count_points(rest, runs[2], args.per_step)
                print(f"  points on the server: {arrived:,} of {points:,}, none duplicated")
                ok = arrived == points and (
                    points != 100_000 or queued["requests"] <= REQUEST_TARGET
                )
                print("RESULT:", "target met" if ok else "target MISSED")
        finally:
            if server is not None:
                server.stop()
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
