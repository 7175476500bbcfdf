"""Lists carry a bounded preview and the size of each payload; one operation carries it whole."""

from __future__ import annotations

import json

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.masking import MASK, mask_secrets
from tests.api.conftest import LiveApi


def _large(index: int) -> dict[str, object]:
    return {
        "url": "https://user:hunter2@example.org/upload",
        "headers": {"Authorization": "Bearer sekrit"},
        "data": [{"key": f"k{index}-{i}", "value": i} for i in range(150_000)],
    }


async def test_a_list_of_large_payloads_stays_small_and_one_operation_is_whole(
    live_api: LiveApi,
) -> None:
    queue = live_api.runtime.queue
    ids = [await queue.enqueue(OperationType.API_CALL, _large(i)) for i in range(4)]
    small = {"endpoint": "/api/models", "method": "GET", "headers": {"X-Api-Key": "k"}}
    small_id = await queue.enqueue(OperationType.API_CALL, small)

    listed = await live_api.client.get("/api/offline/queue")
    assert listed.status_code == 200
    assert len(listed.content) < 20_000  # four payloads of ~5 MB each
    items = {item["id"]: item for item in listed.json()["operations"]}
    for op_id in ids:
        item = items[op_id]
        stored = await queue.get_payload_text(op_id)
        assert stored is not None
        assert item["payload"] is None and item["payload_truncated"] is True
        assert item["payload_size"] == len(stored.encode())
        assert item["payload_preview"].startswith('{"url": "https://user:***@example.org/upload"')
        assert "hunter2" not in item["payload_preview"] and "sekrit" not in listed.text
    assert items[small_id]["payload"] == mask_secrets(small)
    assert items[small_id]["payload"]["headers"]["X-Api-Key"] == MASK
    assert items[small_id]["payload_truncated"] is False

    whole = await live_api.client.get(f"/api/offline/queue/{ids[2]}")
    assert whole.status_code == 200
    detail = whole.json()
    assert detail["payload"] == mask_secrets(_large(2))
    assert detail["payload_size"] == items[ids[2]]["payload_size"]
    assert detail["wait_reason"] and detail["attempts"] == []
    assert "hunter2" not in whole.text


async def test_the_operation_just_added_is_answered_as_a_list_shows_it(live_api: LiveApi) -> None:
    payload = {"endpoint": "/x", "method": "POST", "data": {"blob": "y" * 100_000}}
    response = await live_api.client.post(
        "/api/offline/queue", json={"operation_type": "api_call", "payload": payload}
    )
    assert response.status_code == 201
    created = response.json()
    assert created["id"] >= 1 and created["status"] == "pending"
    assert created["payload"] is None
    assert created["payload_size"] == len(json.dumps(payload, separators=(",", ":")))
    assert len(response.content) < 4096
