"""What a bundle keeps of the queue's own fields (dedup key, expiry, earliest start) and the
queue's limit on the importing side: two homes on one machine, real queue files."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.errors import QueueFullError
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.transfer import FORMAT_VERSION, MANIFEST_NAME, transfers_root

URL = "http://127.0.0.1:9/upload"


def runtime_in(root: Path, settings_text: str = "") -> Runtime:
    paths = AppPaths.under(root)
    if settings_text:
        paths.settings_file.parent.mkdir(parents=True, exist_ok=True)
        paths.settings_file.write_text(settings_text)
    return Runtime(Settings.load(paths, environ={}))


@pytest.fixture
async def sides(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Runtime]]:
    offline, connected = runtime_in(tmp_path / "offline"), runtime_in(tmp_path / "connected")
    try:
        yield offline, connected
    finally:
        await offline.close()
        await connected.close()


def manifest_version(bundle: Path) -> int:
    version: int = json.loads((bundle / MANIFEST_NAME).read_text())["format_version"]
    return version


async def by_key(side: Runtime) -> dict[str, Operation]:
    return {op.idempotency_key: op for op in await side.queue.list_operations()}


async def test_dedup_key_expiry_and_earliest_start_arrive_as_they_were(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, connected = sides
    # Without any of them, a bundle stays at version 1, which older apps read too.
    plain = await offline.submit("api_call", {"url": URL, "method": "GET"})
    await offline.export_bundle(tmp_path / "plain")
    assert manifest_version(tmp_path / "plain") == 1
    assert (await connected.import_bundle(tmp_path / "plain")).added == 1
    await connected.queue.delete_operation((await connected.queue.list_operations())[0].id)
    await offline.queue.delete_operation(plain)

    later, start = time.time() + 3600, time.time() + 600
    op_id = await offline.submit(
        "api_call", {"url": URL, "method": "POST"}, dedup_key="run-7", expires_at=later,
        not_before=start,
    )  # fmt: skip
    source = await offline.queue.get_operation(op_id)
    assert source is not None

    await offline.export_bundle(tmp_path / "bundle")
    assert manifest_version(tmp_path / "bundle") == FORMAT_VERSION == 2
    imported = await connected.import_bundle(tmp_path / "bundle")

    assert (imported.added, imported.expired, imported.deduplicated) == (1, 0, 0)
    [arrived] = await connected.queue.list_operations()
    assert arrived.idempotency_key == source.idempotency_key
    assert arrived.status is OperationStatus.PENDING
    assert arrived.dedup_key == "run-7"
    assert arrived.expires_at is not None and arrived.expires_at.timestamp() == pytest.approx(later)
    due = arrived.next_attempt_at
    assert due is not None and due.timestamp() == pytest.approx(start)
    # Not due yet: nothing may take it before its time.
    assert await connected.queue.claim(limit=10) == []
    [entry] = await connected.queue.get_attempts(arrived.id)
    assert entry.details["queued_at_source"] == source.created_at.isoformat()
    # The same dedup key on the connected side now joins the imported operation.
    again = await connected.submit("api_call", {"url": URL, "method": "PUT"}, dedup_key="run-7")
    assert again == arrived.id


async def test_an_operation_whose_time_ran_out_on_the_way_arrives_expired_never_sent(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, connected = sides
    short = await offline.submit("api_call", {"url": URL, "method": "POST"}, ttl=1.5)
    await offline.submit("api_call", {"url": URL, "method": "PUT"}, ttl=3600)
    exported = await offline.export_bundle(tmp_path / "bundle")
    assert exported.operations == 2
    await asyncio.sleep(1.6)  # the drive travels; the short-lived one runs out meanwhile

    imported = await connected.import_bundle(tmp_path / "bundle")

    assert (imported.added, imported.expired) == (2, 1)
    source = await offline.queue.get_operation(short)
    assert source is not None
    arrived = await by_key(connected)
    gone = arrived[source.idempotency_key]
    assert gone.status is OperationStatus.EXPIRED
    outcomes = [a.outcome for a in await connected.queue.get_attempts(gone.id)]
    assert outcomes == ["imported", "expired"]
    claimed = await connected.queue.claim(limit=10)
    assert [op.idempotency_key for op in claimed] != [source.idempotency_key]
    assert len(claimed) == 1
    stats = await connected.queue.get_queue_stats()
    assert (stats["expired"], stats["pending"] + stats["in_progress"]) == (1, 1)


async def test_an_export_leaves_what_already_expired_here_as_expired(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, _ = sides
    stale = await offline.submit(
        "api_call", {"url": URL, "method": "POST"}, expires_at=time.time() - 1
    )
    await offline.submit("api_call", {"url": URL, "method": "PUT"})
    exported = await offline.export_bundle(tmp_path / "bundle")
    assert exported.operations == 1
    op = await offline.queue.get_operation(stale)
    assert op is not None and op.status is OperationStatus.EXPIRED


async def test_an_imported_dedup_key_joins_the_unfinished_operation_here(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, connected = sides
    first = await offline.submit("api_call", {"url": URL, "method": "POST"}, dedup_key="latest")
    await offline.submit("api_call", {"url": URL, "method": "GET"}, depends_on=[first])
    here = await connected.submit("api_call", {"url": URL, "method": "PUT"}, dedup_key="latest")
    await offline.export_bundle(tmp_path / "bundle")

    imported = await connected.import_bundle(tmp_path / "bundle")

    assert (imported.added, imported.deduplicated) == (1, 1)
    ops = await connected.queue.list_operations()
    assert len(ops) == 2
    dependent = next(op for op in ops if op.id != here)
    assert dependent.depends_on == (here,)


async def test_an_import_past_the_queue_limit_is_refused_whole(tmp_path: Path) -> None:
    offline = runtime_in(tmp_path / "offline")
    connected = runtime_in(tmp_path / "connected", "[queue]\nmax_size = 3\n")
    try:
        data = tmp_path / "data.bin"
        data.write_bytes(b"x" * 200_000)
        await offline.submit("file_upload", {"path": str(data), "url": URL})
        for n in range(2):
            await offline.submit("api_call", {"url": URL, "method": "POST", "data": {"n": n}})
        await connected.submit("api_call", {"url": URL, "method": "GET"})
        await offline.export_bundle(tmp_path / "bundle")

        with pytest.raises(QueueFullError) as caught:
            await connected.import_bundle(tmp_path / "bundle")

        message = str(caught.value)
        assert "limit of 3 unfinished operations" in message
        assert "queue.max_size" in message and "nothing was imported" in message
        assert len(await connected.queue.list_operations()) == 1
        root = transfers_root(connected.settings.paths)
        assert not root.exists() or not any(root.rglob("*"))
    finally:
        await offline.close()
        await connected.close()


async def test_under_drop_oldest_an_import_cancels_the_least_important_work_here(
    tmp_path: Path,
) -> None:
    offline = runtime_in(tmp_path / "offline")
    settings = '[queue]\nmax_size = 3\noverflow = "drop_oldest"\n'
    connected = runtime_in(tmp_path / "connected", settings)
    try:
        for n in range(2):
            await offline.submit("api_call", {"url": URL, "method": "POST", "data": {"n": n}})
        low = await connected.submit("api_call", {"url": URL, "method": "GET"}, -5)
        high = await connected.submit("api_call", {"url": URL, "method": "GET"}, 5)
        await offline.export_bundle(tmp_path / "bundle")

        imported = await connected.import_bundle(tmp_path / "bundle")

        assert imported.added == 2
        dropped = await connected.queue.get_operation(low)
        kept = await connected.queue.get_operation(high)
        assert dropped is not None and dropped.status is OperationStatus.CANCELLED
        assert kept is not None and kept.status is OperationStatus.PENDING
        assert [a.outcome for a in await connected.queue.get_attempts(low)] == ["dropped"]
        assert (await connected.queue.get_queue_stats())["pending"] == 3
    finally:
        await offline.close()
        await connected.close()


async def test_the_receipt_of_an_operation_that_stood_for_an_imported_one_completes_both(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, connected = sides
    first = await offline.submit("api_call", {"url": URL, "method": "PUT"}, dedup_key="state")
    await offline.export_bundle(tmp_path / "one")
    # The first is exported, no longer pending: a later change with the same key is queued.
    second = await offline.submit("api_call", {"url": URL, "method": "PUT"}, dedup_key="state")
    await offline.export_bundle(tmp_path / "two")
    await connected.import_bundle(tmp_path / "one")
    joined = await connected.import_bundle(tmp_path / "two")
    assert (joined.added, joined.deduplicated) == (0, 1)
    [standing] = await connected.queue.claim(limit=10)
    await connected.queue.mark_completed(standing.id, details={"status": 200})

    receipt = await connected.export_receipt(tmp_path / "receipt.json")
    assert receipt.deliveries == 2
    marked = await offline.import_receipt(tmp_path / "receipt.json")

    assert marked.completed == 2
    for op_id in (first, second):
        op = await offline.queue.get_operation(op_id)
        assert op is not None and op.status is OperationStatus.COMPLETED
