"""Files leave only from where they are allowed: links, swapped files and FIFOs at send time."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from peft_studio_offline.core import outgoing_files
from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.handlers import prepare_payload
from peft_studio_offline.core.outgoing_files import (
    OutgoingFileError,
    OutgoingFolder,
    open_outgoing_file,
)
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.asgi import AsgiServer
from tests.support.sync_apps import UploadsApp

SECRET = b"-----BEGIN OPENSSH PRIVATE KEY----- not for the network\n"


@pytest.fixture
def uploads() -> Iterator[tuple[UploadsApp, AsgiServer]]:
    app = UploadsApp()
    with AsgiServer(app) as server:
        yield app, server


@pytest.fixture
def allowed(tmp_path: Path) -> Path:
    folder = tmp_path / "allowed"
    folder.mkdir()
    return folder


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    path = outside / "id_ed25519"
    path.write_bytes(SECRET)
    return path


def restricted(*roots: Path) -> Settings:
    settings = Settings.load()
    sync = dataclasses.replace(settings.sync, upload_roots=tuple(str(r) for r in roots))
    return dataclasses.replace(settings, sync=sync)


def received(app: UploadsApp) -> list[bytes]:
    with app.lock:
        return [seen.body for seen in app.seen]


# ------------------------------------------------------------------ the function


def test_the_opened_file_is_checked_not_the_name(allowed: Path, secret: Path) -> None:
    inside = allowed / "weights.bin"
    inside.write_bytes(b"weights")
    with open_outgoing_file(inside, [str(allowed)]) as opened:
        assert opened.handle.read() == b"weights"
        assert opened.size == 7
        assert (opened.device, opened.inode) == (inside.stat().st_dev, inside.stat().st_ino)
        assert opened.path == inside.resolve()
    link = allowed / "link.bin"
    link.symlink_to(secret)
    with pytest.raises(OutgoingFileError, match="is a symbolic link"):
        open_outgoing_file(link, [str(allowed)])
    with pytest.raises(OutgoingFileError, match="is a symbolic link"):
        open_outgoing_file(link)  # with no allowed folder too: links are never followed
    with pytest.raises(OutgoingFileError, match="outside the folders allowed"):
        open_outgoing_file(secret, [str(allowed)])
    # A folder on the way that is a link to outside: the real path of what was opened tells.
    (allowed / "via").symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(OutgoingFileError, match="outside the folders allowed"):
        open_outgoing_file(allowed / "via" / secret.name, [str(allowed)])
    with pytest.raises(OutgoingFileError, match="a folder, not a regular file"):
        open_outgoing_file(allowed, [str(allowed)])


def test_a_fifo_is_refused_at_once(allowed: Path) -> None:
    fifo = allowed / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(OutgoingFileError, match="FIFO"):
        open_outgoing_file(fifo, [str(allowed)])


@pytest.mark.parametrize("by_descriptor", [True, False], ids=["descriptors", "names"])
def test_an_adapter_folder_names_its_links_and_is_read_through_its_descriptor(
    allowed: Path, secret: Path, by_descriptor: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through descriptors where the system allows it; elsewhere (Windows) name by name."""
    monkeypatch.setattr(outgoing_files, "BY_DESCRIPTOR", by_descriptor)
    folder = allowed / "lora"
    (folder / "sub").mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    (folder / "sub" / "tokenizer.json").write_text("[]")
    with OutgoingFolder.open(folder, [str(allowed)]) as opened:
        assert opened.files() == [("adapter_config.json", 2), ("sub/tokenizer.json", 2)]
        # Swapped for a link after the listing: the open refuses it.
        (folder / "sub" / "tokenizer.json").unlink()
        (folder / "sub" / "tokenizer.json").symlink_to(secret)
        with pytest.raises(OutgoingFileError, match="symbolic link"):
            opened.open_file("sub/tokenizer.json")
        # A folder on the way swapped for a link: refused too.
        (folder / "sub").rename(allowed / "sub-away")
        (folder / "sub").symlink_to(secret.parent, target_is_directory=True)
        with pytest.raises(OutgoingFileError, match="symbolic link"):
            opened.open_file("sub/id_ed25519")
        with pytest.raises(OutgoingFileError, match=r"symbolic links \('sub'\)"):
            opened.files()
    with pytest.raises(OutgoingFileError, match="outside the folders allowed"):
        OutgoingFolder.open(secret.parent, [str(allowed)])
    replaced = allowed / "replaced"
    replaced.symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(OutgoingFileError, match="is a symbolic link"):
        OutgoingFolder.open(replaced)


