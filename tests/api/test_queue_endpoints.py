"""The queue endpoints over a real server and a real database file."""

from __future__ import annotations

from typing import Any

import pytest

from peft_studio_offline.core.enums import OperationStatus
from tests.api.conftest import LiveApi

OPERATION_FIELDS = {
    "id",
    "operation_type",
    "payload",
    "status",
    "priority",
    "retry_count",
    "error_message",
    "created_at",
    "updated_at",
}


async def _enqueue(live_api: LiveApi, **body: Any) -> dict[str, Any]:
    body.setdefault("operation_type", "api_call")
    body.setdefault("payload", {"endpoint": "/api/models", "method": "GET"})
    response = await live_api.client.post("/api/offline/queue", json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_enqueue_with_the_spec_body(live_api: LiveApi) -> None:
    created = await _enqueue(
        live_api,
        operation_type="api_call",
        payload={"endpoint": "/api/models", "method": "GET"},
        priority=5,
    )
    assert set(created) >= OPERATION_FIELDS
    assert created["status"] == "pending"
    assert created["priority"] == 5
    stored = await live_api.runtime.queue.get_operation(created["id"])
    assert stored is not None
    assert stored.payload == {"endpoint": "/api/models", "method": "GET"}
    assert stored.priority == 5


async def test_enqueue_options_reach_the_queue(live_api: LiveApi) -> None:
    first = await _enqueue(live_api)
    second = await _enqueue(
        live_api,
        max_attempts=2,
        ttl=3600,
        depends_on=[first["id"]],
        resource_key="models",
        conflict_strategy="remote_wins",
    )
    assert second["max_attempts"] == 2
    assert second["expires_at"] is not None
    assert second["depends_on"] == [first["id"]]
    assert second["resource_key"] == "models"
    assert second["conflict_strategy"] == "remote_wins"


async def test_the_same_dedup_key_gives_the_same_operation(live_api: LiveApi) -> None:
    first = await _enqueue(live_api, dedup_key="step-10")
    second = await _enqueue(live_api, dedup_key="step-10")
    assert first["id"] == second["id"]
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 1


async def test_get_one_operation_with_its_history(live_api: LiveApi) -> None:
    created = await _enqueue(live_api)
    response = await live_api.client.get(f"/api/offline/queue/{created['id']}")
    assert response.status_code == 200
    data = response.json()
    assert set(data) >= OPERATION_FIELDS
    assert data["id"] == created["id"]
    assert data["wait_reason"]
    assert data["attempts"] == []
    assert data["conflict"] is None


async def test_missing_operation_is_404(live_api: LiveApi) -> None:
    for method in ("GET", "DELETE"):
        response = await live_api.client.request(method, "/api/offline/queue/999")
        assert response.status_code == 404
        assert response.json()["detail"] == "No operation with id 999."
    for action in ("cancel", "retry"):
        response = await live_api.client.post(f"/api/offline/queue/999/{action}")
        assert response.status_code == 404


async def test_delete(live_api: LiveApi) -> None:
    created = await _enqueue(live_api)
    response = await live_api.client.delete(f"/api/offline/queue/{created['id']}")
    assert response.status_code == 200
    assert response.json() == {"id": created["id"], "deleted": True}
    assert await live_api.runtime.queue.get_operation(created["id"]) is None
    again = await live_api.client.delete(f"/api/offline/queue/{created['id']}")
    assert again.status_code == 404


async def test_list_filters_and_pages(live_api: LiveApi) -> None:
    ids = [(await _enqueue(live_api))["id"] for _ in range(5)]
    metric = await _enqueue(
        live_api, operation_type="metric_log", payload={"run_id": "r", "metrics": {"loss": 1.0}}
    )
    await live_api.runtime.queue.cancel(ids[0])

    everything = (await live_api.client.get("/api/offline/queue")).json()
    assert [op["id"] for op in everything["operations"]] == [*ids, metric["id"]]
    assert everything["total"] == 6
    assert everything["next_offset"] is None

    page = (await live_api.client.get("/api/offline/queue", params={"limit": 2})).json()
    assert [op["id"] for op in page["operations"]] == ids[:2]
    assert page["next_offset"] == 2
    page2 = (
        await live_api.client.get("/api/offline/queue", params={"limit": 2, "offset": 2})
    ).json()
    assert [op["id"] for op in page2["operations"]] == ids[2:4]

    by_type = (
        await live_api.client.get("/api/offline/queue", params={"type": "metric_log"})
    ).json()
    assert [op["id"] for op in by_type["operations"]] == [metric["id"]]
    assert by_type["total"] == 1

    cancelled = (
        await live_api.client.get("/api/offline/queue", params={"status": "cancelled"})
    ).json()
    assert [op["id"] for op in cancelled["operations"]] == [ids[0]]
    both = (
        await live_api.client.get(
            "/api/offline/queue", params=[("status", "cancelled"), ("status", "pending")]
        )
    ).json()
    assert both["total"] == 6

    newest = (
        await live_api.client.get("/api/offline/queue", params={"order": "desc", "limit": 1})
    ).json()
    assert newest["operations"][0]["id"] == metric["id"]


async def test_stats(live_api: LiveApi) -> None:
    for _ in range(3):
        await _enqueue(live_api)
    stats = (await live_api.client.get("/api/offline/queue/stats")).json()
    for status in OperationStatus:
        assert isinstance(stats[status.value], int)
    assert stats["pending"] == 3
    assert stats["total"] == 3


async def test_clear_completed(live_api: LiveApi) -> None:
    queue = live_api.runtime.queue
    done = await _enqueue(live_api)
    kept = await _enqueue(live_api)
    claimed = await queue.claim(1)
    assert [op.id for op in claimed] == [done["id"]]
    await queue.mark_completed(done["id"])
    response = await live_api.client.post("/api/offline/queue/clear-completed")
    assert response.status_code == 200
    assert response.json() == {"removed": 1}
    assert await queue.get_operation(done["id"]) is None
    assert await queue.get_operation(kept["id"]) is not None


async def test_cancel_and_retry(live_api: LiveApi) -> None:
    created = await _enqueue(live_api)
    op_id = created["id"]
    cancelled = await live_api.client.post(f"/api/offline/queue/{op_id}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await live_api.client.post(f"/api/offline/queue/{op_id}/cancel")
    assert again.status_code == 409
    assert "cannot be cancelled" in again.json()["detail"]
    retried = await live_api.client.post(f"/api/offline/queue/{op_id}/retry")
    assert retried.status_code == 200
    assert retried.json()["status"] == "pending"
    assert retried.json()["retry_count"] == 0


async def test_payload_secrets_are_masked_in_every_listing(live_api: LiveApi) -> None:
    payload = {
        "endpoint": "/api/models",
        "headers": {"Authorization": "Bearer s3cret-value"},
        "data": {"password": "s3cret-value", "api_key": "s3cret-value"},
    }
    created = await _enqueue(live_api, payload=payload)
    op_id = created["id"]
    queue = live_api.runtime.queue
    await queue.claim(1)
    await queue.mark_conflict(op_id, local=payload["data"], remote={"token": "s3cret-value"})
    answers = [
        created,
        (await live_api.client.get("/api/offline/queue")).json(),
        (await live_api.client.get(f"/api/offline/queue/{op_id}")).json(),
        (await live_api.client.get("/api/offline/conflicts")).json(),
    ]
    for answer in answers:
        assert "s3cret-value" not in str(answer)
    assert created["payload"]["headers"]["Authorization"] == "***"
    stored = await queue.get_operation(op_id)
    assert stored is not None and queue.sealer is not None
    assert "s3cret-value" not in str(stored.payload)  # encrypted at rest
    assert queue.sealer.unseal(stored.payload) == payload  # the engine still has what it needs


async def test_conflicts_list_and_resolve(live_api: LiveApi) -> None:
    created = await _enqueue(
        live_api,
        operation_type="experiment_sync",
        payload={"run_id": "r1", "tags": {"stage": "local"}},
    )
    op_id = created["id"]
    queue = live_api.runtime.queue
    await queue.claim(1)
    await queue.mark_conflict(
        op_id, local={"stage": "local"}, remote={"stage": "remote"}, base={"stage": "base"}
    )
    listed = (await live_api.client.get("/api/offline/conflicts")).json()["conflicts"]
    assert [item["id"] for item in listed] == [op_id]
    assert listed[0]["conflict"]["remote"] == {"stage": "remote"}

    response = await live_api.client.post(
        f"/api/offline/conflicts/{op_id}/resolve", json={"resolution": "remote_wins"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "completed"
    assert (await live_api.client.get("/api/offline/conflicts")).json()["conflicts"] == []

    not_in_conflict = await live_api.client.post(
        f"/api/offline/conflicts/{op_id}/resolve", json={"resolution": "local_wins"}
    )
    assert not_in_conflict.status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"payload": {}}, "operation_type"),
        ({"operation_type": "api_call"}, "payload"),
        ({"operation_type": "teleport", "payload": {}}, "operation_type"),
        ({"operation_type": "api_call", "payload": []}, "payload"),
        ({"operation_type": "api_call", "payload": "x"}, "payload"),
        ({"operation_type": "api_call", "payload": {}, "priority": "high"}, "priority"),
        ({"operation_type": "api_call", "payload": {}, "priority": True}, "priority"),
        ({"operation_type": "api_call", "payload": {}, "priority": 2**40}, "priority"),
        ({"operation_type": "api_call", "payload": {}, "max_attempts": 0}, "max_attempts"),
        ({"operation_type": "api_call", "payload": {}, "ttl": -1}, "ttl"),
        ({"operation_type": "api_call", "payload": {}, "depends_on": [0]}, "depends_on.0"),
        ({"operation_type": "api_call", "payload": {}, "colour": "red"}, "colour"),
        (
            {"operation_type": "api_call", "payload": {}, "conflict_strategy": "x"},
            "conflict_strategy",
        ),
    ],
)
async def test_bad_enqueue_is_422_naming_the_field(
    live_api: LiveApi, body: dict[str, Any], field: str
) -> None:
    response = await live_api.client.post("/api/offline/queue", json=body)
    assert response.status_code == 422, response.text
    data = response.json()
    assert data["field"] == field
    assert f"'{field}'" in data["detail"]
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"{", b"not json", b"[]", b"null", b'{"operation_type": "api_call", "payload": NaN}'],
)
async def test_unreadable_bodies_are_4xx(live_api: LiveApi, content: bytes) -> None:
    response = await live_api.client.post(
        "/api/offline/queue", content=content, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert isinstance(response.json()["detail"], str)
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 0


@pytest.mark.parametrize(
    "payload",
    [
        b'{"s": "\\ud800"}',  # a lone surrogate: not storable as UTF-8
        b'{"a": ' * 5000 + b"1" + b"}" * 5000,  # deeper than the JSON parser goes
        b'{"a": ' * 900 + b"1" + b"}" * 900,
        b'{"a": [' * 20 + b"1" + b"]}" * 20,
    ],
)
async def test_payload_the_queue_refuses_is_4xx(live_api: LiveApi, payload: bytes) -> None:
    body = b'{"operation_type": "api_call", "payload": ' + payload + b"}"
    response = await live_api.client.post(
        "/api/offline/queue", content=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500, response.text
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/api/offline/queue/0", {}),
        ("/api/offline/queue/99999999999999999999999", {}),
        ("/api/offline/queue", {"limit": 0}),
        ("/api/offline/queue", {"limit": 5000}),
        ("/api/offline/queue", {"offset": -1}),
        ("/api/offline/queue", {"status": "sleeping"}),
        ("/api/offline/queue", {"type": "teleport"}),
        ("/api/offline/queue", {"order": "sideways"}),
    ],
)
async def test_bad_query_or_path_is_422(
    live_api: LiveApi, path: str, params: dict[str, Any]
) -> None:
    response = await live_api.client.get(path, params=params)
    assert response.status_code == 422, response.text
    assert response.json()["field"]


