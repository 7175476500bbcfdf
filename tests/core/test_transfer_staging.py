"""Imported files are removed once nothing unfinished needs them, and never before: two
homes on one machine, a real sync to a loopback server, real file locks."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.transfer import remove_unneeded_staged, transfers_root
from peft_studio_offline.core.transfer._staging import _cleaning, staging_in_use
from tests.support.asgi import AsgiServer
from tests.support.sync_apps import UploadsApp


def side(root: Path) -> Runtime:
    settings = Settings.load(AppPaths.under(root), environ={})
    sync = dataclasses.replace(settings.sync, auto_sync=False)
    settings = dataclasses.replace(settings, sync=sync)
    return Runtime(settings)


@pytest.fixture
async def sides(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Runtime]]:
    offline, connected = side(tmp_path / "offline"), side(tmp_path / "connected")
    try:
        yield offline, connected
    finally:
        await offline.close()
        await connected.close()


def staged(runtime: Runtime) -> set[Path]:
    root = transfers_root(runtime.settings.paths)
    return {p for p in root.rglob("*") if p.is_file()}


def a_file(tmp_path: Path, name: str, size: int) -> Path:
    path = tmp_path / "work" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


async def test_copies_go_when_delivered_or_cancelled_and_stay_while_still_to_send(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, connected = sides
    uploads = UploadsApp()
    with AsgiServer(uploads) as store:
        now = await offline.submit(
            "file_upload", {"path": str(a_file(tmp_path, "a.bin", 300_000)), "url": store.url("/a")}
        )
        later = await offline.submit(
            "file_upload",
            {"path": str(a_file(tmp_path, "b.bin", 200_000)), "url": store.url("/b")},
            not_before=time.time() + 3600,
        )
        await offline.export_bundle(tmp_path / "bundle")
        await connected.import_bundle(tmp_path / "bundle")
        arrived = {op.idempotency_key: op for op in await connected.queue.list_operations()}
        keys = {op.id: op.idempotency_key for op in await offline.queue.list_operations()}
        sent, waiting = arrived[keys[now]], arrived[keys[later]]
        assert staged(connected) == {Path(sent.payload["path"]), Path(waiting.payload["path"])}

        result = await connected.engine.sync()

    assert result["completed"] == 1, result["errors"]
    assert uploads.files
    # The delivered one's copy is gone; the one still to send keeps its copy, unchanged.
    assert staged(connected) == {Path(waiting.payload["path"])}
    assert Path(waiting.payload["path"]).read_bytes() == (tmp_path / "work" / "b.bin").read_bytes()

    await connected.queue.cancel(waiting.id)
    await connected.export_receipt(tmp_path / "receipt.json")
    assert staged(connected) == set()
    root = transfers_root(connected.settings.paths)
    assert list(root.iterdir()) == []  # the import's folder went too


async def test_what_expired_on_the_way_or_was_deleted_leaves_no_copy(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, connected = sides
    url = "http://127.0.0.1:9/up"
    await offline.submit(
        "file_upload", {"path": str(a_file(tmp_path, "a.bin", 100_000)), "url": url}, ttl=1.0
    )
    await offline.submit(
        "file_upload", {"path": str(a_file(tmp_path, "b.bin", 100_000)), "url": url}
    )
    await offline.export_bundle(tmp_path / "bundle")
    await asyncio.sleep(1.1)

    imported = await connected.import_bundle(tmp_path / "bundle")

    assert (imported.added, imported.expired) == (2, 1)
    ops = {op.status: op for op in await connected.queue.list_operations()}
    assert staged(connected) == {Path(ops[OperationStatus.PENDING].payload["path"])}

    await connected.queue.delete_operation(ops[OperationStatus.PENDING].id)
    # The receipt's import on this side (nothing of it is known here) tidies all the same.
    receipt = tmp_path / "receipt.json"
    await offline.export_receipt(receipt)
    await connected.import_receipt(receipt)
    assert staged(connected) == set()


async def test_the_clean_up_waits_for_no_import_and_removes_nothing_one_is_adding(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    _, connected = sides
    root = transfers_root(connected.settings.paths)
    # What an import in progress (here, or in another process) has staged so far, and what
    # a crashed one left behind.
    staging = root / ("a" * 32) / "1"
    staging.mkdir(parents=True)
    (staging / "weights.bin").write_bytes(b"w" * 1000)
    crashed = root / f".incoming-{'b' * 32}"
    crashed.mkdir()
    (crashed / "x").write_bytes(b"x")
    (root / f".records-{'b' * 32}.jsonl").write_text("{}\n")

    async with staging_in_use(root):
        assert await remove_unneeded_staged(connected.queue, root) == 0
        assert (staging / "weights.bin").exists() and crashed.exists()

    # The import is over (it added nothing that refers to these): everything goes.
    assert await remove_unneeded_staged(connected.queue, root) == 1
    assert list(root.iterdir()) == []


@pytest.mark.timeout(60)
async def test_an_import_waits_for_a_clean_up_in_progress_without_stopping_the_loop(
    tmp_path: Path,
) -> None:
    root = tmp_path / "data" / "transfers"
    entered = asyncio.Event()

    async def an_import() -> None:
        async with staging_in_use(root):
            entered.set()

    with _cleaning(root) as held:  # a clean-up, between two of its reads of the queue
        assert held is True
        waiting = asyncio.ensure_future(an_import())
        await asyncio.sleep(0.3)  # the loop still runs, for the clean-up to finish
        assert not entered.is_set()
    await asyncio.wait_for(waiting, 10)
    assert entered.is_set()


async def test_a_copy_named_through_a_link_to_the_data_folder_is_still_needed(
    tmp_path: Path,
) -> None:
    offline, real = side(tmp_path / "offline"), side(tmp_path / "connected")
    (tmp_path / "connected").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "connected")
    linked = side(tmp_path / "link")  # the same home, reached through a link
    try:
        payload = {"path": str(a_file(tmp_path, "a.bin", 50_000)), "url": "http://127.0.0.1:9/"}
        await offline.submit("file_upload", payload)
        await offline.export_bundle(tmp_path / "bundle")
        await linked.import_bundle(tmp_path / "bundle")
        [op] = await real.queue.list_operations()
        assert "link" in op.payload["path"]
        assert await remove_unneeded_staged(real.queue, transfers_root(real.settings.paths)) == 0
        assert Path(op.payload["path"]).read_bytes() == Path(payload["path"]).read_bytes()
    finally:
        for runtime in (offline, real, linked):
            await runtime.close()