# ------------------------------------------------------------------ file uploads


async def test_a_file_swapped_for_a_link_after_enqueue_is_not_sent(
    queue: OfflineQueueManager,
    uploads: tuple[UploadsApp, AsgiServer],
    allowed: Path,
    secret: Path,
) -> None:
    app, server = uploads
    path = allowed / "eval.json"
    path.write_bytes(b"{}")
    # Queued with no hash (as a script writing to the queue may), then swapped for a link.
    op_id = await queue.enqueue("file_upload", {"path": str(path), "url": server.url("/e")})
    path.unlink()
    path.symlink_to(secret)
    async with SyncEngine(queue, None) as engine:
        assert (await engine.sync())["failed"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.FAILED
    assert "is a symbolic link" in (op.error_message or "")
    assert received(app) == []


async def test_a_fifo_swapped_in_after_enqueue_fails_instead_of_hanging(
    queue: OfflineQueueManager, uploads: tuple[UploadsApp, AsgiServer], allowed: Path
) -> None:
    app, server = uploads
    path = allowed / "metrics.csv"
    path.write_bytes(b"a,b\n")
    # No recorded size: nothing tells the FIFO apart before it is opened.
    op_id = await queue.enqueue("file_upload", {"path": str(path), "url": server.url("/m")})
    path.unlink()
    os.mkfifo(path)
    try:
        async with SyncEngine(queue, None) as engine:
            result = await asyncio.wait_for(engine.sync(), timeout=10)
    finally:
        # Had a reader blocked on the FIFO, this would free it (and the test's thread pool).
        with contextlib.suppress(OSError):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    assert result["failed"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and "FIFO" in (op.error_message or "")
    assert received(app) == []


def test_a_client_given_hash_and_size_are_replaced_by_the_apps_own(allowed: Path) -> None:
    path = allowed / "data.bin"
    path.write_bytes(b"real bytes")
    payload = prepare_payload(
        "file_upload",
        {"path": str(path), "url": "http://x/", "sha256": "0" * 64, "size": 1},
        upload_roots=[str(allowed)],
    )
    assert payload["sha256"] == hashlib.sha256(b"real bytes").hexdigest()
    assert payload["size"] == len(b"real bytes")


async def test_swapping_a_file_for_a_link_races_nothing_out(
    queue: OfflineQueueManager,
    uploads: tuple[UploadsApp, AsgiServer],
    allowed: Path,
    secret: Path,
) -> None:
    """A thread flips the queued file between itself and a link to a secret while it is sent.

    Each operation carries the secret's own hash and size (what a client that knows the
    file could claim), so only the open itself stands between the secret and the network.
    """
    app, server = uploads
    path = allowed / "checkpoint.bin"
    decoy = b"x" * len(SECRET)
    path.write_bytes(decoy)
    claimed = {"sha256": hashlib.sha256(SECRET).hexdigest(), "size": len(SECRET)}
    tries = 60
    for number in range(tries):
        await queue.enqueue(
            "file_upload", {"path": str(path), "url": server.url(f"/r/{number}"), **claimed}
        )
    stop = threading.Event()

    def flip() -> None:
        link, plain = allowed / ".link", allowed / ".plain"
        while not stop.is_set():
            with contextlib.suppress(FileNotFoundError, FileExistsError):
                link.symlink_to(secret)
                link.replace(path)
            with contextlib.suppress(FileNotFoundError):
                plain.write_bytes(decoy)
                plain.replace(path)

    flipper = threading.Thread(target=flip, daemon=True)
    flipper.start()
    try:
        async with SyncEngine(queue, None, settings=restricted(allowed)) as engine:
            result = await engine.sync()
    finally:
        stop.set()
        flipper.join()
    assert result["total"] == tries
    assert result["completed"] == 0  # the decoy never matches the claimed hash either
    assert all(SECRET not in body for body in received(app))


def test_an_adapter_folder_with_a_link_is_refused_when_it_is_queued(
    allowed: Path, secret: Path
) -> None:
    folder = allowed / "lora"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "notes.txt").symlink_to(secret)
    with pytest.raises(ValueError, match=r"symbolic links \('notes.txt'\)"):
        prepare_payload("model_push", {"path": str(folder), "run_id": "r" * 32})
    (folder / "notes.txt").unlink()
    latest = allowed / "latest"
    latest.symlink_to(folder, target_is_directory=True)
    prepared = prepare_payload("model_push", {"path": str(latest), "run_id": "r" * 32})
    assert prepared["path"] == str(folder.resolve())  # the link named is resolved now
