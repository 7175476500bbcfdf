"""The FILE_UPLOAD handler: streamed PUT and multipart POST, hashes, allowed folders."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.handlers import check_upload_path, prepare_payload
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.asgi import AsgiServer
from tests.support.sync_apps import UploadsApp


@pytest.fixture
def uploads() -> Iterator[tuple[UploadsApp, AsgiServer]]:
    app = UploadsApp()
    with AsgiServer(app) as server:
        yield app, server


@pytest.fixture
def adapter(tmp_path: Path) -> Path:
    path = tmp_path / "files" / "adapter_model.safetensors"
    path.parent.mkdir()
    path.write_bytes(os.urandom(3 * 1024 * 1024 + 17))  # several chunks, an odd tail
    return path


async def test_put_streams_the_exact_bytes_with_an_idempotency_key(
    queue: OfflineQueueManager, uploads: tuple[UploadsApp, AsgiServer], adapter: Path
) -> None:
    app, server = uploads
    payload = prepare_payload("file_upload", {"path": str(adapter), "url": server.url("/f/a")})
    assert payload["sha256"] == hashlib.sha256(adapter.read_bytes()).hexdigest()
    assert payload["size"] == adapter.stat().st_size
    op_id = await queue.enqueue("file_upload", payload)
    async with SyncEngine(queue, None) as engine:
        result = await engine.sync()
    assert result["completed"] == 1
    assert app.files["/f/a"] == adapter.read_bytes()
    op = await queue.get_operation(op_id)
    assert op is not None and app.seen[0].key == op.idempotency_key
    assert app.seen[0].headers["content-length"] == str(adapter.stat().st_size)
    details = (await queue.get_attempts(op_id))[-1].details
    assert details["sha256"] == payload["sha256"]


async def test_multipart_post_with_field_and_extra_fields(
    queue: OfflineQueueManager, uploads: tuple[UploadsApp, AsgiServer], adapter: Path
) -> None:
    app, server = uploads
    payload = prepare_payload(
        "file_upload",
        {
            "path": str(adapter),
            "url": server.url("/up"),
            "method": "POST",
            "field": "weights",
            "fields": {"run_id": "r1"},
        },
    )
    await queue.enqueue("file_upload", payload)
    async with SyncEngine(queue, None) as engine:
        assert (await engine.sync())["completed"] == 1
    assert app.files["/up#weights"] == adapter.read_bytes()
    assert app.filenames["/up#weights"] == adapter.name
    assert app.fields["/up"] == {"run_id": "r1"}


async def test_a_file_changed_after_enqueue_is_not_uploaded(
    queue: OfflineQueueManager, uploads: tuple[UploadsApp, AsgiServer], adapter: Path
) -> None:
    app, server = uploads
    payload = prepare_payload("file_upload", {"path": str(adapter), "url": server.url("/f/b")})
    op_id = await queue.enqueue("file_upload", payload)
    data = bytearray(adapter.read_bytes())
    data[-1] ^= 0xFF  # same size, different content: only the hash can tell
    adapter.write_bytes(bytes(data))
    async with SyncEngine(queue, None) as engine:
        result = await engine.sync()
    assert result["failed"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.FAILED
    assert op.error_message is not None and "changed since it was queued" in op.error_message
    assert "/f/b" not in app.files  # the request never completed


async def test_a_file_that_grew_or_vanished_fails_with_a_clear_message(
    queue: OfflineQueueManager, uploads: tuple[UploadsApp, AsgiServer], tmp_path: Path
) -> None:
    app, server = uploads
    grows, vanishes = tmp_path / "grows.bin", tmp_path / "vanishes.bin"
    grows.write_bytes(b"a" * 1000)
    vanishes.write_bytes(b"b" * 1000)
    grew = await queue.enqueue(
        "file_upload",
        prepare_payload("file_upload", {"path": str(grows), "url": server.url("/g")}),
    )
    gone = await queue.enqueue(
        "file_upload",
        prepare_payload("file_upload", {"path": str(vanishes), "url": server.url("/v")}),
    )
    grows.write_bytes(b"a" * 2000)
    vanishes.unlink()
    async with SyncEngine(queue, None) as engine:
        assert (await engine.sync())["failed"] == 2
    grew_op, gone_op = await queue.get_operation(grew), await queue.get_operation(gone)
    assert grew_op is not None and gone_op is not None
    assert grew_op.status is gone_op.status is OperationStatus.FAILED
    assert "changed since it was queued" in (grew_op.error_message or "")
    assert "no longer exists" in (gone_op.error_message or "")
    assert app.seen == []


async def test_without_a_recorded_hash_the_upload_records_it(
    queue: OfflineQueueManager, uploads: tuple[UploadsApp, AsgiServer], adapter: Path
) -> None:
    app, server = uploads
    op_id = await queue.enqueue("file_upload", {"path": str(adapter), "url": server.url("/n")})
    assert "/n" not in app.files
    async with SyncEngine(queue, None) as engine:
        assert (await engine.sync())["completed"] == 1
    details = (await queue.get_attempts(op_id))[-1].details
    assert details["sha256"] == hashlib.sha256(adapter.read_bytes()).hexdigest()


async def test_upload_roots_are_enforced_at_enqueue_and_at_send(
    queue: OfflineQueueManager,
    uploads: tuple[UploadsApp, AsgiServer],
    adapter: Path,
    tmp_path: Path,
) -> None:
    app, server = uploads
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    inside = allowed / "ok.bin"
    inside.write_bytes(b"fine")
    assert check_upload_path(inside, [str(allowed)]) == inside.resolve()
    assert check_upload_path(adapter, []) == adapter.resolve()
    with pytest.raises(ValueError, match="outside the folders allowed"):
        check_upload_path(adapter, [str(allowed)])
    link = allowed / "link.bin"
    link.symlink_to(adapter)
    with pytest.raises(ValueError, match="outside the folders allowed"):
        check_upload_path(link, [str(allowed)])
    with pytest.raises(ValueError, match="outside the folders allowed"):
        prepare_payload(
            "file_upload", {"path": str(adapter), "url": "http://x/"}, upload_roots=[str(allowed)]
        )
    with pytest.raises(ValueError, match="does not exist"):
        prepare_payload("file_upload", {"path": str(tmp_path / "nope"), "url": "http://x/"})

    # Queued before the roots were restricted: refused when it is sent.
    op_id = await queue.enqueue("file_upload", {"path": str(adapter), "url": server.url("/r")})
    settings = Settings.load()
    restricted = settings.__class__(
        paths=settings.paths,
        sync=settings.sync.__class__(upload_roots=(str(allowed),)),
    )
    async with SyncEngine(queue, None, settings=restricted) as engine:
        assert (await engine.sync())["failed"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.FAILED
    assert "outside the folders allowed" in (op.error_message or "")
    assert app.seen == []
