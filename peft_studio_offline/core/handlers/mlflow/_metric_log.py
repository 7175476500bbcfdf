"""The built-in ``METRIC_LOG`` handler: metrics, params and tags through ``runs/log-batch``.

Consecutive operations for one run are coalesced (the engine groups them by ``batch_key``)
into as few requests as MLflow's limits allow. Every point's timestamp and step were fixed
when it was queued (or, for a payload queued without them, derive from the operation's
creation time), so a resend after a lost answer is the same data, and MLflow stores an
identical (key, value, timestamp, step) once. A parameter that already has another value on
the run is a permanent failure of the operation that tried to change it, and of no other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.base import HandlerContext, Outcome
from peft_studio_offline.core.handlers.mlflow._batching import (
    MLFLOW_LIMITS,
    BatchLimits,
    LogBatchRequest,
    Packer,
    request_key,
)
from peft_studio_offline.core.handlers.mlflow._client import MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._creation import waiting
from peft_studio_offline.core.handlers.mlflow._errors import MlflowError, MlflowUnreachableError
from peft_studio_offline.core.handlers.mlflow._outcomes import run_problem, with_server_words
from peft_studio_offline.core.handlers.mlflow._payloads import (
    MetricLog,
    MetricPoint,
    parse_metric_log,
)
from peft_studio_offline.core.handlers.mlflow._target import TrackingHandler
from peft_studio_offline.core.mlflow_local import NotDeliveredError, RemoteIds
from peft_studio_offline.core.operation import Operation


@dataclass(slots=True)
class _Result:
    """What happened to one operation's parts so far."""

    requests: int = 0
    retry: MlflowError | None = None
    failed: str | None = None
    failed_details: dict[str, Any] = field(default_factory=dict)

    def fail(self, message: str, details: Mapping[str, Any]) -> None:
        if self.failed is None:
            self.failed, self.failed_details = message, dict(details)


