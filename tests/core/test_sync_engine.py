"""SyncEngine basics: handlers, outcomes, results, order, concurrency, events, history."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus, OperationType
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync import HandlerContext, Outcome
from peft_studio_offline.core.sync.engine import SyncEngine
from peft_studio_offline.core.sync.progress import SyncEvent


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    async with OfflineQueueManager(tmp_path / "q.db", backoff_base=0.01) as q:
        yield q


@pytest.fixture
async def engine(queue: OfflineQueueManager) -> AsyncIterator[SyncEngine]:
    async with SyncEngine(queue, None, concurrency=4, batch_size=10) as e:
        yield e


async def test_builtin_handlers_are_registered_on_every_engine(engine: SyncEngine) -> None:
    handled = engine.get_status()["handlers"]
    assert "api_call" in handled and "file_upload" in handled


async def test_simple_handler_true_false_and_raising(
    queue: OfflineQueueManager, engine: SyncEngine
) -> None:
    async def handler(payload: dict[str, Any]) -> bool:
        if payload["n"] == 2:
            raise RuntimeError("boom")
        return bool(payload["n"] % 2)

    engine.register_handler("api_call", handler)
    ids = [await queue.enqueue(OperationType.API_CALL, {"n": n}) for n in range(4)]
    result = await engine.sync()
    assert (result["total"], result["completed"], result["failed"], result["conflicts"]) == (
        4,
        2,
        2,
        0,
    )
    errors = {e["id"]: e["error"] for e in result["errors"]}
    assert set(errors) == {ids[0], ids[2]}
    assert "RuntimeError: boom" in errors[ids[2]]
    for op_id in (ids[0], ids[2]):
        op = await queue.get_operation(op_id)
        assert op is not None
        assert op.status is OperationStatus.PENDING and op.retry_count == 1  # retried later


async def test_register_handler_replaces_and_rich_outcomes(
    queue: OfflineQueueManager, engine: SyncEngine
) -> None:
    class Rich:
        async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
            kind = operation.payload["kind"]
            if kind == "done":
                return Outcome.done({"remote_id": 7})
            if kind == "later":
                return Outcome.retry("busy", retry_after=60)
            return Outcome.failed("refused for good")

    engine.register_handler(OperationType.API_CALL, Rich())
    done = await queue.enqueue("api_call", {"kind": "done"})
    later = await queue.enqueue("api_call", {"kind": "later"})
    never = await queue.enqueue("api_call", {"kind": "never"})
    result = await engine.sync()
    assert result["completed"] == 1 and result["failed"] == 2
    assert (await queue.get_attempts(done))[-1].details == {"remote_id": 7}
    later_op = await queue.get_operation(later)
    assert later_op is not None and later_op.status is OperationStatus.PENDING
    assert later_op.next_attempt_at is not None
    gap = later_op.next_attempt_at.timestamp() - later_op.updated_at.timestamp()
    assert abs(gap - 60) < 1
    never_op = await queue.get_operation(never)
    assert never_op is not None and never_op.status is OperationStatus.FAILED
    assert never_op.error_message == "refused for good"
    # Nothing is due any more: a second sync does nothing.
    assert (await engine.sync())["total"] == 0


async def test_conflict_strategy_accepts_enum_and_string(engine: SyncEngine) -> None:
    engine.set_conflict_strategy("merge")
    assert engine.conflict_strategy is ConflictResolution.MERGE
    engine.set_conflict_strategy(ConflictResolution.MANUAL)
    assert engine.get_status()["conflict_strategy"] == "manual"
    with pytest.raises(ValueError, match="conflict strategy"):
        engine.set_conflict_strategy("whatever")


async def test_unknown_option_and_bad_sizes_are_refused(queue: OfflineQueueManager) -> None:
    with pytest.raises(ValueError, match="option"):
        SyncEngine(queue, None, speed=3)
    with pytest.raises(ValueError, match="concurrency"):
        SyncEngine(queue, None, concurrency=0)


async def test_bounded_concurrency_and_every_operation_once(
    queue: OfflineQueueManager, engine: SyncEngine
) -> None:
    running = 0
    peak = 0
    seen: list[int] = []

    async def handler(payload: dict[str, Any]) -> bool:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.02)
        seen.append(payload["n"])
        running -= 1
        return True

    engine.register_handler("api_call", handler)
    await queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"n": n}} for n in range(30)]
    )
    result = await engine.sync()
    assert result["completed"] == 30
    assert sorted(seen) == list(range(30))
    assert 2 <= peak <= 4  # in parallel, never more than the configured concurrency


async def test_resource_order_and_dependencies_are_kept(
    queue: OfflineQueueManager, engine: SyncEngine
) -> None:
    order: list[str] = []

    async def handler(payload: dict[str, Any]) -> bool:
        # Later operations are quicker: without ordering they would overtake.
        await asyncio.sleep(0.03 if payload["name"].endswith("1") else 0.0)
        order.append(payload["name"])
        return True

    engine.register_handler("api_call", handler)
    a1 = await queue.enqueue("api_call", {"name": "a1"}, resource_key="A")
    await queue.enqueue("api_call", {"name": "a2"}, resource_key="A")
    await queue.enqueue("api_call", {"name": "b1"})
    await queue.enqueue("api_call", {"name": "c2"}, depends_on=[a1])
    result = await engine.sync()
    assert result["completed"] == 4
    assert order.index("a1") < order.index("a2")
    assert order.index("a1") < order.index("c2")


async def test_handler_resource_key_orders_within_a_run(
    queue: OfflineQueueManager, engine: SyncEngine
) -> None:
    order: list[int] = []

    class Keyed:
        def resource_key(self, payload: dict[str, Any]) -> str:
            return "same"

        async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
            await asyncio.sleep(0.01 * (5 - operation.payload["n"]))
            order.append(operation.payload["n"])
            return Outcome.done()

    engine.register_handler("api_call", Keyed())
    for n in range(5):
        await queue.enqueue("api_call", {"n": n})
    assert (await engine.sync())["completed"] == 5
    assert order == [0, 1, 2, 3, 4]


async def test_a_resource_key_of_its_own_lets_an_operation_go_in_parallel(
    queue: OfflineQueueManager, engine: SyncEngine
) -> None:
    in_flight: list[int] = []
    most = 0

    class Keyed:
        def resource_key(self, payload: dict[str, Any]) -> str:
            return "one collection"

        async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
            nonlocal most
            in_flight.append(operation.id)
            most = max(most, len(in_flight))
            await asyncio.sleep(0.05)
            in_flight.remove(operation.id)
            return Outcome.done()

    engine.register_handler("api_call", Keyed())
    for n in range(4):
        await queue.enqueue("api_call", {"n": n})
    assert (await engine.sync())["completed"] == 4
    assert most == 1  # the handler's key keeps them in order
    for n in range(4):
        await queue.enqueue("api_call", {"n": n}, resource_key=f"item-{n}")
    assert (await engine.sync())["completed"] == 4
    assert most == 4  # the engine has 4 workers


async def test_batch_handler_coalesces_consecutive_operations(
    queue: OfflineQueueManager, engine: SyncEngine
) -> None:
    calls: list[list[int]] = []

    class Metrics:
        def batch_key(self, operation: Operation) -> str:
            return str(operation.payload["run"])

        async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
            calls.append([operation.payload["n"]])
            return Outcome.done()

        async def handle_batch(
            self, operations: list[Operation], context: HandlerContext
        ) -> list[Outcome]:
            calls.append([op.payload["n"] for op in operations])
            return [Outcome.done() for _ in operations]

    engine.register_handler("metric_log", Metrics())
    for n in range(6):
        await queue.enqueue("metric_log", {"run": "r1" if n < 4 else "r2", "n": n})
    assert (await engine.sync())["completed"] == 6
    assert sorted(calls) == [[0, 1, 2, 3], [4, 5]]


@pytest.mark.parametrize("went_through", [True, False])
async def test_an_operation_deleted_while_it_is_sent_leaves_the_run_going(
    queue: OfflineQueueManager, engine: SyncEngine, went_through: bool
) -> None:
    ids = [await queue.enqueue("api_call", {"n": n}) for n in range(3)]

    async def handler(payload: dict[str, Any]) -> bool:
        if payload["n"] == 1:  # the user deletes it from the window while it is out
            assert await queue.delete_operation(ids[1])
            return went_through
        return True

    engine.register_handler("api_call", handler)
    result = await engine.sync()
    assert (result["total"], result["completed"], result["failed"]) == (
        3,
        3 if went_through else 2,
        0 if went_through else 1,
    )
    errors = [e["error"] for e in result["errors"]]
    assert errors == ([] if went_through else ["It was deleted while its request was being sent."])
    assert await queue.get_operation(ids[1]) is None
    for op_id in (ids[0], ids[2]):
        operation = await queue.get_operation(op_id)
        assert operation is not None and operation.status is OperationStatus.COMPLETED


async def test_successes_are_recorded_many_to_a_commit(queue: OfflineQueueManager) -> None:
    async def handler(payload: dict[str, Any]) -> bool:
        return True

    ids = await queue.enqueue_many(
        [{"operation_type": "api_call", "payload": {"n": n}} for n in range(200)]
    )
    writes: list[tuple[int, ...]] = []
    queue.changes.subscribe(lambda change: writes.append(change.ids))
    async with SyncEngine(queue, None, concurrency=4, batch_size=100) as engine:
        engine.register_handler("api_call", handler)
        assert (await engine.sync())["completed"] == 200
    # Two claims and the successes: a commit each would be 202 writes.
    assert len(writes) < 100
    for op_id in ids:
        operation = await queue.get_operation(op_id)
        assert operation is not None and operation.status is OperationStatus.COMPLETED
        assert [a.outcome for a in await queue.get_attempts(op_id)] == ["completed"]


async def test_progress_events_and_history(queue: OfflineQueueManager, engine: SyncEngine) -> None:
    events: list[SyncEvent] = []
    unsubscribe = engine.add_progress_listener(events.append)

    async def handler(payload: dict[str, Any]) -> bool:
        return True

    engine.register_handler("api_call", handler)
    ids = [await queue.enqueue("api_call", {"n": n}) for n in range(5)]
    result = await engine.sync()
    unsubscribe()
    assert events[0].kind == "started" and events[-1].kind == "finished"
    assert events[-1].result == result
    progress = [e for e in events if e.kind == "progress"]
    assert progress[-1].done == 5 and progress[-1].total == 5
    assert {e.current_id for e in progress if e.current_id} == set(ids)
    history = engine.history
    assert len(history) == 1
    assert history[0]["completed"] == 5 and history[0]["trigger"] == "manual"
    assert history[0]["started_at"] <= history[0]["finished_at"]
    status = engine.get_status()
    assert status["running"] is False and status["last_sync"] == history[0]


async def test_settings_give_defaults(queue: OfflineQueueManager, isolated_home: Path) -> None:
    settings = Settings.load()
    engine = SyncEngine(queue, None, settings=settings)
    try:
        assert engine.batch_size == settings.sync.batch_size
        assert engine.concurrency == settings.sync.concurrency
    finally:
        await engine.close()


async def test_types_without_a_handler_are_left_alone(
    queue: OfflineQueueManager, engine: SyncEngine
) -> None:
    engine._handlers.pop(OperationType.MODEL_PUSH, None)  # as when no MLflow handler exists
    op_id = await queue.enqueue("model_push", {"path": "/x", "run_id": "r"})
    result = await engine.sync()
    assert result["total"] == 0
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.PENDING
