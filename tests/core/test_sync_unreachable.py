"""An outage alone never fails an operation for good: unreachable is not an attempt."""

from __future__ import annotations

from pathlib import Path

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.servers import HttpServer


async def test_queue_does_not_count_an_attempt_that_never_reached_the_service(
    tmp_path: Path,
) -> None:
    async with OfflineQueueManager(tmp_path / "q.db", max_attempts=2, backoff_base=0) as queue:
        op_id = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/"})
        for _ in range(5):
            after = await queue.mark_failed(op_id, "Connection refused.", count_attempt=False)
            assert after.status is OperationStatus.PENDING
            assert after.retry_count == 0
        history = await queue.get_attempts(op_id)
        assert [a.outcome for a in history] == ["unreachable"] * 5
        # A real failure still counts, and the limit still applies to those.
        await queue.mark_failed(op_id, "500 Internal Server Error")
        final = await queue.mark_failed(op_id, "500 Internal Server Error")
        assert final.status is OperationStatus.FAILED and final.retry_count == 2


async def test_refused_connections_use_up_no_attempts_and_delivery_follows(
    tmp_path: Path,
) -> None:
    server = HttpServer().start()
    url = server.url("/collect")
    server.stop()  # the service is gone: connections are refused
    async with (
        OfflineQueueManager(tmp_path / "q.db", max_attempts=2, backoff_base=0) as queue,
        SyncEngine(queue, None, breaker_threshold=1000) as engine,
    ):
        ids = [
            await queue.enqueue(OperationType.API_CALL, {"url": url, "data": {"n": n}})
            for n in range(3)
        ]
        for _ in range(4):  # more outages than max_attempts allows failures
            result = await engine.sync()
            assert (result["completed"], result["failed"]) == (0, 3), result
        for op_id in ids:
            operation = await queue.get_operation(op_id)
            assert operation is not None
            assert operation.status is OperationStatus.PENDING
            assert operation.retry_count == 0
        server.start()  # back, on the same port
        try:
            result = await engine.sync()
        finally:
            server.stop()
        assert result["completed"] == 3
        assert server.requests == ["/collect"] * 3
