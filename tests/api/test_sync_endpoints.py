"""Network and sync endpoints, against a real loopback service."""

from __future__ import annotations

import pytest

from tests.api.conftest import LiveApi
from tests.support.servers import Reply


async def test_network_status_and_check(live_api: LiveApi) -> None:
    before = (await live_api.client.get("/api/offline/network-status")).json()
    assert before["status"] == "unknown"
    assert before["is_online"] is False
    assert before["last_check"] is None

    checked = await live_api.client.post("/api/offline/check-connectivity")
    assert checked.status_code == 200
    assert checked.json()["status"] == "online"
    assert checked.json()["is_online"] is True
    assert checked.json()["last_check"] is not None
    assert live_api.target.requests[-1] == "/health"

    live_api.target.stop()
    offline = (await live_api.client.post("/api/offline/check-connectivity")).json()
    assert offline["status"] == "offline"
    assert (await live_api.client.get("/api/offline/network-status")).json()["status"] == "offline"


async def test_sync_sends_due_operations_and_reports(live_api: LiveApi) -> None:
    ok = await live_api.client.post(
        "/api/offline/queue",
        json={"operation_type": "api_call", "payload": {"endpoint": "/models", "method": "POST"}},
    )
    assert ok.status_code == 201
    result = await live_api.client.post("/api/offline/sync")
    assert result.status_code == 200, result.text
    data = result.json()
    assert data["total"] == 1
    assert data["completed"] == 1
    assert data["failed"] == 0
    assert data["conflicts"] == 0
    assert data["errors"] == []
    assert "/models" in live_api.target.requests
    op = (await live_api.client.get(f"/api/offline/queue/{ok.json()['id']}")).json()
    assert op["status"] == "completed"


async def test_sync_reports_failures(live_api: LiveApi) -> None:
    live_api.target.reply_with(Reply(500, b"boom"))
    created = await live_api.client.post(
        "/api/offline/queue", json={"operation_type": "api_call", "payload": {"endpoint": "/x"}}
    )
    data = (await live_api.client.post("/api/offline/sync")).json()
    assert data["failed"] == 1
    assert [error["id"] for error in data["errors"]] == [created.json()["id"]]
    assert data["errors"][0]["error"]


async def test_sync_status_and_auto_sync(live_api: LiveApi) -> None:
    status = (await live_api.client.get("/api/offline/sync/status")).json()
    assert status["auto_sync"] is False
    started = await live_api.client.post("/api/offline/sync/start-auto")
    assert started.status_code == 200
    assert started.json()["auto_sync"] is True
    assert (await live_api.client.get("/api/offline/sync/status")).json()["auto_sync"] is True
    stopped = await live_api.client.post("/api/offline/sync/stop-auto")
    assert stopped.json()["auto_sync"] is False
    assert (await live_api.client.get("/api/offline/sync/status")).json()["auto_sync"] is False


@pytest.mark.parametrize("strategy", ["local_wins", "remote_wins", "merge", "manual"])
async def test_conflict_strategy(live_api: LiveApi, strategy: str) -> None:
    response = await live_api.client.post(
        "/api/offline/sync/conflict-strategy", json={"strategy": strategy}
    )
    assert response.status_code == 200
    assert response.json() == {"strategy": strategy}
    assert live_api.runtime.engine.conflict_strategy.value == strategy
    status = (await live_api.client.get("/api/offline/sync/status")).json()
    assert status["conflict_strategy"] == strategy


@pytest.mark.parametrize(
    ("body", "field"),
    [({"strategy": "coin_flip"}, "strategy"), ({}, "strategy"), ({"strategy": 1}, "strategy")],
)
async def test_bad_conflict_strategy_is_422(
    live_api: LiveApi, body: dict[str, object], field: str
) -> None:
    before = live_api.runtime.engine.conflict_strategy
    response = await live_api.client.post("/api/offline/sync/conflict-strategy", json=body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert live_api.runtime.engine.conflict_strategy is before
