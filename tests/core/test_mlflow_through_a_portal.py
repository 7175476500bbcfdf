"""MLflow work never counts as delivered to something that is not MLflow, and a refused
connection uses no attempt (as for every other type)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.servers import HttpServer, Reply, refused_url

PORTAL_PAGE = b"<html><body>Welcome to Hotel WiFi. Please sign in.</body></html>"
METRIC = {"run_id": "run-1", "metrics": {"loss": 0.5}, "step": 1}


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    async with OfflineQueueManager(tmp_path / "q.db") as q:
        yield q


async def test_a_portal_page_in_place_of_mlflow_is_not_a_delivery(
    queue: OfflineQueueManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HttpServer(Reply(200, PORTAL_PAGE, {"Content-Type": "text/html"})) as portal:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", portal.url("/"))
        op_id = await queue.enqueue("metric_log", METRIC)
        async with SyncEngine(queue, None) as engine:
            result = await engine.sync()
    assert result["completed"] == 0
    operation = await queue.get_operation(op_id)
    assert operation is not None and operation.status.value == "pending"
    assert "web page (a captive portal or proxy?)" in (operation.error_message or "")


async def test_a_refused_connection_uses_no_attempt_for_metrics(
    queue: OfflineQueueManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", refused_url("/").rstrip("/"))
    op_id = await queue.enqueue("metric_log", METRIC)
    async with SyncEngine(queue, None) as engine:
        await engine.sync()
    operation = await queue.get_operation(op_id)
    assert operation is not None and operation.status.value == "pending"
    assert operation.retry_count == 0
    assert "cannot be reached" in (operation.error_message or "")
