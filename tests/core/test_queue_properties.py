"""Property tests: persistence across a real restart, and the queue against a simple model."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    rule,
)

from peft_studio_offline import OfflineQueueManager, OperationStatus, OperationType

WORKER = Path(__file__).with_name("queue_worker.py")

# Any JSON value: text includes every kind of Unicode except lone surrogates, which UTF-8
# (and so SQLite) cannot hold; the queue refuses those with a clear error.
json_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | json_text,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(json_text, children, max_size=4)
    ),
    max_leaves=20,
)
payloads = st.dictionaries(json_text, json_values, max_size=6)
operation_types = st.sampled_from(list(OperationType))
priorities = st.integers(min_value=-100, max_value=100)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(operation_types, payloads, priorities), min_size=1, max_size=12))
def test_operations_persist_across_a_restart(
    items: list[tuple[OperationType, dict[str, Any], int]],
) -> None:
    """Spec, Property 3: what one process enqueued, a second process finds intact."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "queue.db"

        async def write() -> list[int]:
            async with OfflineQueueManager(path) as queue:
                first = await queue.enqueue(items[0][0], items[0][1], items[0][2])
                rest = await queue.enqueue_many(
                    [{"operation_type": t, "payload": p, "priority": pr} for t, p, pr in items[1:]]
                )
                return [first, *rest]

        ids = asyncio.run(write())
        dumped = subprocess.run(
            [sys.executable, str(WORKER), "dump", str(path)],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        stored = {record["id"]: record for record in map(json.loads, dumped.splitlines())}
        assert sorted(stored) == sorted(ids)
        for op_id, (operation_type, payload, priority) in zip(ids, items, strict=True):
            record = stored[op_id]
            assert record["operation_type"] == operation_type.value
            assert record["payload"] == payload
            assert record["priority"] == priority
            assert record["status"] == "pending"


class QueueModel(RuleBasedStateMachine):
    """Drives the real queue and a dictionary side by side; they must always agree."""

    pending = Bundle("pending")
    taken = Bundle("taken")

    def __init__(self) -> None:
        super().__init__()
        self.loop = asyncio.new_event_loop()
        self.folder = tempfile.TemporaryDirectory()
        self.path = Path(self.folder.name) / "queue.db"
        self.queue = self._open()
        self.model: dict[int, dict[str, Any]] = {}

    def _open(self) -> OfflineQueueManager:
        # backoff_base=0: a failed operation is due again at once, so ordering stays exact.
        return OfflineQueueManager(self.path, max_attempts=3, backoff_base=0)

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    @initialize()
    def start(self) -> None:
        self.run(self.queue.open())

    @rule(target=pending, operation_type=operation_types, payload=payloads, priority=priorities)
    def enqueue(self, operation_type: OperationType, payload: dict[str, Any], priority: int) -> int:
        op_id = self.run(self.queue.enqueue(operation_type, payload, priority))
        assert op_id not in self.model
        self.model[op_id] = {
            "status": "pending",
            "payload": payload,
            "priority": priority,
            "tries": 0,
        }
        return op_id

    @rule(limit=st.integers(min_value=1, max_value=5))
    def claim(self, limit: int) -> None:
        expected = self._ready_order()[:limit]
        claimed = [op.id for op in self.run(self.queue.claim(limit))]
        assert claimed == expected
        for op_id in claimed:
            self.model[op_id]["status"] = "in_progress"

    @rule(op_id=pending)
    def complete(self, op_id: int) -> None:
        if op_id not in self.model:
            return
        self.run(self.queue.mark_completed(op_id))
        self.model[op_id]["status"] = "completed"

    @rule(op_id=pending)
    def fail(self, op_id: int) -> None:
        if op_id not in self.model:
            return
        entry = self.model[op_id]
        result = self.run(self.queue.mark_failed(op_id, "boom"))
        entry["tries"] += 1
        entry["status"] = "failed" if entry["tries"] >= 3 else "pending"
        assert result.status.value == entry["status"]
        assert result.retry_count == entry["tries"]

    @rule(op_id=pending)
    def cancel(self, op_id: int) -> None:
        entry = self.model.get(op_id)
        if entry is None or entry["status"] in ("completed", "in_progress", "cancelled"):
            return
        self.run(self.queue.cancel(op_id))
        entry["status"] = "cancelled"

    @rule(op_id=consumes(pending))
    def delete(self, op_id: int) -> None:
        existed = self.run(self.queue.delete_operation(op_id))
        assert existed == (op_id in self.model)
        self.model.pop(op_id, None)

    @rule()
    def reopen(self) -> None:
        self.run(self.queue.close())
        self.queue = self._open()
        self.run(self.queue.open())
        for entry in self.model.values():
            if entry["status"] == "in_progress":
                entry["status"] = "pending"

    def _ready_order(self) -> list[int]:
        ready = [i for i, e in self.model.items() if e["status"] == "pending"]
        return sorted(ready, key=lambda i: (-self.model[i]["priority"], i))

    @invariant()
    def stats_match(self) -> None:
        stats = self.run(self.queue.get_queue_stats())
        for status in OperationStatus:
            expected = sum(1 for e in self.model.values() if e["status"] == status.value)
            assert stats[status.value] == expected, status
        assert stats["total"] == len(self.model)

    @invariant()
    def pending_order_and_payloads_match(self) -> None:
        pending = self.run(self.queue.get_pending_operations())
        assert [op.id for op in pending] == self._ready_order()
        for op in pending:
            assert op.payload == self.model[op.id]["payload"]

    def teardown(self) -> None:
        self.run(self.queue.close())
        self.loop.close()
        self.folder.cleanup()


QueueModel.TestCase.settings = settings(
    max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
)
test_queue_matches_its_model = QueueModel.TestCase


# What may happen to an operation before the question "is it ready?" is asked.
FATES = st.sampled_from(["pending", "later", "completed", "failed", "cancelled", "in_progress"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            FATES,
            st.lists(st.integers(min_value=0, max_value=7), max_size=2),  # earlier ones
            st.sampled_from([None, "a", "b"]),  # the resource it changes
        ),
        min_size=1,
        max_size=8,
    )
)
def test_the_sql_of_readiness_and_the_words_of_waiting_agree(
    plans: list[tuple[str, list[int], str | None]],
) -> None:
    """Two statements of one rule: the claim's SQL (``get_pending_operations``) and the
    sentence the inspect view shows (``wait_reason``). A pending operation is taken by a sync
    exactly when its sentence says it is ready."""

    async def check(path: Path) -> None:
        async with OfflineQueueManager(path) as queue:
            ids: list[int] = []
            for fate, earlier, resource in plans:
                options: dict[str, Any] = {}
                depends = sorted({ids[i] for i in earlier if i < len(ids)})
                if depends:
                    options["depends_on"] = depends
                if resource is not None:
                    options["resource_key"] = resource
                if fate == "later":
                    options["not_before"] = 4_000_000_000  # a retry due in years
                ids.append(
                    await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/"}, **options)
                )
            for op_id, (fate, _, _) in zip(ids, plans, strict=True):
                if fate == "cancelled":
                    await queue.cancel(op_id)
                    continue
                if fate not in ("completed", "failed", "in_progress"):
                    continue
                others = set(ids) - {op_id}
                if not await queue.claim(1, exclude_ids=others):
                    continue  # not ready to be taken: it stays pending
                if fate == "completed":
                    await queue.mark_completed(op_id)
                elif fate == "failed":
                    await queue.mark_failed(op_id, "refused", permanent=True)
            ready = {op.id for op in await queue.get_pending_operations()}
            for op_id in ids:
                op = await queue.get_operation(op_id)
                assert op is not None
                if op.status is not OperationStatus.PENDING:
                    continue
                said = await queue.wait_reason(op_id)
                assert (op_id in ready) == (said == "Ready: waiting for the next sync."), (
                    op_id,
                    said,
                    plans,
                )

    with tempfile.TemporaryDirectory() as folder:
        asyncio.run(check(Path(folder) / "queue.db"))
