"""A sync run stopped at any moment leaves nothing in progress.

The flapping-network scenario once ended with operations stuck in progress: a run stopped
(the network went offline) at a moment between taking a batch and keeping track of it. These
tests stop runs at every point a run can be interrupted, one event-loop step after another.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Hashable, Sequence
from pathlib import Path

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync import HandlerContext, Outcome
from peft_studio_offline.core.sync.engine import SyncEngine

STEPS = 300  # event-loop steps: past the end of a whole run of this size


class Quick:
    """Answers at once, after giving the loop one step (as a request would)."""

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        await asyncio.sleep(0)
        return Outcome.done()


class Coalescing(Quick):
    """Sends many operations in one request, as the MLflow metrics handler does."""

    def batch_key(self, operation: Operation) -> Hashable:
        return operation.payload["run"]

    async def handle_batch(
        self, operations: Sequence[Operation], context: HandlerContext
    ) -> list[Outcome]:
        await asyncio.sleep(0)
        return [Outcome.done()] * len(operations)


async def _top_up(queue: OfflineQueueManager) -> None:
    stats = await queue.get_queue_stats()
    if stats["pending"] < 30:
        await queue.enqueue_many(
            {"operation_type": "api_call", "payload": {"n": n}} for n in range(20)
        )
        await queue.enqueue_many(
            {"operation_type": "metric_log", "payload": {"run": n % 3}} for n in range(20)
        )


async def test_a_run_stopped_at_any_step_leaves_nothing_in_progress(tmp_path: Path) -> None:
    async with (
        OfflineQueueManager(tmp_path / "q.db") as queue,
        SyncEngine(queue, None, concurrency=3, batch_size=7) as engine,
    ):
        engine.register_handler(OperationType.API_CALL, Quick())
        engine.register_handler(OperationType.METRIC_LOG, Coalescing())
        stuck: list[tuple[int, int]] = []
        for steps in range(STEPS):
            await _top_up(queue)
            run = asyncio.ensure_future(engine.sync())
            for _ in range(steps):
                await asyncio.sleep(0)
            await engine.stop("the network went offline")
            with contextlib.suppress(asyncio.CancelledError):
                await run
            in_progress = (await queue.get_queue_stats())["in_progress"]
            if in_progress:
                stuck.append((steps, in_progress))
                # Put them back so that the next steps are measured on their own.
                await queue.release(
                    [op.id for op in await queue.list_operations(status="in_progress")]
                )
    assert not stuck, f"(steps before the stop, operations left in progress): {stuck}"


async def test_a_claim_cancelled_twice_still_gives_its_operations_back(tmp_path: Path) -> None:
    """The clean-up of a cancelled claim is itself cancelled (a caller that gives up twice)."""
    async with OfflineQueueManager(tmp_path / "q.db") as queue:
        await queue.enqueue_many(
            {"operation_type": "api_call", "payload": {"n": n}} for n in range(130)
        )
        for steps in range(12):
            claiming = asyncio.ensure_future(queue.claim(10))
            for _ in range(steps + 1):
                await asyncio.sleep(0)
            claiming.cancel()
            await asyncio.sleep(0)
            claiming.cancel()  # lands in the clean-up, which waits for the claim's commit
            with contextlib.suppress(asyncio.CancelledError):
                await claiming
        # The give-backs go on in the background of the cancellations, each after its claim
        # commits: the queue is settled once every operation stays pending for a while.
        settled = 0
        for _ in range(200):
            stats = await queue.get_queue_stats()
            settled = settled + 1 if stats["pending"] == 130 else 0
            if settled == 10:
                break
            await asyncio.sleep(0.05)
    assert stats["in_progress"] == 0 and stats["pending"] == 130, stats
