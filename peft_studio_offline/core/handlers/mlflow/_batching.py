"""Packing metric operations for one run into as few ``runs/log-batch`` requests as fit.

MLflow's limits per request: 1,000 metrics, 100 params, 100 tags, 1,000 entities in all and
1 MB of JSON. Operations are taken in queue order; one may span several requests. A param
key is sent once per request (MLflow refuses duplicates even with the same value); a second
value for it, or a second value for a tag, starts a new request so the later value still
lands after the earlier one.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

from peft_studio_offline.core.handlers.mlflow._payloads import MetricLog


@dataclass(frozen=True, slots=True)
class BatchLimits:
    metrics: int = 1000
    params: int = 100
    tags: int = 100
    entities: int = 1000
    bytes: int = 1_000_000


MLFLOW_LIMITS = BatchLimits()


def _encode(item: object) -> bytes:
    return json.dumps(item, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(slots=True)
class LogBatchRequest:
    """One request body in the making, and the operations (by index) it carries."""

    run_id: str
    overhead: int
    metrics: list[bytes] = field(default_factory=list)
    params: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    tags: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    operations: list[int] = field(default_factory=list)
    size: int = 0

    @property
    def entities(self) -> int:
        return len(self.metrics) + len(self.params) + len(self.tags)

    def carries(self, index: int) -> None:
        if not self.operations or self.operations[-1] != index:
            self.operations.append(index)

    def body(self) -> bytes:
        parts = [b'{"run_id":', _encode(self.run_id)]
        if self.metrics:
            parts += [b',"metrics":[', b",".join(self.metrics), b"]"]
        if self.params:
            parts += [b',"params":[', b",".join(v[1] for v in self.params.values()), b"]"]
        if self.tags:
            parts += [b',"tags":[', b",".join(v[1] for v in self.tags.values()), b"]"]
        parts.append(b"}")
        return b"".join(parts)


class Packer:
    """Adds operations' points, params and tags; ``requests`` is the result."""

    def __init__(self, run_id: str, limits: BatchLimits = MLFLOW_LIMITS) -> None:
        self.run_id = run_id
        self.limits = limits
        # '{"run_id":"…"}' plus the three list openers and closers: counted once up front.
        self._overhead = len(_encode(run_id)) + 12 + 3 * len(b',"metrics":[]')
        self.requests: list[LogBatchRequest] = []
        self._current = self._new()

    def _new(self) -> LogBatchRequest:
        request = LogBatchRequest(self.run_id, self._overhead, size=self._overhead)
        self.requests.append(request)
        return request

    def _room(self, kind: str, cost: int) -> LogBatchRequest:
        """The current request if one more ``kind`` fits, else a new one."""
        request = self._current
        limit = {"metrics": self.limits.metrics, "params": self.limits.params,
                 "tags": self.limits.tags}[kind]  # fmt: skip
        count = len(getattr(request, kind))
        if request.entities and (
            count >= limit
            or request.entities >= self.limits.entities
            or request.size + cost > self.limits.bytes
        ):
            request = self._current = self._new()
        return request

    def add(self, index: int, log: MetricLog) -> None:
        for key, value in log.params.items():
            self._add_keyed("params", index, key, value)
        for key, value in log.tags.items():
            self._add_keyed("tags", index, key, value)
        for point in log.metrics:
            encoded = _encode(point.to_json())
            request = self._room("metrics", len(encoded) + 1)
            request.metrics.append(encoded)
            request.size += len(encoded) + 1
            request.carries(index)

    def _add_keyed(self, kind: str, index: int, key: str, value: str) -> None:
        held: dict[str, tuple[str, bytes]] = getattr(self._current, kind)
        if key in held:
            if held[key][0] == value:
                self._current.carries(index)
                return
            self._current = self._new()  # a second value: later, in a request of its own
        encoded = _encode({"key": key, "value": value})
        request = self._room(kind, len(encoded) + 1)
        getattr(request, kind)[key] = (value, encoded)
        request.size += len(encoded) + 1
        request.carries(index)

    def finish(self) -> list[LogBatchRequest]:
        return [r for r in self.requests if r.entities]


def request_key(request: LogBatchRequest, body: bytes, op_keys: list[str], whole: bool) -> str:
    """The ``Idempotency-Key`` of one request, the same on every attempt.

    A request that carries exactly one whole operation uses that operation's key; any other
    is named by its content (same operations and points, same key).
    """
    if whole and len(request.operations) == 1:
        return op_keys[request.operations[0]]
    return "mlflow-batch-" + hashlib.sha256(body).hexdigest()[:40]
