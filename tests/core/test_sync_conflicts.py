"""Each conflict strategy on a real conflict: a server with ETags and conditional PUT."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.errors import InvalidStateError, StorageFullError
from peft_studio_offline.core.operation import HistoryEvent
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from peft_studio_offline.core.sync.merge import three_way_merge
from tests.support.asgi import AsgiServer
from tests.support.sqlite_files import connected
from tests.support.sync_apps import DocumentsApp

BASE = {"title": "Adapter A", "rank": 8, "notes": "first try"}


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    async with OfflineQueueManager(tmp_path / "q.db", backoff_base=0.01) as q:
        yield q


@pytest.fixture
def docs() -> Iterator[tuple[DocumentsApp, AsgiServer]]:
    app = DocumentsApp()
    with AsgiServer(app) as server:
        yield app, server


async def queue_edit(
    queue: OfflineQueueManager,
    server: AsgiServer,
    local: dict[str, Any],
    etag: str,
    doc: str = "a",
    **options: Any,
) -> int:
    """A local edit made offline from BASE (version ``etag``)."""
    payload = {
        "url": server.url(f"/docs/{doc}"),
        "method": "PUT",
        "data": local,
        "etag": etag,
        "base": BASE,
    }
    return await queue.enqueue("api_call", payload, **options)


async def outcomes(queue: OfflineQueueManager, op_id: int) -> list[str]:
    return [a.outcome for a in await queue.get_attempts(op_id)]


async def test_no_conflict_when_the_remote_did_not_change(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    app, server = docs
    etag = app.set("a", BASE)
    op_id = await queue_edit(queue, server, {**BASE, "rank": 16}, etag)
    async with SyncEngine(queue, None, conflict_strategy="manual") as engine:
        result = await engine.sync()
    assert result["completed"] == 1 and result["conflicts"] == 0
    assert app.get("a") == {**BASE, "rank": 16}
    assert app.puts == [("a", etag)]  # sent conditionally
    assert await outcomes(queue, op_id) == ["completed"]


async def test_local_wins_resends_unconditionally(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    app, server = docs
    etag = app.set("a", BASE)
    local = {**BASE, "rank": 16}
    op_id = await queue_edit(queue, server, local, etag)
    app.set("a", {**BASE, "notes": "changed on the server"})
    async with SyncEngine(queue, None) as engine:  # LOCAL_WINS is the default
        result = await engine.sync()
    assert result["completed"] == 1 and result["conflicts_resolved"] == 1
    assert app.get("a") == local
    assert app.puts == [("a", etag), ("a", None)]
    assert await outcomes(queue, op_id) == ["conflict", "completed"]
    op = await queue.get_operation(op_id)
    assert op is not None and set(app.effects) == {op.idempotency_key}


async def test_remote_wins_keeps_remote_and_records_the_dropped_change(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    app, server = docs
    etag = app.set("a", BASE)
    local = {**BASE, "rank": 16}
    op_id = await queue_edit(queue, server, local, etag)
    remote = {**BASE, "notes": "changed on the server"}
    app.set("a", remote)
    async with SyncEngine(queue, None, conflict_strategy="remote_wins") as engine:
        result = await engine.sync()
    assert result["completed"] == 1
    assert app.get("a") == remote
    assert len(app.puts) == 1  # only the conditional attempt
    history = await queue.get_attempts(op_id)
    dropped = [a for a in history if a.outcome == "local_dropped"]
    assert len(dropped) == 1
    assert dropped[0].details["local"] == local and dropped[0].details["remote"] == remote
    assert "dropped" in (dropped[0].error or "")
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.COMPLETED


async def test_merge_combines_fields_changed_on_different_sides(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    app, server = docs
    etag = app.set("a", BASE)
    op_id = await queue_edit(queue, server, {**BASE, "rank": 16}, etag)
    new_etag = app.set("a", {**BASE, "notes": "changed on the server"})
    async with SyncEngine(queue, None, conflict_strategy="merge") as engine:
        result = await engine.sync()
    assert result["completed"] == 1
    assert app.get("a") == {**BASE, "rank": 16, "notes": "changed on the server"}
    assert app.puts == [("a", etag), ("a", new_etag)]  # the merge is sent on the new version
    assert await outcomes(queue, op_id) == ["merged", "completed"]


async def test_merge_falls_back_to_manual_when_the_same_field_changed(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    app, server = docs
    etag = app.set("a", BASE)
    local = {**BASE, "rank": 16}
    op_id = await queue_edit(queue, server, local, etag)
    remote = {**BASE, "rank": 32}
    app.set("a", remote)
    async with SyncEngine(queue, None, conflict_strategy="merge") as engine:
        result = await engine.sync()
    assert result["conflicts"] == 1 and result["completed"] == 0
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.CONFLICT
    assert op.error_message is not None and "/rank" in op.error_message
    record = await queue.get_conflict(op_id)
    assert record is not None
    assert (record.local, record.remote, record.base) == (local, remote, BASE)
    assert app.get("a") == remote


async def test_manual_parks_then_each_user_resolution(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    app, server = docs
    local = {**BASE, "rank": 16}
    remote = {**BASE, "rank": 32}
    ids = {}
    for name in ("keep_local", "keep_remote", "merged"):
        etag = app.set(name, BASE)
        ids[name] = await queue_edit(queue, server, local, etag, doc=name)
        app.set(name, remote)
    async with SyncEngine(queue, None, conflict_strategy="manual") as engine:
        result = await engine.sync()
        assert result["conflicts"] == 3 and result["total"] == 3
        assert len(await queue.list_conflicts()) == 3
        assert all(app.get(name) == remote for name in ids)

        await engine.resolve_conflict(ids["keep_remote"], "keep_remote")
        op = await queue.get_operation(ids["keep_remote"])
        assert op is not None and op.status is OperationStatus.COMPLETED
        assert "local_dropped" in await outcomes(queue, ids["keep_remote"])

        op = await engine.resolve_conflict(ids["keep_local"], "keep_local")
        assert op.status is OperationStatus.PENDING
        # One line says it was resolved and sent again.
        assert (await outcomes(queue, ids["keep_local"]))[-2:] == ["conflict", "resolved"]

        with pytest.raises(ValueError, match="merged value"):
            await engine.resolve_conflict(ids["merged"], "merged")
        await engine.resolve_conflict(ids["merged"], "merged", {**local, "notes": "both"})

        assert (await engine.sync())["completed"] == 2
        assert app.get("keep_local") == local
        assert app.get("merged") == {**local, "notes": "both"}
        assert app.get("keep_remote") == remote

        with pytest.raises(InvalidStateError):
            await engine.resolve_conflict(ids["merged"], "keep_local")
        with pytest.raises(ValueError):
            await engine.resolve_conflict(ids["keep_local"], "whatever")


async def test_a_resolution_the_disk_refuses_leaves_no_trace(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    """The history line and the change it explains are one write: all of it, or none."""
    app, server = docs
    etag = app.set("a", BASE)
    op_id = await queue_edit(queue, server, {**BASE, "rank": 16}, etag)
    app.set("a", {**BASE, "rank": 32})
    async with SyncEngine(queue, None, conflict_strategy="manual") as engine:
        assert (await engine.sync())["conflicts"] == 1
        before = await outcomes(queue, op_id)
        await queue.set_storage_limit(page_count(queue.db_path) * 4096 + 8192)
        # Incompressible, and larger than the room left: the re-queued payload cannot fit.
        merged = {**BASE, "notes": os.urandom(96 * 1024).hex()}
        with pytest.raises(StorageFullError):
            await engine.resolve_conflict(op_id, "merged", merged)
        await queue.set_storage_limit(None)
        assert await outcomes(queue, op_id) == before  # no "resolved" line without the change
        op = await queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.CONFLICT
        await engine.resolve_conflict(op_id, "keep_remote")
        assert (await outcomes(queue, op_id))[-2:] == ["local_dropped", "completed"]


def page_count(db: Path) -> int:
    with connected(db) as conn:
        count: int = conn.execute("PRAGMA page_count").fetchone()[0]
    return count


async def test_strategy_of_the_operation_overrides_the_engine(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    app, server = docs
    etag = app.set("a", BASE)
    op_id = await queue_edit(queue, server, {**BASE, "rank": 16}, etag, conflict_strategy="manual")
    app.set("a", {**BASE, "notes": "x"})
    async with SyncEngine(queue, None, conflict_strategy="local_wins") as engine:
        result = await engine.sync()
    assert result["conflicts"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.CONFLICT


async def test_base_snapshot_without_etag_detects_a_change(
    queue: OfflineQueueManager, docs: tuple[DocumentsApp, AsgiServer]
) -> None:
    app, server = docs
    app.set("a", {**BASE, "notes": "edited elsewhere"})
    payload = {
        "url": server.url("/docs/a"),
        "method": "PUT",
        "data": {**BASE, "rank": 1},
        "base": BASE,
    }
    op_id = await queue.enqueue("api_call", payload)
    async with SyncEngine(queue, None, conflict_strategy="merge") as engine:
        assert (await engine.sync())["completed"] == 1
    assert app.get("a") == {**BASE, "rank": 1, "notes": "edited elsewhere"}
    assert await outcomes(queue, op_id) == ["merged", "completed"]


def test_three_way_merge_field_by_field() -> None:
    base = {"a": 1, "b": {"x": 1, "y": 2}, "c": [1], "gone": True}
    local = {"a": 2, "b": {"x": 1, "y": 3}, "c": [1], "new": "l"}
    remote = {"a": 1, "b": {"x": 5, "y": 2}, "c": [1, 2], "gone": True}
    result = three_way_merge(base, local, remote)
    assert result.clean
    assert result.merged == {"a": 2, "b": {"x": 5, "y": 3}, "c": [1, 2], "new": "l"}
    clash = three_way_merge({"a": 1, "b": [1]}, {"a": 2, "b": [2]}, {"a": 3, "b": [3]})
    assert clash.conflicts == ("/a", "/b")
    assert three_way_merge({"a": 1}, {"a": True}, {"a": 1}).merged == {"a": True}
    assert three_way_merge(None, {"a": 1}, {"a": 1}).clean


async def test_a_resolution_refused_because_another_process_sends_it_leaves_no_line(
    tmp_path: Path,
) -> None:
    """The history line and the change go together, also when the change refuses."""
    db = tmp_path / "q.db"
    async with OfflineQueueManager(db) as sender, OfflineQueueManager(db) as window:
        op_id = await sender.enqueue("api_call", {"url": "http://127.0.0.1:9/x"})
        (claimed,) = await sender.claim(1)  # being sent by the other process
        with pytest.raises(InvalidStateError):
            await window.requeue(
                op_id, payload={"url": "http://127.0.0.1:9/y"}, event=HistoryEvent("resolved")
            )
        assert "resolved" not in await outcomes(window, op_id)
        assert claimed.id == op_id