class MetricLogHandler(TrackingHandler):
    """Sends ``metric_log`` operations, coalescing those for the same run."""

    def __init__(
        self,
        *,
        tracking_uri: str | None = None,
        limits: BatchLimits = MLFLOW_LIMITS,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(tracking_uri=tracking_uri, environ=environ)
        self.limits = limits
        self.requests_sent = 0  # for benchmarks and the status view

    def batch_key(self, operation: Operation) -> str | None:
        run_id = operation.payload.get("run_id")
        return run_id if isinstance(run_id, str) and run_id else None

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        return (await self.handle_batch([operation], context))[0]

    async def handle_batch(
        self, operations: Sequence[Operation], context: HandlerContext
    ) -> list[Outcome]:
        outcomes: list[Outcome | None] = [None] * len(operations)
        logs: dict[str, list[tuple[int, MetricLog]]] = {}
        for index, op in enumerate(operations):
            try:
                created_ms = int(op.created_at.timestamp() * 1000)
                log = parse_metric_log(op.payload, default_timestamp=created_ms)
            except InvalidOperationError as exc:
                outcomes[index] = Outcome.failed(str(exc))
                continue
            logs.setdefault(log.run_id, []).append((index, log))
        try:
            client = self.tracking.client(context, context.idempotency_key)
        except MlflowError as exc:
            return [o or Outcome.failed(str(exc)) for o in outcomes]
        keys = [op.idempotency_key for op in operations]
        for run_id, items in logs.items():
            try:
                remote_id = await self.ids.run(run_id) if self.ids else run_id
            except NotDeliveredError as exc:
                for index, _ in items:
                    outcomes[index] = waiting(str(exc))
                continue
            if self.ids is not None and context.settings.sync.mlflow_replace_queued_points:
                items = await _without_replaced(self.ids, run_id, items)
            results = await self._send_run(client, remote_id, items, keys)
            for index, log in items:
                outcomes[index] = _outcome(results[index], run_id, len(log.metrics))
        return [o or Outcome.failed("Nothing was sent for this operation.") for o in outcomes]

    async def _send_run(
        self,
        client: MlflowRestClient,
        run_id: str,
        items: list[tuple[int, MetricLog]],
        keys: list[str],
    ) -> dict[int, _Result]:
        results = {index: _Result() for index, _ in items}
        by_index = dict(items)
        packer = Packer(run_id, self.limits)
        for index, log in items:
            packer.add(index, log)
        requests = packer.finish()
        spans: dict[int, int] = {}
        for request in requests:
            for index in request.operations:
                spans[index] = spans.get(index, 0) + 1
        down: MlflowError | None = None
        for request in requests:
            if down is not None:  # the server is away: keep the rest for the next attempt
                for index in request.operations:
                    results[index].retry = results[index].retry or down
                continue
            whole = all(spans[i] == 1 for i in request.operations)
            error = await self._send(client, request, keys, whole)
            if error is None:
                for index in request.operations:
                    results[index].requests += 1
                continue
            if error.transient:
                down = error
                for index in request.operations:
                    results[index].retry = error
                continue
            problem = await run_problem(client, run_id, error)
            if problem is not None:  # no run to log to: every operation for it fails
                for result in results.values():
                    result.fail(with_server_words(problem, error), error.details())
                break
            if len(request.operations) == 1:
                results[request.operations[0]].fail(_refused(run_id, error), error.details())
                continue
            # One of several operations was refused: send each alone to find which.
            for index in request.operations:
                await self._send_alone(client, run_id, index, by_index[index], keys, results)
        return results

    async def _send_alone(
        self,
        client: MlflowRestClient,
        run_id: str,
        index: int,
        log: MetricLog,
        keys: list[str],
        results: dict[int, _Result],
    ) -> None:
        packer = Packer(run_id, self.limits)
        packer.add(index, log)
        requests = packer.finish()
        for request in requests:
            error = await self._send(client, request, keys, len(requests) == 1)
            if error is None:
                results[index].requests += 1
            elif error.transient:
                results[index].retry = error
                return
            else:
                results[index].fail(_refused(run_id, error), error.details())
                return

    async def _send(
        self, client: MlflowRestClient, request: LogBatchRequest, keys: list[str], whole: bool
    ) -> MlflowError | None:
        body = request.body()
        self.requests_sent += 1
        try:
            await client.with_key(request_key(request, body, keys, whole)).log_batch_raw(body)
        except MlflowError as exc:
            if exc.error_code == "RESOURCE_ALREADY_EXISTS":
                return None  # what it would have written is there already
            return exc
        return None


async def _without_replaced(
    ids: RemoteIds, run_id: str, items: list[tuple[int, MetricLog]]
) -> list[tuple[int, MetricLog]]:
    """The points without those logged again later for the same key and step.

    A script restarted from a checkpoint logs its steps again; while the earlier points are
    still queued, only the last one logged for a (key, step) is sent. Runs the local
    endpoint did not make have no record here and are sent as they are.
    """
    latest = await ids.latest_points(run_id)
    if not latest:
        return items
    kept: list[tuple[int, MetricLog]] = []
    for index, log in items:
        points = tuple(p for p in log.metrics if _is_latest(p, latest))
        kept.append(
            (index, log if len(points) == len(log.metrics) else replace(log, metrics=points))
        )
    return kept


def _is_latest(point: MetricPoint, latest: Mapping[tuple[str, int], tuple[str, int]]) -> bool:
    last = latest.get((point.key, point.step))
    if last is None:
        return True
    value, timestamp = last
    if timestamp != point.timestamp:
        return False
    if isinstance(point.value, str) or value in ("NaN", "Infinity", "-Infinity"):
        return value == point.value
    return float(value) == point.value


def _refused(run_id: str, error: MlflowError) -> str:
    said = error.server_message or str(error)
    if "Changing param values is not allowed" in said:
        return (
            f"Run {run_id} already has a param with another value, and MLflow params"
            f" cannot change (MLflow said: {said})"
        )
    return f"MLflow refused this metric log for run {run_id} (MLflow said: {said})"


def _outcome(result: _Result, run_id: str, points: int) -> Outcome:
    details: dict[str, Any] = {"run_id": run_id, "points": points, "requests": result.requests}
    if result.failed is not None:
        return Outcome.failed(result.failed, {**details, **result.failed_details})
    if result.retry is not None:
        error = result.retry
        info = {**details, **error.details()}
        if isinstance(error, MlflowUnreachableError) and not error.reached:
            # Nothing reached the server: as for every other type, no attempt is used.
            return Outcome.unreachable(str(error), details=info)
        return Outcome.retry(str(error), retry_after=error.retry_after, details=info)
    return Outcome.done(details)