async def test_not_a_number_id_is_422_and_wrong_method_is_405(live_api: LiveApi) -> None:
    for path in ("/api/offline/queue/abc", "/api/offline/queue/abc/retry"):
        method = "POST" if path.endswith("retry") else "GET"
        answer = await live_api.client.request(method, path)
        assert answer.status_code == 422, answer.text
        assert answer.json() == {
            "detail": "'abc' is not an operation id (a number).",
            "field": "id",
        }
    assert (await live_api.client.get("/api/offline/nothing-here")).status_code == 404
    response = await live_api.client.put("/api/offline/queue")
    assert response.status_code == 405
    assert set(response.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}


async def test_uploads_only_from_allowed_folders(live_api: LiveApi, tmp_path: Any) -> None:
    inside = live_api.upload_root / "weights.bin"
    inside.write_bytes(b"0123456789")
    outside = tmp_path / "secret.txt"
    outside.write_text("private")
    link = live_api.upload_root / "link.txt"
    link.symlink_to(outside)

    def body(path: str) -> dict[str, Any]:
        payload = {"path": path, "url": "http://127.0.0.1:9/upload"}
        return {"operation_type": "file_upload", "payload": payload}

    ok = await live_api.client.post("/api/offline/queue", json=body(str(inside)))
    assert ok.status_code == 201, ok.text
    assert ok.json()["payload"]["size"] == 10
    for path in (str(outside), str(link), str(live_api.upload_root / ".." / "secret.txt")):
        refused = await live_api.client.post("/api/offline/queue", json=body(path))
        assert refused.status_code == 403, path
        assert refused.json()["field"] == "payload.path"
    relative = await live_api.client.post("/api/offline/queue", json=body("weights.bin"))
    assert relative.status_code == 422
    missing = await live_api.client.post(
        "/api/offline/queue", json=body(str(live_api.upload_root / "nope.bin"))
    )
    assert missing.status_code == 422
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 1


