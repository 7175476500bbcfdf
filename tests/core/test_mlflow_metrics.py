"""METRIC_LOG through the queue and the sync engine to a real MLflow tracking server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.mlflow import (
    MetricLogHandler,
    MlflowRestClient,
    prepare_mlflow_payload,
)
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.mlflow_server import DroppingProxy, MlflowServer, mlflow_server, new_run

pytestmark = pytest.mark.mlflow

__all__ = ["mlflow_server"]


async def make_engine(queue: OfflineQueueManager, **options: Any) -> SyncEngine:
    options.setdefault("batch_size", 200)
    return SyncEngine(queue, None, breaker_threshold=1000, **options)


def steps(first: int, count: int, *, at: int = 1_700_000_000_000) -> Iterator[dict[str, Any]]:
    for step in range(first, first + count):
        yield {"metrics": {"loss": 1.0 / (step + 1), "lr": 0.001}, "step": step}


async def enqueue_metrics(
    queue: OfflineQueueManager, run_id: str, payloads: Iterator[dict[str, Any]]
) -> list[int]:
    ids = []
    for payload in payloads:
        prepared = prepare_mlflow_payload("metric_log", {"run_id": run_id, **payload})
        ids.append(await queue.enqueue(OperationType.METRIC_LOG, prepared))
    return ids


async def statuses(queue: OfflineQueueManager, ids: list[int]) -> set[OperationStatus]:
    found = set()
    for op_id in ids:
        op = await queue.get_operation(op_id)
        assert op is not None
        found.add(op.status)
    return found


async def test_metrics_queued_while_the_server_is_down_arrive_exactly_once(
    tracking_uri: str,
    mlflow_server: MlflowServer,
    rest: MlflowRestClient,
    queue: OfflineQueueManager,
) -> None:
    _, run_id = await new_run(rest)
    mlflow_server.stop()
    try:
        ids = await enqueue_metrics(queue, run_id, steps(0, 40))
        async with await make_engine(queue) as engine:
            result = await engine.sync()
            assert result["completed"] == 0 and result["failed"] == 40
            assert "cannot be reached" in result["errors"][0]["error"]
            assert await statuses(queue, ids) == {OperationStatus.PENDING}
            # More points while still offline, then the server comes back.
            ids += await enqueue_metrics(queue, run_id, steps(40, 20))
            mlflow_server.start()
            for op_id in ids:
                await queue.retry_now(op_id)
            result = await engine.sync()
            assert result["completed"] == 60, result["errors"]
            assert (await engine.sync())["total"] == 0
    finally:
        mlflow_server.start()
    assert await statuses(queue, ids) == {OperationStatus.COMPLETED}
    for key, expected in (("loss", {s: 1.0 / (s + 1) for s in range(60)}), ("lr", None)):
        history = await rest.get_metric_history(run_id, key)
        assert sorted(p["step"] for p in history) == list(range(60))  # each exactly once
        if expected is not None:
            assert {p["step"]: p["value"] for p in history} == expected


async def test_a_retry_after_a_lost_response_duplicates_nothing(
    mlflow_server: MlflowServer,
    rest: MlflowRestClient,
    queue: OfflineQueueManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, run_id = await new_run(rest)
    with DroppingProxy(mlflow_server.port) as proxy:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
        ids = await enqueue_metrics(
            queue,
            run_id,
            ({**p, "params": {"lr": "0.001"}, "tags": {"phase": "warmup"}} for p in steps(0, 30)),
        )
        proxy.drop("runs/log-batch")
        async with await make_engine(queue) as engine:
            first = await engine.sync()
            assert first["completed"] == 0 and first["failed"] == 30
            assert proxy.dropped == ["POST /api/2.0/mlflow/runs/log-batch HTTP/1.1"]
            # The server did the work; only its answer was lost.
            assert len(await rest.get_metric_history(run_id, "loss")) == 30
            for op_id in ids:
                await queue.retry_now(op_id)
            second = await engine.sync()
            assert second["completed"] == 30, second["errors"]
    assert await statuses(queue, ids) == {OperationStatus.COMPLETED}
    history = await rest.get_metric_history(run_id, "loss")
    assert sorted(p["step"] for p in history) == list(range(30))
    run = await rest.get_run(run_id)
    assert {"key": "lr", "value": "0.001"} in run["data"]["params"]


async def test_consecutive_operations_for_a_run_are_coalesced(
    tracking_uri: str, rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    _, run_a = await new_run(rest)
    _, run_b = await new_run(rest)
    metrics = [{"key": f"m{k}", "value": float(k)} for k in range(50)]
    ids = []
    for step in range(30):  # 30 x 50 = 1,500 points for run A, interleaved with run B
        ids += await enqueue_metrics(queue, run_a, iter([{"metrics": metrics, "step": step}]))
        ids += await enqueue_metrics(queue, run_b, iter([{"metrics": {"x": 1.0}, "step": step}]))
    async with await make_engine(queue, concurrency=1, batch_size=1000) as engine:
        handler = engine.handler_for(OperationType.METRIC_LOG)
        assert isinstance(handler, MetricLogHandler)
        result = await engine.sync()
        assert result["completed"] == 60, result["errors"]
        # 1,500 points for A fit in 2 requests, 30 for B in 1.
        assert handler.requests_sent == 3
    assert len(await rest.get_metric_history(run_a, "m49")) == 30
    assert len(await rest.get_metric_history(run_b, "x")) == 30


CHANGED_PARAM = [
    {"metrics": {"loss": 0.9}, "step": 0, "params": {"lr": "0.1"}},
    {"metrics": {"loss": 0.8}, "step": 1, "params": {"lr": "0.1", "epochs": "3"}},
    {"metrics": {"loss": 0.7}, "step": 2, "params": {"lr": "0.5", "warmup": "10"}},
    {"metrics": {"loss": 0.6}, "step": 3},
]


async def params_of(rest: MlflowRestClient, run_id: str) -> dict[str, str]:
    run = await rest.get_run(run_id)
    return {p["key"]: p["value"] for p in run["data"]["params"]}


async def test_a_changed_param_is_a_conflict_of_the_operation_that_changed_it_alone(
    tracking_uri: str, rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    _, run_id = await new_run(rest)
    ids = await enqueue_metrics(queue, run_id, iter(CHANGED_PARAM))
    async with await make_engine(queue) as engine:  # local wins: it cannot, so it waits
        result = await engine.sync()
    assert (result["completed"], result["conflicts"], result["failed"]) == (3, 1, 0)
    changed = await queue.get_operation(ids[2])
    assert changed is not None and changed.status is OperationStatus.CONFLICT
    record = await queue.get_conflict(ids[2])
    assert record is not None
    assert (record.local, record.remote) == ({"params": {"lr": "0.5"}}, {"params": {"lr": "0.1"}})
    assert "cannot replace the server's" in (record.message or "")
    # The rest of the operation went: its point and its new param.
    history = await rest.get_metric_history(run_id, "loss")
    assert sorted(p["step"] for p in history) == [0, 1, 2, 3]
    assert await params_of(rest, run_id) == {"lr": "0.1", "epochs": "3", "warmup": "10"}


@pytest.mark.parametrize("strategy", ["remote_wins", "merge"])
async def test_a_changed_param_settles_by_the_strategy_that_can(
    strategy: str, tracking_uri: str, rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    _, run_id = await new_run(rest)
    ids = await enqueue_metrics(queue, run_id, iter(CHANGED_PARAM))
    async with await make_engine(queue, conflict_strategy=strategy) as engine:
        result = await engine.sync()
    changed = await queue.get_operation(ids[2])
    assert changed is not None
    if strategy == "remote_wins":  # the local value is dropped, the rest was sent
        assert result["completed"] == 4 and changed.status is OperationStatus.COMPLETED
        assert "local_dropped" in [a.outcome for a in await queue.get_attempts(ids[2])]
    else:  # no base to merge from: a person decides
        assert result["conflicts"] == 1 and changed.status is OperationStatus.CONFLICT
    assert await params_of(rest, run_id) == {"lr": "0.1", "epochs": "3", "warmup": "10"}


async def test_a_person_settles_a_param_conflict_by_a_merge_or_by_keeping_theirs(
    tracking_uri: str, rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    _, run_id = await new_run(rest)
    first = await enqueue_metrics(queue, run_id, iter(CHANGED_PARAM))
    again = await enqueue_metrics(
        queue, run_id, iter([{"metrics": {"loss": 0.5}, "step": 4, "params": {"lr": "0.9"}}])
    )
    async with await make_engine(queue, conflict_strategy="manual") as engine:
        assert (await engine.sync())["conflicts"] == 2
        # Keep mine cannot be carried out: refused with the reason, nothing changes.
        with pytest.raises(InvalidOperationError, match="params never change"):
            await engine.resolve_conflict(first[2], "keep_local")
        op = await queue.get_operation(first[2])
        assert op is not None and op.status is OperationStatus.CONFLICT
        # The local value under another name: sent.
        await engine.resolve_conflict(first[2], "merged", {"params": {"lr_restart": "0.5"}})
        await engine.resolve_conflict(again[0], "keep_remote")
        result = await engine.sync()
    assert result["completed"] == 1 and result["conflicts"] == 0
    for op_id in (first[2], again[0]):
        op = await queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.COMPLETED
    assert await params_of(rest, run_id) == {
        "lr": "0.1",
        "epochs": "3",
        "warmup": "10",
        "lr_restart": "0.5",
    }
    assert sorted(p["step"] for p in await rest.get_metric_history(run_id, "loss")) == [
        0,
        1,
        2,
        3,
        4,
    ]


async def test_missing_run_and_deleted_experiment_are_permanent_and_named(
    tracking_uri: str, rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    experiment_id, gone_with_experiment = await new_run(rest)
    await rest.delete_experiment(experiment_id)
    missing = await enqueue_metrics(queue, "0" * 32, steps(0, 2))
    deleted = await enqueue_metrics(queue, gone_with_experiment, steps(0, 2))
    async with await make_engine(queue) as engine:
        result = await engine.sync()
    assert result["failed"] == 4
    for op_id in missing:
        op = await queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.FAILED
        assert op.error_message is not None
        assert f"MLflow has no run '{'0' * 32}'" in op.error_message
        assert "not found" in op.error_message  # the server's words, kept
    for op_id in deleted:
        op = await queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.FAILED
        assert op.error_message is not None
        assert f"experiment {experiment_id}" in op.error_message
        assert "is deleted" in op.error_message
        attempts = await queue.get_attempts(op_id)
        assert "active" in attempts[-1].details["server_message"]


async def test_a_payload_queued_without_timestamps_is_resent_identically(
    tracking_uri: str, rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    _, run_id = await new_run(rest)
    # Queued directly, without prepare: the points take the operation's creation time.
    op_id = await queue.enqueue("metric_log", {"run_id": run_id, "metrics": {"acc": 0.5}})
    async with await make_engine(queue) as engine:
        assert (await engine.sync())["completed"] == 1
        await queue.requeue(op_id)  # as if the answer had been lost
        assert (await engine.sync())["completed"] == 1
    history = await rest.get_metric_history(run_id, "acc")
    op = await queue.get_operation(op_id)
    assert op is not None
    assert history == [
        {"key": "acc", "value": 0.5, "timestamp": int(op.created_at.timestamp() * 1000), "step": 0}
    ]


async def test_no_tracking_uri_waits_and_goes_once_the_environment_has_it(
    mlflow_server: MlflowServer,
    rest: MlflowRestClient,
    queue: OfflineQueueManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, run_id = await new_run(rest)
    payload = prepare_mlflow_payload("metric_log", {"run_id": run_id, "metrics": {"a": 1}})
    op_id = await queue.enqueue("metric_log", payload)
    async with await make_engine(queue) as engine:
        result = await engine.sync()
        again = await engine.sync()  # still nothing to send it to: still no attempt used
    assert (result["failed"], result["waiting"]) == (0, 1)
    assert again["total"] == 0
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.PENDING and op.retry_count == 0
    reason = await queue.wait_reason(op_id)
    assert reason is not None and "set sync.mlflow_tracking_uri" in reason
    assert "MLFLOW_TRACKING_URI" in reason

    # The next process has the variable (the command line's sync, a restarted app).
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    async with await make_engine(queue) as engine:
        assert (await engine.sync())["completed"] == 1
    history = await rest.get_metric_history(run_id, "a")
    assert [point["value"] for point in history] == [1.0]


async def test_requests_stay_within_the_servers_limits_for_params_tags_and_metrics(
    tracking_uri: str, rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    _, run_id = await new_run(rest)
    payloads = [
        {
            "metrics": [
                {"key": f"m{k % 30}", "value": float(k), "step": op * 1000 + k} for k in range(900)
            ],
            "params": {f"p{op}_{k}": str(k) for k in range(60)},
            "tags": {f"t{op}_{k}": "x" * 500 for k in range(60)},
        }
        for op in range(3)
    ]
    await enqueue_metrics(queue, run_id, iter(payloads))
    async with await make_engine(queue) as engine:
        handler = engine.handler_for(OperationType.METRIC_LOG)
        assert isinstance(handler, MetricLogHandler)
        result = await engine.sync()
        assert result["completed"] == 3, result["errors"]
        # 180 params, 180 tags and 2,700 points: at least 4 requests of 1,000 entities.
        assert 4 <= handler.requests_sent <= 5
    run = await rest.get_run(run_id)
    assert len(run["data"]["params"]) == 180
    assert len([t for t in run["data"]["tags"] if t["key"].startswith("t")]) == 180
    assert len(await rest.get_metric_history(run_id, "m0")) == 90


async def test_a_lost_answer_in_the_middle_of_a_coalesced_batch(
    mlflow_server: MlflowServer,
    rest: MlflowRestClient,
    queue: OfflineQueueManager,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, run_id = await new_run(rest)
    metrics = [{"key": f"m{k}", "value": float(k)} for k in range(45)]
    with DroppingProxy(mlflow_server.port) as proxy:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
        # 40 operations of 45 points: requests of 1,000 carry ops 0-22, 22-44... and op 22
        # spans the first two; the second request's answer is lost.
        ids = await enqueue_metrics(
            queue, run_id, ({"metrics": metrics, "step": s} for s in range(40))
        )
        proxy.drop("runs/log-batch", after=1)
        async with await make_engine(queue, batch_size=1000) as engine:
            first = await engine.sync()
            # Done: only what the first request carried alone.
            assert await statuses(queue, ids[:22]) == {OperationStatus.COMPLETED}
            assert await statuses(queue, ids[22:]) == {OperationStatus.PENDING}
            assert first["completed"] == 22 and first["failed"] == 18
            for op_id in ids[22:]:
                await queue.retry_now(op_id)
            second = await engine.sync()
            assert second["completed"] == 18, second["errors"]
        assert len(proxy.dropped) == 1
    for key in ("m0", "m44"):
        history = await rest.get_metric_history(run_id, key)
        assert sorted(p["step"] for p in history) == list(range(40))


async def test_a_loop_logging_live_is_sent_in_batches_not_a_request_per_call(
    tracking_uri: str, rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    """Online, with automatic sync on: what the loop logged meanwhile goes together."""
    _, run_id = await new_run(rest)
    async with await make_engine(queue) as engine:
        handler = engine.handler_for(OperationType.METRIC_LOG)
        assert isinstance(handler, MetricLogHandler)
        await engine.start_auto_sync()
        ids: list[int] = []
        began = time.monotonic()
        for step in range(300):  # a step every 5 ms or so
            ids += await enqueue_metrics(queue, run_id, steps(step, 1))
            await asyncio.sleep(0.005)
        logging_seconds = time.monotonic() - began
        deadline = time.monotonic() + 30
        while await statuses(queue, ids) != {OperationStatus.COMPLETED}:
            assert time.monotonic() < deadline, "the loop's points were not all sent"
            await asyncio.sleep(0.05)
        await engine.stop_auto_sync()
    # About one request per gathering window while the loop logged: not one per step.
    assert handler.requests_sent <= logging_seconds / engine.gather + 4, handler.requests_sent
    assert handler.requests_sent < 30
    assert len(await rest.get_metric_history(run_id, "loss")) == 300
