"""The queue's contract, one behaviour at a time, on real SQLite files."""

from __future__ import annotations

import json
import math
from datetime import timedelta
from pathlib import Path

import pytest

from peft_studio_offline import OfflineQueueManager, OperationStatus, OperationType
from peft_studio_offline.core.errors import (
    InvalidOperationError,
    InvalidStateError,
    OperationNotFoundError,
    QueueFullError,
)
from peft_studio_offline.core.events import QueueChange
from tests.support.sqlite_files import connected


class Clock:
    """A clock the test moves by hand, for backoff, leases and expiry."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


async def test_enqueue_is_committed_and_readable_by_plain_sqlite(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        op_id = await queue.enqueue(
            OperationType.API_CALL, {"endpoint": "/api/models", "method": "GET"}, priority=5
        )
        # A second, unrelated connection sees the row: it is committed, with the spec's columns.
        with connected(db_path) as conn:
            row = conn.execute(
                "SELECT operation_type, payload, status, priority, retry_count, error_message,"
                " created_at, updated_at FROM offline_operations WHERE id = ?",
                (op_id,),
            ).fetchone()
    assert row[0] == "api_call"
    assert row[1] == '{"endpoint":"/api/models","method":"GET"}'
    assert row[2:6] == ("pending", 5, 0, None)
    assert row[6] and row[7]


async def test_string_type_accepted_and_operation_fields(db_path: Path) -> None:
    async with OfflineQueueManager(db_path, max_attempts=3) as queue:
        op_id = await queue.enqueue("metric_log", {"run_id": "r1", "metrics": {"loss": 0.5}})
        operation = await queue.get_operation(op_id)
    assert operation is not None
    assert operation.operation_type is OperationType.METRIC_LOG
    assert operation.payload == {"run_id": "r1", "metrics": {"loss": 0.5}}
    assert operation.status is OperationStatus.PENDING
    assert operation.max_attempts == 3
    assert len(operation.idempotency_key) == 32


class _UnhashableText(str):
    __hash__ = None  # type: ignore[assignment]


@pytest.mark.parametrize(
    ("operation_type", "payload", "priority", "options"),
    [
        ("teleport", {}, 0, {}),
        (_UnhashableText("api_call"), {}, 0, {}),
        ("api_call", [1, 2], 0, {}),
        ("api_call", "text", 0, {}),
        ("api_call", {"x": object()}, 0, {}),
        ("api_call", {"x": float("nan")}, 0, {}),
        ("api_call", {1: "int key"}, 0, {}),
        ("api_call", {"ok": 1, 2: "a later key that is not text"}, 0, {}),
        ("api_call", {"x": -math.inf}, 0, {}),
        ("api_call", {"s": "\ud800"}, 0, {}),
        ("api_call", {}, "high", {}),
        ("api_call", {}, 0, {"max_attempts": 0}),
        ("api_call", {}, 0, {"ttl": -1}),
        ("api_call", {}, 0, {"depends_on": ["x"]}),
        ("api_call", {}, 0, {"colour": "red"}),
        ("api_call", {}, 0, {"conflict_strategy": "coin_toss"}),
    ],
)
async def test_bad_input_raises_value_error_and_writes_nothing(
    db_path: Path,
    operation_type: str,
    payload: object,
    priority: object,
    options: dict[str, object],
) -> None:
    async with OfflineQueueManager(db_path) as queue:
        with pytest.raises(ValueError) as caught:
            await queue.enqueue(operation_type, payload, priority, **options)  # type: ignore[arg-type]
        assert str(caught.value).endswith(".")
        assert (await queue.get_queue_stats())["total"] == 0


async def test_deeply_nested_payload_is_refused_cleanly(db_path: Path) -> None:
    payload: dict[str, object] = {}
    inner = payload
    for _ in range(100_000):
        inner["a"] = {}
        inner = inner["a"]  # type: ignore[assignment]
    async with OfflineQueueManager(db_path) as queue:
        with pytest.raises(InvalidOperationError, match="nested too deeply"):
            await queue.enqueue("api_call", payload)
        assert (await queue.get_queue_stats())["total"] == 0


async def test_a_payload_that_holds_itself_is_refused(db_path: Path) -> None:
    looped: dict[str, object] = {"name": "run"}
    looped["self"] = looped
    listed: list[object] = [1]
    listed.append(listed)
    async with OfflineQueueManager(db_path) as queue:
        for payload in (looped, {"items": listed}):
            with pytest.raises(InvalidOperationError, match="contains itself"):
                await queue.enqueue("api_call", payload)
        assert (await queue.get_queue_stats())["total"] == 0


async def _stored_text(db_path: Path, payload: dict[str, object]) -> str:
    """Enqueue ``payload``, check that it reads back equal, return the text in the table."""
    async with OfflineQueueManager(db_path) as queue:
        op_id = await queue.enqueue("api_call", payload)
        operation = await queue.get_operation(op_id)
    assert operation is not None and operation.payload == payload
    with connected(db_path) as conn:
        (text,) = conn.execute("SELECT payload FROM offline_operations").fetchone()
    return str(text)


async def test_payloads_store_as_compact_json(db_path: Path) -> None:
    payload = {"x": [1, 2.5, None, True, "ü", {"k": "v"}], "big": 2**70, "tiny": 1e-300}
    assert (
        await _stored_text(db_path, payload)
        == '{"x":[1,2.5,null,true,"ü",{"k":"v"}],"big":1180591620717411303424,"tiny":1e-300}'
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"big": 2**70, "negative": -(2**64)},  # beyond 64 bits
        {"none": None, "loss": 0.25},  # a real null next to a float
        {"nullable": "null", "zero": -0.0, "small": 1e-7, "huge": 1.5e300},
        {"ü": "Straße 🙂", "tab\t": "line\nbreak", "quote": '"'},
        {},
    ],
)
async def test_flat_payloads_keep_every_value(db_path: Path, payload: dict[str, object]) -> None:
    """A dict of plain values takes the fast encoder; what it cannot write goes the long way."""
    text = await _stored_text(db_path, payload)
    assert json.loads(text) == payload and " " not in text.replace("Straße 🙂", "")


async def test_pending_order_is_priority_then_age(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        low = await queue.enqueue("api_call", {"n": 1}, priority=0)
        high = await queue.enqueue("api_call", {"n": 2}, priority=9)
        low2 = await queue.enqueue("api_call", {"n": 3}, priority=0)
        mid = await queue.enqueue("api_call", {"n": 4}, priority=5)
        ids = [op.id for op in await queue.get_pending_operations()]
        assert ids == [high, mid, low, low2]
        assert [op.id for op in await queue.get_pending_operations(limit=2)] == [high, mid]
        assert await queue.get_pending_operations(limit=0) == []
        with pytest.raises(ValueError, match="limit"):
            await queue.get_pending_operations(limit=-1)


async def test_failure_backs_off_then_fails_at_the_limit(db_path: Path) -> None:
    clock = Clock()
    async with OfflineQueueManager(db_path, max_attempts=3, clock=clock) as queue:
        op_id = await queue.enqueue("api_call", {})
        first = await queue.mark_failed(op_id, "connection refused")
        assert first.status is OperationStatus.PENDING
        assert first.retry_count == 1
        assert first.next_attempt_at is not None
        delay = first.next_attempt_at.timestamp() - clock.now
        assert 0 <= delay <= 5  # the first retry is due within 5 s
        second = await queue.mark_failed(op_id, "timeout")
        assert second.status is OperationStatus.PENDING
        third = await queue.mark_failed(op_id, "503 Service Unavailable")
        assert third.status is OperationStatus.FAILED
        assert third.retry_count == 3
        assert third.error_message == "503 Service Unavailable"
        history = await queue.get_attempts(op_id)
        assert [a.outcome for a in history] == ["retry", "retry", "failed"]
        assert [a.error for a in history] == [
            "connection refused",
            "timeout",
            "503 Service Unavailable",
        ]


async def test_backoff_is_capped_at_five_minutes(db_path: Path) -> None:
    queue = OfflineQueueManager(db_path)
    delays = [queue.backoff_delay(attempt) for attempt in range(1, 40) for _ in range(20)]
    assert max(delays) <= 300
    assert min(delays) >= 0
    assert max(queue.backoff_delay(1) for _ in range(200)) <= 4


async def test_not_due_operations_are_not_pending_or_claimed(db_path: Path) -> None:
    clock = Clock()
    async with OfflineQueueManager(db_path, clock=clock) as queue:
        op_id = await queue.enqueue("api_call", {})
        await queue.mark_failed(op_id, "boom", retry_after=60)
        assert await queue.get_pending_operations() == []
        assert await queue.claim(10) == []
        reason = await queue.wait_reason(op_id)
        assert reason is not None and reason.startswith("Retry at")
        clock.advance(61)
        assert [op.id for op in await queue.claim(10)] == [op_id]


async def test_permanent_failure_skips_retries(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        op_id = await queue.enqueue("api_call", {})
        operation = await queue.mark_failed(op_id, "404 Not Found", permanent=True)
        assert operation.status is OperationStatus.FAILED
        assert operation.retry_count == 1


async def test_per_operation_max_attempts(db_path: Path) -> None:
    async with OfflineQueueManager(db_path, max_attempts=10) as queue:
        op_id = await queue.enqueue("api_call", {}, max_attempts=1)
        assert (await queue.mark_failed(op_id, "no")).status is OperationStatus.FAILED


async def test_claim_takes_each_operation_once(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        ids = await queue.enqueue_many(
            [{"operation_type": "api_call", "payload": {"n": n}} for n in range(25)]
        )
        first = await queue.claim(10)
        second = await queue.claim(10)
        third = await queue.claim(10)
        taken = [op.id for op in first + second + third]
        assert sorted(taken) == ids
        assert all(op.status is OperationStatus.IN_PROGRESS for op in first)
        assert await queue.claim(10) == []
        stats = await queue.get_queue_stats()
        assert stats["in_progress"] == 25 and stats["pending"] == 0


async def test_release_puts_back_without_counting_an_attempt(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        op_id = await queue.enqueue("api_call", {})
        await queue.claim(1)
        assert await queue.release([op_id], "the network went away") == 1
        operation = await queue.get_operation(op_id)
        assert operation is not None
        assert operation.status is OperationStatus.PENDING
        assert operation.retry_count == 0


async def test_expired_lease_returns_to_pending(db_path: Path) -> None:
    clock = Clock()
    async with OfflineQueueManager(db_path, clock=clock, lease_seconds=30) as holder:
        op_id = await holder.enqueue("api_call", {})
        assert [op.id for op in await holder.claim(1)] == [op_id]
        # Another holder (another process, say) sees the lease run out and takes it over.
        async with OfflineQueueManager(db_path, clock=clock, lease_seconds=30) as other:
            assert await other.claim(1) == []
            clock.advance(31)
            assert [op.id for op in await other.claim(1)] == [op_id]
            history = await other.get_attempts(op_id)
            assert history[-1].outcome == "released"


async def test_close_puts_back_what_was_taken(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        op_id = await queue.enqueue("api_call", {})
        await queue.claim(1)
    async with OfflineQueueManager(db_path) as queue:
        operation = await queue.get_operation(op_id)
        assert operation is not None and operation.status is OperationStatus.PENDING


async def test_stats_counts_every_status(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        ids = await queue.enqueue_many(
            [{"operation_type": "api_call", "payload": {}} for _ in range(6)]
        )
        await queue.mark_completed(ids[0])
        await queue.mark_failed(ids[1], "x", permanent=True)
        await queue.cancel(ids[2])
        await queue.mark_conflict(ids[3], local={"a": 1}, remote={"a": 2})
        await queue.claim(1)
        stats = await queue.get_queue_stats()
    assert stats == {
        "pending": 1,
        "in_progress": 1,
        "completed": 1,
        "failed": 1,
        "conflict": 1,
        "cancelled": 1,
        "expired": 0,
        "exported": 0,
        "total": 6,
    }


async def test_delete_and_clear_completed(db_path: Path) -> None:
    clock = Clock()
    async with OfflineQueueManager(db_path, clock=clock) as queue:
        ids = await queue.enqueue_many(
            [{"operation_type": "api_call", "payload": {}} for _ in range(4)]
        )
        assert await queue.delete_operation(ids[0]) is True
        assert await queue.delete_operation(ids[0]) is False
        assert await queue.get_operation(ids[0]) is None
        await queue.mark_completed(ids[1])
        clock.advance(3600)
        await queue.mark_completed(ids[2])
        assert await queue.clear_completed(older_than=timedelta(minutes=30)) == 1
        assert await queue.clear_completed() == 1
        assert (await queue.get_queue_stats())["total"] == 1
        # A deleted id is never handed out again.
        new_id = await queue.enqueue("api_call", {})
        assert new_id > ids[-1]


async def test_mark_completed_many_records_each_in_one_commit(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        ids = await queue.enqueue_many(
            [{"operation_type": "api_call", "payload": {"n": n}} for n in range(4)]
        )
        await queue.claim(4)
        await queue.mark_failed(ids[1], "timed out")  # its success will be attempt 2
        await queue.mark_conflict(ids[2], local={"a": 1}, remote={"a": 2})
        await queue.delete_operation(ids[3])  # deleted while its request was out
        changes: list[QueueChange] = []
        queue.changes.subscribe(changes.append)
        recorded = await queue.mark_completed_many(
            [ids[0], ids[1], ids[2], ids[3], ids[0]],
            details={ids[0]: {"status": 201, "response": {"ok": "ü"}}},
        )
        assert recorded == ids[:3]
        assert [c.ids for c in changes if c.kind == "changed"] == [tuple(ids[:3])]
        for op_id in ids[:3]:
            operation = await queue.get_operation(op_id)
            assert operation is not None and operation.status is OperationStatus.COMPLETED
        first, second = await queue.get_attempts(ids[0]), await queue.get_attempts(ids[1])
        assert (first[-1].outcome, first[-1].attempt) == ("completed", 1)
        assert first[-1].details == {"status": 201, "response": {"ok": "ü"}}
        assert (second[-1].outcome, second[-1].attempt, second[-1].details) == (
            "completed",
            2,
            {},
        )
        assert await queue.get_conflict(ids[2]) is None
        stats = await queue.get_queue_stats()
        assert stats["completed"] == 3 and stats["in_progress"] == 0 and stats["total"] == 3


async def test_completion_details_may_hold_nan_and_infinity(db_path: Path) -> None:
    """A service may answer a NaN loss; its success is recorded all the same."""
    async with OfflineQueueManager(db_path) as queue:
        ids = await queue.enqueue_many(
            [{"operation_type": "metric_log", "payload": {"n": n}} for n in range(2)]
        )
        details = {ids[0]: {"response": {"loss": math.nan}}, ids[1]: {"max": math.inf}}
        assert await queue.mark_completed_many(ids, details=details) == ids
        first, second = await queue.get_attempts(ids[0]), await queue.get_attempts(ids[1])
        stats = await queue.get_queue_stats()
    assert math.isnan(first[-1].details["response"]["loss"])
    assert second[-1].details == {"max": math.inf}
    assert stats["completed"] == 2


async def test_mark_completed_many_refuses_bad_ids_and_writes_nothing(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        op_id = await queue.enqueue("api_call", {})
        with pytest.raises(InvalidOperationError, match="must be integers"):
            await queue.mark_completed_many([op_id, "2"])  # type: ignore[list-item]
        assert await queue.mark_completed_many([]) == []
        operation = await queue.get_operation(op_id)
        assert operation is not None and operation.status is OperationStatus.PENDING


async def test_unknown_id_is_a_clear_error(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        with pytest.raises(OperationNotFoundError, match="No operation with id 99"):
            await queue.mark_completed(99)
        with pytest.raises(OperationNotFoundError):
            await queue.mark_failed(99, "x")


async def test_ttl_expires_with_a_clear_status(db_path: Path) -> None:
    clock = Clock()
    async with OfflineQueueManager(db_path, clock=clock) as queue:
        op_id = await queue.enqueue("metric_log", {"run_id": "r"}, ttl=60)
        keep = await queue.enqueue("metric_log", {"run_id": "r"})
        clock.advance(61)
        assert [op.id for op in await queue.claim(10)] == [keep]
        operation = await queue.get_operation(op_id)
        assert operation is not None
        assert operation.status is OperationStatus.EXPIRED
        assert operation.error_message and "time to live" in operation.error_message
        assert (await queue.get_queue_stats())["expired"] == 1


async def test_dependencies_hold_until_completed(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        first = await queue.enqueue("model_push", {"path": "/a"})
        second = await queue.enqueue("api_call", {"n": 2}, depends_on=[first], priority=10)
        assert [op.id for op in await queue.claim(10)] == [first]
        assert (await queue.wait_reason(second)) == f"Waiting for operation {first} (in progress)."
        await queue.mark_failed(first, "boom", permanent=True)
        assert await queue.claim(10) == []
        assert "Held" in (await queue.wait_reason(second) or "")
        await queue.retry_now(first)
        assert [op.id for op in await queue.claim(10)] == [first]
        await queue.mark_completed(first)
        claimed = await queue.claim(10)
        assert [op.id for op in claimed] == [second]
        assert claimed[0].depends_on == (first,)
        # A completed dependency of an unfinished operation survives clearing.
        assert await queue.clear_completed() == 0


async def test_missing_dependency_is_refused(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        with pytest.raises(InvalidOperationError, match="does not exist"):
            await queue.enqueue("api_call", {}, depends_on=[42])
        assert (await queue.get_queue_stats())["total"] == 0


async def test_same_resource_keeps_queue_order(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        a = await queue.enqueue("experiment_sync", {"run_id": "r"}, resource_key="run:r")
        b = await queue.enqueue(
            "experiment_sync", {"run_id": "r"}, resource_key="run:r", priority=9
        )
        c = await queue.enqueue("experiment_sync", {"run_id": "s"}, resource_key="run:s")
        assert sorted(op.id for op in await queue.claim(10)) == [a, c]
        await queue.mark_completed(a)
        assert [op.id for op in await queue.claim(10)] == [b]


async def test_cancel(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        op_id = await queue.enqueue("api_call", {})
        await queue.cancel(op_id)
        operation = await queue.get_operation(op_id)
        assert operation is not None and operation.status is OperationStatus.CANCELLED
        assert await queue.claim(10) == []
        with pytest.raises(InvalidStateError):
            await queue.cancel(op_id)


async def test_dedup_key_returns_the_existing_operation(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        first = await queue.enqueue("experiment_sync", {"v": 1}, dedup_key="run-1-tags")
        again = await queue.enqueue("experiment_sync", {"v": 2}, dedup_key="run-1-tags")
        assert again == first
        many = await queue.enqueue_many(
            [
                {"operation_type": "api_call", "payload": {}, "dedup_key": "k"},
                {"operation_type": "api_call", "payload": {}, "dedup_key": "k"},
            ]
        )
        assert many[0] == many[1] != first
        await queue.mark_completed(first)
        assert await queue.enqueue("experiment_sync", {"v": 3}, dedup_key="run-1-tags") != first


async def test_queue_size_limit_rejects_by_default(db_path: Path) -> None:
    async with OfflineQueueManager(db_path, max_size=2) as queue:
        await queue.enqueue("api_call", {})
        await queue.enqueue("api_call", {})
        with pytest.raises(QueueFullError, match="queue is full"):
            await queue.enqueue("api_call", {})
        with pytest.raises(QueueFullError):
            await queue.enqueue_many([{"operation_type": "api_call", "payload": {}}])
        assert (await queue.get_queue_stats())["total"] == 2


async def test_drop_oldest_overflow_records_what_was_dropped(db_path: Path) -> None:
    async with OfflineQueueManager(db_path, max_size=2, overflow="drop_oldest") as queue:
        first = await queue.enqueue("metric_log", {"n": 1})
        await queue.enqueue("metric_log", {"n": 2})
        await queue.enqueue("metric_log", {"n": 3})
        dropped = await queue.get_operation(first)
        assert dropped is not None and dropped.status is OperationStatus.CANCELLED
        assert dropped.error_message and "queue was full" in dropped.error_message


async def test_large_payloads_are_compressed_transparently(db_path: Path) -> None:
    payload = {"blob": "lora " * 200_000, "n": 1}
    async with OfflineQueueManager(db_path, compress_threshold=1024) as queue:
        op_id = await queue.enqueue("api_call", payload)
        operation = await queue.get_operation(op_id)
    assert operation is not None and operation.payload == payload
    with connected(db_path) as conn:
        text, blob = conn.execute(
            "SELECT payload, payload_blob FROM offline_operations WHERE id = ?", (op_id,)
        ).fetchone()
    assert len(blob) < len(payload["blob"]) / 20
    assert '"$compressed"' in text


async def test_enqueue_many_is_all_or_nothing(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        with pytest.raises(InvalidOperationError, match="Item 1"):
            await queue.enqueue_many(
                [
                    {"operation_type": "api_call", "payload": {}},
                    {"operation_type": "api_call", "payload": "not an object"},
                ]
            )
        assert (await queue.get_queue_stats())["total"] == 0


async def test_change_events(db_path: Path) -> None:
    events: list[QueueChange] = []
    async with OfflineQueueManager(db_path) as queue:
        queue.changes.subscribe(events.append)
        op_id = await queue.enqueue("api_call", {})
        await queue.claim(1)
        await queue.mark_completed(op_id)
        await queue.delete_operation(op_id)
    assert [e.kind for e in events] == ["added", "changed", "changed", "removed"]
    assert all(e.ids == (op_id,) for e in events)


async def test_list_and_count_with_filters(db_path: Path) -> None:
    async with OfflineQueueManager(db_path) as queue:
        await queue.enqueue("api_call", {"endpoint": "/alpha"})
        beta = await queue.enqueue("metric_log", {"run_id": "beta"})
        await queue.mark_completed(beta)
        assert [op.id for op in await queue.list_operations(search="beta")] == [beta]
        assert await queue.count_operations(status="completed") == 1
        assert await queue.count_operations(operation_type="api_call") == 1
        page = await queue.list_operations(limit=1, descending=True)
        assert [op.id for op in page] == [beta]