async def test_adapter_pushes_only_from_allowed_folders(live_api: LiveApi, tmp_path: Any) -> None:
    inside = live_api.upload_root / "adapter"
    inside.mkdir()
    (inside / "adapter_config.json").write_text("{}")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "adapter_config.json").write_text("{}")

    def body(path: str) -> dict[str, Any]:
        return {"operation_type": "model_push", "payload": {"path": path, "run_id": "r1"}}

    ok = await live_api.client.post("/api/offline/queue", json=body(str(inside)))
    assert ok.status_code == 201, ok.text
    refused = await live_api.client.post("/api/offline/queue", json=body(str(outside)))
    assert refused.status_code == 403
    assert refused.json()["field"] == "payload.path"
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 1


async def test_adapter_pushes_to_the_hugging_face_hub_take_the_same_path(
    live_api: LiveApi, tmp_path: Any
) -> None:
    inside = live_api.upload_root / "hub-adapter"
    inside.mkdir()
    (inside / "adapter_config.json").write_text("{}")
    outside = tmp_path / "elsewhere-hub"
    outside.mkdir()
    (outside / "adapter_config.json").write_text("{}")
    (inside / "leak.json").symlink_to(outside / "adapter_config.json")

    def body(path: str, repo_id: str = "me/my-lora") -> dict[str, Any]:
        payload = {"target": "huggingface", "repo_id": repo_id, "path": path}
        return {"operation_type": "model_push", "payload": payload}

    linked = await live_api.client.post("/api/offline/queue", json=body(str(inside)))
    assert linked.status_code == 422 and "symbolic link" in linked.json()["detail"]
    (inside / "leak.json").unlink()
    ok = await live_api.client.post("/api/offline/queue", json=body(str(inside)))
    assert ok.status_code == 201, ok.text
    assert ok.json()["payload"]["revision"] == "main"
    refused = await live_api.client.post("/api/offline/queue", json=body(str(outside)))
    assert refused.status_code == 403 and refused.json()["field"] == "payload.path"
    bad = await live_api.client.post("/api/offline/queue", json=body(str(inside), "no-owner"))
    assert bad.status_code == 422 and bad.json()["field"] == "payload.repo_id"
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 1


