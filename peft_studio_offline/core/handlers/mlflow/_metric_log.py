"""The built-in ``METRIC_LOG`` handler: metrics, params and tags through ``runs/log-batch``.

Consecutive operations for one run are coalesced (the engine groups them by ``batch_key``)
into as few requests as MLflow's limits allow. Every point's timestamp and step were fixed
when it was queued (or, for a payload queued without them, derive from the operation's
creation time), so a resend after a lost answer is the same data, and MLflow stores an
identical (key, value, timestamp, step) once.

A parameter that already has another value on the run is a conflict of the operation that
logged it, and of no other: the rest of that operation (its metrics, tags and other params)
is sent, and the params in question wait for the conflict strategy. MLflow params never
change, so "remote wins" drops the local values, "local wins" cannot be carried out and
parks the conflict for a person, who may keep the server's values or send merged ones (the
same value, or the local one under another name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from peft_studio_offline.core.enums import ConflictResolution
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
    # Params the run already holds with another value: key -> (local, the server's).
    clashes: dict[str, tuple[str, str]] = field(default_factory=dict)

    def fail(self, message: str, details: Mapping[str, Any]) -> None:
        if self.failed is None:
            self.failed, self.failed_details = message, dict(details)


class MetricLogHandler(TrackingHandler):
    """Sends ``metric_log`` operations, coalescing those for the same run."""

    # Its only conflict is a param the server holds with another value, which never changes.
    keep_local_refusal = (
        "MLflow params never change, so your value cannot replace the server's: keep theirs,"
        " or merge (for instance your value under another name)."
    )

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
                index = request.operations[0]
                await self._refused(client, run_id, index, by_index[index], keys, results, error)
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
                await self._refused(client, run_id, index, log, keys, results, error)
                return

    async def _refused(
        self,
        client: MlflowRestClient,
        run_id: str,
        index: int,
        log: MetricLog,
        keys: list[str],
        results: dict[int, _Result],
        error: MlflowError,
    ) -> None:
        """One operation the server refused: a failure, or for params the run holds with
        other values a conflict, once the rest of the operation is sent."""
        clashes = await _param_clashes(client, run_id, log, error)
        if not clashes:
            results[index].fail(_refused_words(run_id, error), error.details())
            return
        rest = replace(log, params={k: v for k, v in log.params.items() if k not in clashes})
        await self._send_alone(client, run_id, index, rest, keys, results)
        results[index].clashes = clashes

    def resend_payload(
        self,
        operation: Operation,
        resolution: ConflictResolution,
        *,
        merged: Any = None,
        remote: Any = None,
        remote_version: str | None = None,
    ) -> dict[str, Any]:
        """After a param conflict the rest of the operation was sent: only the params in
        question go again, as logged here, or what the merge holds."""
        payload: dict[str, Any] = {"run_id": operation.payload.get("run_id")}
        if resolution is ConflictResolution.MERGE and isinstance(merged, Mapping):
            payload.update({k: merged[k] for k in ("params", "tags", "metrics") if k in merged})
            return payload
        clashing = remote.get("params") if isinstance(remote, Mapping) else None
        logged = operation.payload.get("params") or {}
        payload["params"] = {k: logged[k] for k in clashing or logged if k in logged}
        return payload

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


_PARAM_CHANGE = "Changing param values is not allowed"


async def _param_clashes(
    client: MlflowRestClient, run_id: str, log: MetricLog, error: MlflowError
) -> dict[str, tuple[str, str]]:
    """The params of ``log`` the run holds with other values, when that is the refusal."""
    if not log.params or _PARAM_CHANGE not in (error.server_message or str(error)):
        return {}
    try:
        run = await client.get_run(run_id)
    except MlflowError:
        return {}
    held = {str(p.get("key")): str(p.get("value")) for p in run.get("data", {}).get("params", [])}
    return {k: (v, held[k]) for k, v in log.params.items() if k in held and held[k] != v}


def _refused_words(run_id: str, error: MlflowError) -> str:
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
    if result.clashes and result.retry is None:
        names = ", ".join(sorted(result.clashes))
        return Outcome.conflict(
            f"Run {run_id} already has the param(s) {names} with other values, and MLflow"
            " params cannot change; the rest of this log was sent.",
            local={"params": {k: local for k, (local, _) in result.clashes.items()}},
            remote={"params": {k: held for k, (_, held) in result.clashes.items()}},
            details=details,
            local_can_win=False,
        )
    if result.retry is not None:
        error = result.retry
        info = {**details, **error.details()}
        if isinstance(error, MlflowUnreachableError) and not error.reached:
            # Nothing reached the server: as for every other type, no attempt is used.
            return Outcome.unreachable(str(error), details=info)
        return Outcome.retry(str(error), retry_after=error.retry_after, details=info)
    return Outcome.done(details)
