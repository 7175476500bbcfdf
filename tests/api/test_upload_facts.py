"""The API records an upload's hash and size itself; what a client claims is not kept."""

from __future__ import annotations

import hashlib

from tests.api.conftest import LiveApi


async def test_a_claimed_hash_and_size_are_replaced(live_api: LiveApi) -> None:
    path = live_api.upload_root / "eval.json"
    path.write_bytes(b'{"accuracy": 0.9}')
    answer = await live_api.client.post(
        "/api/offline/queue",
        json={
            "operation_type": "file_upload",
            "payload": {
                "path": str(path),
                "url": live_api.target.url("/files/eval.json"),
                "sha256": hashlib.sha256(b"another file").hexdigest(),
                "size": 12,
            },
        },
    )
    assert answer.status_code == 201, answer.text
    stored = await live_api.runtime.queue.get_operation(answer.json()["id"])
    assert stored is not None
    assert stored.payload["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert stored.payload["size"] == path.stat().st_size


async def test_a_link_in_the_upload_folder_to_a_file_outside_is_refused(
    live_api: LiveApi,
) -> None:
    outside = live_api.upload_root.parent / "outside.key"
    outside.write_text("private")
    link = live_api.upload_root / "innocent.json"
    link.symlink_to(outside)
    answer = await live_api.client.post(
        "/api/offline/queue",
        json={
            "operation_type": "file_upload",
            "payload": {"path": str(link), "url": live_api.target.url("/f")},
        },
    )
    assert answer.status_code == 403
    assert await live_api.runtime.queue.count_operations() == 0