async def test_a_form_body_is_415_asking_for_json(live_api: LiveApi) -> None:
    response = await live_api.client.post(
        "/api/offline/queue", data={"operation_type": "api_call", "payload": "{}"}
    )
    assert response.status_code == 415, response.text
    assert response.json()["detail"] == (
        "Send the request body as JSON, with Content-Type: application/json."
    )
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 0


async def test_a_body_nested_too_deeply_is_named(live_api: LiveApi) -> None:
    body = b'{"operation_type": "api_call", "payload": {"a": ' + b"[" * 100_000 + b"]" * 100_000
    response = await live_api.client.post(
        "/api/offline/queue", content=body + b"}}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "The request body is nested too deeply to read."


async def test_priority_bounds_are_those_of_a_32_bit_integer(live_api: LiveApi) -> None:
    body: dict[str, Any] = {"operation_type": "api_call", "payload": {"url": "http://h/x"}}
    for refused in (2**31, -(2**31) - 1):
        answer = await live_api.client.post(
            "/api/offline/queue", json={**body, "priority": refused}
        )
        assert answer.status_code == 422 and answer.json()["field"] == "priority"
    for accepted in (2**31 - 1, -(2**31)):
        answer = await live_api.client.post(
            "/api/offline/queue", json={**body, "priority": accepted}
        )
        assert answer.status_code == 201, answer.text


async def test_retrying_a_cancelled_operation_forgets_the_cancellation(live_api: LiveApi) -> None:
    queue = live_api.runtime.queue
    op_id = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/x"})
    await queue.cancel(op_id)
    assert (await queue.get_operation(op_id)).error_message == "Cancelled by the user."  # type: ignore[union-attr]
    answer = await live_api.client.post(f"/api/offline/queue/{op_id}/retry")
    assert answer.status_code == 200, answer.text
    operation = await queue.get_operation(op_id)
    assert operation is not None and operation.status.value == "pending"
    assert operation.error_message is None


async def test_list_items_say_what_each_operation_is(live_api: LiveApi) -> None:
    for body in (
        {"operation_type": "metric_log",
         "payload": {"run_id": "run-42", "metrics": {"loss": 0.31}, "step": 10}},
        {"operation_type": "api_call",
         "payload": {"method": "POST", "url": "https://me:hush@api.example.com/api/models?t=1"}},
    ):  # fmt: skip
        response = await live_api.client.post("/api/offline/queue", json=body)
        assert response.status_code == 201, response.text
    listed = (await live_api.client.get("/api/offline/queue")).json()["operations"]
    assert [item["description"] for item in listed] == [
        "run-42 · loss 0.31 @ step 10",
        "POST /api/models",
    ]
    assert "hush" not in str([item["description"] for item in listed])
