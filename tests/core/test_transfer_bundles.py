"""Transfer bundles between two homes on one machine: export, import, receipts, damage."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import pyrage
import pytest

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.errors import StorageBudgetError
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.transfer import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    BundleError,
    ReceiptError,
    transfers_root,
)
from peft_studio_offline.core.transfer._manifest import Manifest, PartInfo, part_name

URL = "http://127.0.0.1:9/upload"


def runtime_in(root: Path) -> Runtime:
    return Runtime(Settings.load(AppPaths.under(root), environ={}))


@pytest.fixture
async def sides(tmp_path: Path) -> AsyncIterator[tuple[Runtime, Runtime]]:
    offline, connected = runtime_in(tmp_path / "offline"), runtime_in(tmp_path / "connected")
    try:
        yield offline, connected
    finally:
        await offline.close()
        await connected.close()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    source = tmp_path / "work"
    adapter = source / "lora"
    (adapter / "tokenizer").mkdir(parents=True)
    (adapter / "adapter_config.json").write_text('{"r": 8}')
    (adapter / "adapter_model.safetensors").write_bytes(os.urandom(300_000))
    (adapter / "tokenizer" / "vocab.json").write_bytes(os.urandom(5_000))
    data = source / "data.bin"
    data.write_bytes(os.urandom(2_500_000))
    return {"data": data, "adapter": adapter}


async def queue_work(side: Runtime, files: dict[str, Path]) -> list[int]:
    upload = await side.submit("file_upload", {"path": str(files["data"]), "url": URL})
    push = await side.submit(
        "model_push", {"path": str(files["adapter"]), "run_id": "r1"}, depends_on=[upload]
    )
    call = await side.submit("api_call", {"url": URL, "method": "POST", "data": {"n": 1}}, 7)
    return [upload, push, call]


def staged_files(side: Runtime) -> list[Path]:
    root = transfers_root(side.settings.paths)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def test_operations_arrive_with_their_keys_priorities_dependencies_and_bytes(
    sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path
) -> None:
    offline, connected = sides
    ids = await queue_work(offline, files)
    sent = {op.idempotency_key: op for op in await offline.queue.list_operations()}
    originals = {
        "data": files["data"].read_bytes(),
        "weights": (files["adapter"] / "adapter_model.safetensors").read_bytes(),
    }
    result = await offline.export_bundle(tmp_path / "bundle")
    assert (result.operations, result.files, result.marked_exported) == (3, 4, 3)
    for path in files.values():  # the drive carries the only copy from now on
        if path.is_dir():
            for inner in sorted(path.rglob("*"), reverse=True):
                inner.unlink() if inner.is_file() else inner.rmdir()
            path.rmdir()
        else:
            path.unlink()

    imported = await connected.import_bundle(tmp_path / "bundle")

    assert (imported.added, imported.already_here, imported.files_staged) == (3, 0, 4)
    arrived = {op.idempotency_key: op for op in await connected.queue.list_operations()}
    assert arrived.keys() == sent.keys()
    by_id = {op.id: op for op in arrived.values()}
    for key, op in arrived.items():
        assert op.status is OperationStatus.PENDING
        assert op.priority == sent[key].priority
        assert op.operation_type == sent[key].operation_type
    upload, push, _ = (arrived[offline_key] for offline_key in sent)
    assert [by_id[d].idempotency_key for d in push.depends_on] == [upload.idempotency_key]
    staged = Path(upload.payload["path"])
    assert staged.is_relative_to(transfers_root(connected.settings.paths))
    assert staged.read_bytes() == originals["data"]
    assert upload.payload["sha256"] == hashlib.sha256(originals["data"]).hexdigest()
    weights = Path(push.payload["path"]) / "adapter_model.safetensors"
    assert weights.read_bytes() == originals["weights"]
    assert (Path(push.payload["path"]) / "tokenizer" / "vocab.json").is_file()
    assert [a.outcome for a in await connected.queue.get_attempts(upload.id)] == ["imported"]
    assert {op.status for op in await offline.queue.list_operations()} == {OperationStatus.EXPORTED}
    assert ids == sorted(ids)


async def test_importing_twice_or_overlapping_bundles_adds_nothing_the_second_time(
    sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path
) -> None:
    offline, connected = sides
    await queue_work(offline, files)
    await offline.export_bundle(tmp_path / "first")
    late = await offline.submit("api_call", {"url": URL, "method": "PUT", "data": {}})
    # Not exported again unless asked: a plain export now takes only the new one.
    only_new = await offline.export_bundle(tmp_path / "second")
    assert only_new.operations == 1
    again = await offline.export_bundle(tmp_path / "everything", everything=True)
    assert again.operations == 4

    first = await connected.import_bundle(tmp_path / "first")
    staged_after_first = staged_files(connected)
    repeat = await connected.import_bundle(tmp_path / "first")
    overlap = await connected.import_bundle(tmp_path / "everything")
    second = await connected.import_bundle(tmp_path / "second")

    assert (first.added, repeat.added, overlap.added, second.added) == (3, 0, 1, 0)
    assert (repeat.already_here, overlap.already_here, second.already_here) == (3, 3, 1)
    assert repeat.files_staged == overlap.files_staged == 0
    assert staged_files(connected) == staged_after_first  # no second copy of any file
    stats = await connected.queue.get_queue_stats()
    assert stats["total"] == stats["pending"] == 4
    late_key = (await offline.queue.get_operation(late)).idempotency_key  # type: ignore[union-attr]
    assert late_key in await connected.queue.statuses_of_keys([late_key])


async def test_a_receipt_completes_exactly_the_delivered_operations_and_twice_is_harmless(
    sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path
) -> None:
    offline, connected = sides
    await queue_work(offline, files)
    await offline.export_bundle(tmp_path / "bundle")
    unexported = await offline.submit("api_call", {"url": URL})
    await connected.import_bundle(tmp_path / "bundle")
    imported = await connected.queue.list_operations()
    delivered = imported[:2]
    await connected.queue.mark_completed(delivered[0].id, details={"run_id": "remote-1"})
    await connected.queue.mark_completed(delivered[1].id)
    own = await connected.submit("api_call", {"url": URL})  # made here: in no receipt
    await connected.queue.mark_completed(own)

    receipt = await connected.export_receipt(tmp_path / "receipt.json")
    assert receipt.deliveries == 2
    first = await offline.import_receipt(tmp_path / "receipt.json")
    second = await offline.import_receipt(tmp_path / "receipt.json")

    assert (first.completed, first.unknown) == (2, 0)
    assert (second.completed, second.already_completed) == (0, 2)
    keys = {op.idempotency_key for op in delivered}
    statuses = {op.idempotency_key: op.status for op in await offline.queue.list_operations()}
    assert {k for k, s in statuses.items() if s is OperationStatus.COMPLETED} == keys
    assert sum(s is OperationStatus.EXPORTED for s in statuses.values()) == 1
    assert (await offline.queue.get_operation(unexported)).status is OperationStatus.PENDING  # type: ignore[union-attr]
    done = next(op for op in await offline.queue.list_operations() if op.idempotency_key in keys)
    attempts = await offline.queue.get_attempts(done.id)
    assert attempts[-1].outcome == "completed"
    assert attempts[-1].details["receipt"] == receipt.receipt_id


async def test_a_receipt_for_work_this_queue_never_had_changes_nothing(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, connected = sides
    own = await connected.submit("api_call", {"url": URL})
    await connected.queue.mark_completed(own)
    await connected.export_receipt(tmp_path / "receipt.json", everything=True)
    mine = await offline.submit("api_call", {"url": URL})

    result = await offline.import_receipt(tmp_path / "receipt.json")

    assert (result.deliveries, result.completed, result.unknown) == (1, 0, 1)
    assert (await offline.queue.get_operation(mine)).status is OperationStatus.PENDING  # type: ignore[union-attr]


async def test_a_truncated_receipt_is_refused_and_marks_nothing(
    sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path
) -> None:
    offline, connected = sides
    await queue_work(offline, files)
    await offline.export_bundle(tmp_path / "bundle")
    await connected.import_bundle(tmp_path / "bundle")
    for op in await connected.queue.list_operations():
        await connected.queue.mark_completed(op.id)
    receipt = tmp_path / "receipt.json"
    await connected.export_receipt(receipt)
    receipt.write_bytes(receipt.read_bytes()[:-40])

    with pytest.raises(ReceiptError, match="damaged or truncated"):
        await offline.import_receipt(receipt)
    assert (await offline.queue.get_queue_stats())["exported"] == 3


async def test_parts_stay_within_the_chosen_size_and_join_into_the_same_bundle(
    sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path
) -> None:
    offline, connected = sides
    await queue_work(offline, files)
    result = await offline.export_bundle(tmp_path / "bundle", part_size=1_000_000)
    sizes = [(tmp_path / "bundle" / name).stat().st_size for name in result.parts]
    assert len(sizes) >= 3
    assert all(size == 1_000_000 for size in sizes[:-1]) and 0 < sizes[-1] <= 1_000_000
    manifest = json.loads((tmp_path / "bundle" / MANIFEST_NAME).read_text())
    assert [p["size"] for p in manifest["parts"]] == sizes
    assert manifest["operations_by_type"] == {"api_call": 1, "file_upload": 1, "model_push": 1}

    imported = await connected.import_bundle(tmp_path / "bundle")

    assert imported.added == 3
    upload = next(
        op for op in await connected.queue.list_operations() if op.operation_type == "file_upload"
    )
    assert (
        hashlib.sha256(Path(upload.payload["path"]).read_bytes()).hexdigest()
        == (upload.payload["sha256"])
    )


async def test_an_export_whose_file_is_gone_writes_nothing_and_marks_nothing(
    sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path
) -> None:
    offline, _ = sides
    await queue_work(offline, files)
    files["data"].unlink()

    with pytest.raises(BundleError, match="does not exist"):
        await offline.export_bundle(tmp_path / "bundle")

    assert not (tmp_path / "bundle").exists()
    assert (await offline.queue.get_queue_stats())["pending"] == 3


async def test_an_export_into_a_folder_that_holds_something_is_refused(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, _ = sides
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="not an empty folder"):
        await offline.export_bundle(tmp_path / "full")
    assert [p.name for p in (tmp_path / "full").iterdir()] == ["keep.txt"]


# ------------------------------------------------------------------ damaged bundles


@pytest.fixture
async def bundle(sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path) -> Path:
    offline, _ = sides
    await queue_work(offline, files)
    await offline.export_bundle(tmp_path / "bundle", part_size=1_000_000)
    return tmp_path / "bundle"


async def refused(connected: Runtime, folder: Path, sentence: str) -> None:
    with pytest.raises(BundleError, match=sentence) as caught:
        await connected.import_bundle(folder)
    assert "\n" not in str(caught.value)
    assert (await connected.queue.get_queue_stats())["total"] == 0
    assert staged_files(connected) == []


async def test_a_flipped_byte_is_refused_naming_its_part(
    sides: tuple[Runtime, Runtime], bundle: Path
) -> None:
    part = bundle / part_name(2)
    data = bytearray(part.read_bytes())
    data[12345] ^= 0x01
    part.write_bytes(bytes(data))
    await refused(sides[1], bundle, r"Part 2 of \d \(bundle\.tar\.00002\) .* is damaged")


async def test_a_missing_part_is_refused_naming_it(
    sides: tuple[Runtime, Runtime], bundle: Path
) -> None:
    (bundle / part_name(3)).unlink()
    await refused(sides[1], bundle, r"Part 3 of \d \(bundle\.tar\.00003\) .* is missing")


async def test_a_truncated_part_is_refused_as_incomplete(
    sides: tuple[Runtime, Runtime], bundle: Path
) -> None:
    part = bundle / part_name(1)
    part.write_bytes(part.read_bytes()[:1000])
    await refused(sides[1], bundle, r"Part 1 .* has 1000 bytes where the manifest says")


async def test_a_truncated_manifest_is_refused(
    sides: tuple[Runtime, Runtime], bundle: Path
) -> None:
    manifest = bundle / MANIFEST_NAME
    manifest.write_bytes(manifest.read_bytes()[:200])
    await refused(sides[1], bundle, r"The manifest .*MANIFEST\.json is damaged or truncated")


async def test_a_bundle_without_its_manifest_is_refused_as_incomplete(
    sides: tuple[Runtime, Runtime], bundle: Path
) -> None:
    (bundle / MANIFEST_NAME).unlink()
    await refused(sides[1], bundle, r"has no manifest \(MANIFEST\.json\): it is incomplete")


async def test_a_bundle_of_a_newer_format_version_is_refused(
    sides: tuple[Runtime, Runtime], bundle: Path
) -> None:
    manifest = bundle / MANIFEST_NAME
    data = json.loads(manifest.read_text())
    data["format_version"] = FORMAT_VERSION + 1
    manifest.write_text(json.dumps(data))
    newer = rf"uses format version {FORMAT_VERSION + 1}, newer than this app reads"
    await refused(sides[1], bundle, newer)


def forged_bundle(folder: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    """A bundle whose parts and manifest agree: only its content is hostile."""
    folder.mkdir()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    raw = buffer.getvalue()
    (folder / part_name(1)).write_bytes(raw)
    Manifest(
        bundle_id="0" * 32,
        created_at="2026-01-01T00:00:00+00:00",
        operations=1,
        operations_by_type={"file_upload": 1},
        files=1,
        file_bytes=3,
        parts=(PartInfo(part_name(1), len(raw), hashlib.sha256(raw).hexdigest()),),
    ).write(folder)
    return folder


def member(
    name: str, data: bytes = b"", kind: bytes = tarfile.REGTYPE
) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    if kind == tarfile.SYMTYPE:
        info.linkname = "/etc/passwd"
    return info, data


def upload_page(name: str, entries: list[list[object]]) -> tuple[tarfile.TarInfo, bytes]:
    record = {
        "n": 1,
        "idempotency_key": "k" * 32,
        "operation_type": "file_upload",
        "priority": 0,
        "max_attempts": 5,
        "conflict_strategy": None,
        "resource_key": None,
        "depends_on": [],
        "files": {"kind": "folder", "name": name, "entries": entries},
        "source_id": 1,
        "payload": {"path": "/etc/passwd", "url": URL},
    }
    return member("operations/000001.jsonl", json.dumps(record).encode() + b"\n")


@pytest.mark.parametrize(
    "listed",
    ["../../../escaped.txt", "/etc/cron.d/job", "a/../../b", "C:/Windows/x", "ok/./x"],
)
async def test_a_path_that_tries_to_leave_the_staging_folder_is_refused(
    sides: tuple[Runtime, Runtime], tmp_path: Path, listed: str
) -> None:
    folder = forged_bundle(
        tmp_path / "forged",
        [upload_page("lora", [[listed, 3]]), member(f"files/1/{listed}", b"bad")],
    )
    await refused(sides[1], folder, r"names a file .* that would leave its staging folder")
    assert not (tmp_path / "escaped.txt").exists()


async def test_a_member_that_leaves_by_its_own_name_is_refused(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    folder = forged_bundle(
        tmp_path / "forged",
        [upload_page("lora", [["x", 3]]), member("files/1/../../../../escaped", b"bad")],
    )
    await refused(sides[1], folder, r"would leave its staging folder")


async def test_a_link_in_a_bundle_is_refused(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    folder = forged_bundle(
        tmp_path / "forged",
        [upload_page("lora", [["x", 0]]), member("files/1/x", kind=tarfile.SYMTYPE)],
    )
    await refused(sides[1], folder, r"'files/1/x', which is not a regular file")


async def test_a_path_the_payload_names_is_never_trusted(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    folder = forged_bundle(
        tmp_path / "forged", [upload_page("lora", [["x", 3]]), member("files/1/x", b"abc")]
    )
    result = await sides[1].import_bundle(folder)
    assert result.added == 1
    (op,) = await sides[1].queue.list_operations()
    assert op.payload["path"] != "/etc/passwd"
    assert Path(op.payload["path"]).is_relative_to(transfers_root(sides[1].settings.paths))
    assert (Path(op.payload["path"]) / "x").read_bytes() == b"abc"


async def test_a_failed_export_into_an_empty_folder_of_the_users_keeps_the_folder(
    sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path
) -> None:
    offline, _ = sides
    await queue_work(offline, files)
    (tmp_path / "stick").mkdir()
    files["adapter"].joinpath("adapter_config.json").unlink()
    files["adapter"].joinpath("adapter_config.json").symlink_to(files["data"])

    with pytest.raises(BundleError, match="symbolic links"):
        await offline.export_bundle(tmp_path / "stick")

    assert (tmp_path / "stick").is_dir()
    assert list((tmp_path / "stick").iterdir()) == []
    assert (await offline.queue.get_queue_stats())["pending"] == 3


# ---------------------------------------------------------------- encrypted bundles


@pytest.fixture
def keys(tmp_path: Path) -> tuple[str, Path, Path]:
    """A recipient's public key, its identity file, and another identity's file."""
    mine, other = pyrage.x25519.Identity.generate(), pyrage.x25519.Identity.generate()
    (tmp_path / "mine.key").write_text(f"# created: today\n{mine}\n")
    (tmp_path / "other.key").write_text(f"{other}\n")
    return str(mine.to_public()), tmp_path / "mine.key", tmp_path / "other.key"


async def test_an_encrypted_bundle_shows_nothing_without_its_key_and_imports_with_it(
    sides: tuple[Runtime, Runtime],
    files: dict[str, Path],
    tmp_path: Path,
    keys: tuple[str, Path, Path],
) -> None:
    offline, connected = sides
    public, identity, _ = keys
    await queue_work(offline, files)
    original = files["data"].read_bytes()
    key = (await offline.queue.list_operations())[0].idempotency_key

    result = await offline.export_bundle(
        tmp_path / "bundle", part_size=1_000_000, recipients=[public]
    )

    folder = tmp_path / "bundle"
    assert json.loads((folder / MANIFEST_NAME).read_text())["encryption"] == "age"
    joined = b"".join((folder / name).read_bytes() for name in result.parts)
    assert key.encode() not in joined and original[:4096] not in joined
    with pytest.raises(BundleError, match="is encrypted: give the identity"):
        await connected.import_bundle(folder)
    imported = await connected.import_bundle(folder, identities=[str(identity)])
    assert imported.added == 3
    upload = next(
        op for op in await connected.queue.list_operations() if op.operation_type == "file_upload"
    )
    assert Path(upload.payload["path"]).read_bytes() == original


async def test_an_encrypted_bundle_refuses_another_identity_and_imports_nothing(
    sides: tuple[Runtime, Runtime],
    files: dict[str, Path],
    tmp_path: Path,
    keys: tuple[str, Path, Path],
) -> None:
    offline, connected = sides
    public, _, other = keys
    await queue_work(offline, files)
    await offline.export_bundle(tmp_path / "bundle", recipients=[public])
    await refused_with(connected, tmp_path / "bundle", [str(other)], "cannot be decrypted")


async def test_a_damaged_encrypted_part_is_named_before_any_key_is_used(
    sides: tuple[Runtime, Runtime],
    files: dict[str, Path],
    tmp_path: Path,
    keys: tuple[str, Path, Path],
) -> None:
    offline, connected = sides
    public, identity, _ = keys
    await queue_work(offline, files)
    await offline.export_bundle(tmp_path / "bundle", part_size=1_000_000, recipients=[public])
    part = tmp_path / "bundle" / part_name(2)
    data = bytearray(part.read_bytes())
    data[100] ^= 0x40
    part.write_bytes(bytes(data))
    await refused_with(connected, tmp_path / "bundle", [str(identity)], r"Part 2 .* is damaged")


async def test_a_recipient_that_is_no_public_key_is_refused_before_anything_is_written(
    sides: tuple[Runtime, Runtime], files: dict[str, Path], tmp_path: Path
) -> None:
    offline, _ = sides
    await queue_work(offline, files)
    with pytest.raises(ValueError, match="is not an age public key"):
        await offline.export_bundle(tmp_path / "bundle", recipients=["age1notakey"])
    assert not (tmp_path / "bundle").exists()
    assert (await offline.queue.get_queue_stats())["pending"] == 3


async def refused_with(connected: Runtime, folder: Path, identities: list[str], words: str) -> None:
    with pytest.raises(BundleError, match=words):
        await connected.import_bundle(folder, identities=identities)
    assert (await connected.queue.get_queue_stats())["total"] == 0
    assert staged_files(connected) == []


# ------------------------------------------------------------- secrets in bundles

TOKEN = "Bearer tok-3c1f9a7e5d2b48c6"


async def queue_with_a_secret(side: Runtime) -> tuple[int, int]:
    plain = await side.submit("api_call", {"url": URL, "method": "POST", "data": {"n": 1}})
    secret = await side.submit(
        "api_call", {"url": URL, "method": "POST", "headers": {"Authorization": TOKEN}}
    )
    return plain, secret


async def test_an_unencrypted_bundle_refuses_an_operation_holding_secrets(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, _ = sides
    _, secret = await queue_with_a_secret(offline)
    with pytest.raises(BundleError, match=f"Operation {secret} holds secrets.*--recipient"):
        await offline.export_bundle(tmp_path / "bundle")
    assert not (tmp_path / "bundle").exists()
    assert (await offline.queue.get_queue_stats())["pending"] == 2  # nothing marked


async def test_without_secrets_the_operations_holding_them_stay_here(
    sides: tuple[Runtime, Runtime], tmp_path: Path
) -> None:
    offline, connected = sides
    plain, secret = await queue_with_a_secret(offline)
    result = await offline.export_bundle(tmp_path / "bundle", without_secrets=True)
    assert (result.operations, result.left_out) == (1, 1)
    statuses = {op.id: op.status for op in await offline.queue.list_operations()}
    assert statuses == {plain: OperationStatus.EXPORTED, secret: OperationStatus.PENDING}
    joined = b"".join((tmp_path / "bundle" / name).read_bytes() for name in result.parts)
    assert b"tok-3c1f9a7e5d2b48c6" not in joined
    assert (await connected.import_bundle(tmp_path / "bundle")).added == 1


async def test_an_encrypted_bundle_carries_secrets_for_the_other_side_to_seal_again(
    sides: tuple[Runtime, Runtime], tmp_path: Path, keys: tuple[str, Path, Path]
) -> None:
    offline, connected = sides
    public, identity, _ = keys
    await queue_with_a_secret(offline)
    result = await offline.export_bundle(tmp_path / "bundle", recipients=[public])
    assert (result.operations, result.left_out) == (2, 0)
    await connected.import_bundle(tmp_path / "bundle", identities=[str(identity)])
    stored = b"".join(  # the file and its log, as a thief would copy them
        p.read_bytes() for p in connected.db_path.parent.glob(connected.db_path.name + "*")
    )
    assert b"tok-3c1f9a7e5d2b48c6" not in stored  # sealed with the connected side's key
    taken = await connected.queue.claim(10)
    headers = [op.payload.get("headers") for op in taken if op.payload.get("headers")]
    assert headers == [{"Authorization": TOKEN}]  # what sending gets: the original


async def test_a_bundle_past_the_storage_budget_is_refused_before_anything_is_staged(
    sides: tuple[Runtime, Runtime], bundle: Path
) -> None:
    _, connected = sides
    level = await connected.queue.storage_usage()
    assert level is not None and connected.queue.storage_budget is not None
    connected.queue.storage_budget.set_limit(level.used + 1_000_000)  # the bundle holds ~3 MB
    with pytest.raises(
        StorageBudgetError, match="The storage budget has no room for this"
    ) as caught:
        await connected.import_bundle(bundle)
    assert "\n" not in str(caught.value)
    assert (await connected.queue.get_queue_stats())["total"] == 0
    assert staged_files(connected) == []
    connected.queue.storage_budget.set_limit(level.used + 20_000_000)
    result = await connected.import_bundle(bundle)
    assert result.operations == 3
    after = await connected.queue.storage_usage()
    assert after is not None and after.used > level.used + 2_500_000  # its files count
