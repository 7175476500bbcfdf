"""Bundle and receipt endpoints over a real API server and queue file."""

from __future__ import annotations

import shutil
from pathlib import Path

from peft_studio_offline.core.enums import OperationStatus
from tests.api.conftest import LiveApi
from tests.api.test_events import _events, _until

BASE = "/api/offline/transfer"


async def queued_upload(live_api: LiveApi) -> int:
    data = live_api.upload_root / "eval.bin"
    data.write_bytes(b"x" * 10_000)
    made = await live_api.client.post(
        "/api/offline/queue",
        json={
            "operation_type": "file_upload",
            "payload": {"path": str(data), "url": live_api.target.url("/up")},
        },
    )
    assert made.status_code == 201, made.text
    return int(made.json()["id"])


async def test_a_bundle_goes_out_and_comes_back_in_once(live_api: LiveApi, tmp_path: Path) -> None:
    op_id = await queued_upload(live_api)
    out = await live_api.client.post(
        f"{BASE}/bundles/export", json={"path": str(live_api.upload_root / "bundle")}
    )
    assert out.status_code == 200, out.text
    assert (out.json()["operations"], out.json()["files"]) == (1, 1)
    op = await live_api.runtime.queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.EXPORTED

    back = await live_api.client.post(
        f"{BASE}/bundles/import", json={"path": str(live_api.upload_root / "bundle")}
    )

    assert back.status_code == 200, back.text
    assert (back.json()["added"], back.json()["already_here"]) == (0, 1)


async def test_a_damaged_bundle_is_a_422_naming_the_part(live_api: LiveApi, tmp_path: Path) -> None:
    await queued_upload(live_api)
    await live_api.client.post(
        f"{BASE}/bundles/export", json={"path": str(live_api.upload_root / "b")}
    )
    copy = live_api.upload_root / "copy"
    shutil.copytree(live_api.upload_root / "b", copy)
    part = copy / "bundle.tar.00001"
    data = bytearray(part.read_bytes())
    data[700] ^= 0xFF
    part.write_bytes(bytes(data))
    await live_api.runtime.queue.delete_operations([1])

    refused = await live_api.client.post(f"{BASE}/bundles/import", json={"path": str(copy)})

    assert refused.status_code == 422
    assert "Part 1 of 1 (bundle.tar.00001)" in refused.json()["detail"]
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 0


async def test_a_receipt_goes_out_and_completes_what_it_names(
    live_api: LiveApi, tmp_path: Path
) -> None:
    op_id = await queued_upload(live_api)
    await live_api.runtime.queue.mark_completed(op_id)
    out = await live_api.client.post(
        f"{BASE}/receipts/export", json={"path": str(live_api.upload_root / "r.json"), "all": True}
    )
    assert out.status_code == 200, out.text
    assert out.json()["deliveries"] == 1
    back = await live_api.client.post(
        f"{BASE}/receipts/import", json={"path": str(live_api.upload_root / "r.json")}
    )
    assert back.status_code == 200, back.text
    assert (back.json()["completed"], back.json()["already_completed"]) == (0, 1)


async def test_a_relative_path_or_an_unknown_status_is_refused(
    live_api: LiveApi, tmp_path: Path
) -> None:
    relative = await live_api.client.post(f"{BASE}/bundles/export", json={"path": "bundle"})
    assert relative.status_code == 422
    assert "absolute" in relative.json()["detail"]
    status = await live_api.client.post(
        f"{BASE}/bundles/export",
        json={"path": str(live_api.upload_root / "x"), "statuses": ["completed"]},
    )
    assert status.status_code == 422
    assert not (live_api.upload_root / "x").exists()


async def test_the_event_stream_reports_a_transfers_progress(
    live_api: LiveApi, tmp_path: Path
) -> None:
    await queued_upload(live_api)
    async with live_api.client.stream("GET", "/api/offline/events") as response:
        stream = _events(response)
        await _until(stream, "ready")
        out = await live_api.client.post(
            f"{BASE}/bundles/export", json={"path": str(live_api.upload_root / "bundle")}
        )
        assert out.status_code == 200
        phases = []
        while "exported" not in phases:
            phases.append((await _until(stream, "transfer"))["phase"])
        last = await live_api.client.post(
            f"{BASE}/bundles/import", json={"path": str(live_api.upload_root / "bundle")}
        )
        assert last.status_code == 200
        while phases[-1] != "imported":
            step = await _until(stream, "transfer")
            phases.append(step["phase"])
    assert phases[0] == "exporting"
    assert "verifying" in phases
    assert step == {
        "phase": "imported",
        "done_bytes": 0,
        "total_bytes": None,
        "operations": 1,
        "total_operations": 1,
    }


async def test_over_the_api_only_the_allowed_folders_are_read_and_written(
    live_api: LiveApi, tmp_path: Path
) -> None:
    """Any program holding the token may call the API: it may not write a bundle, or read
    a receipt or an identity file, anywhere the user may."""
    await queued_upload(live_api)
    outside = tmp_path / "elsewhere"
    for endpoint, body in (
        ("bundles/export", {"path": str(outside / "bundle")}),
        ("bundles/import", {"path": str(outside / "bundle")}),
        ("receipts/export", {"path": str(outside / "r.json")}),
        ("receipts/import", {"path": str(outside / "r.json")}),
        (
            "bundles/import",
            {
                "path": str(live_api.upload_root / "bundle"),
                "identity_files": [str(outside / "key.txt")],
            },
        ),
    ):
        refused = await live_api.client.post(f"{BASE}/{endpoint}", json=body)
        assert refused.status_code == 403, (endpoint, refused.text)
        assert "sync.upload_roots" in refused.json()["detail"]
    assert not outside.exists()
    assert (await live_api.runtime.queue.get_queue_stats())["pending"] == 1


async def test_an_export_takes_its_filters_and_refuses_a_bad_key_in_one_sentence(
    live_api: LiveApi,
) -> None:
    upload = await queued_upload(live_api)
    made = await live_api.client.post(
        "/api/offline/queue",
        json={"operation_type": "api_call", "payload": {"url": live_api.target.url("/a")}},
    )
    assert made.status_code == 201, made.text

    bad = await live_api.client.post(
        f"{BASE}/bundles/export",
        json={"path": str(live_api.upload_root / "bad"), "recipients": ["age1nope"]},
    )
    assert bad.status_code == 422, bad.text
    assert "is not an age public key" in bad.text
    assert not (live_api.upload_root / "bad").exists()

    out = await live_api.client.post(
        f"{BASE}/bundles/export",
        json={"path": str(live_api.upload_root / "b"), "types": ["api_call"], "all": True},
    )
    assert out.status_code == 200, out.text
    assert out.json()["operations"] == 1
    op = await live_api.runtime.queue.get_operation(upload)
    assert op is not None and op.status is OperationStatus.PENDING
