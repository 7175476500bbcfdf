"""Reading a bundle: every part checked first, then its operations added under their keys.

1. The manifest is read and every part's size and SHA-256 checked against it: a damaged,
   missing or truncated part, or a format version newer than this app reads, stops the
   import with a sentence naming it, before anything is written.
2. The archive is read in one pass. Each page of records is checked (the submit path's
   own rules for each type); operations whose key is already in the queue are skipped,
   files included. Files are written under a new staging folder of the data directory at
   a place made from the operation's number and a checked relative path: no absolute
   path, no '..', and no member that is not a regular file (a link could lead out).
3. The staging folder gets its final name and the operations are added in one
   transaction, their payloads' ``path`` pointing at the staged copies. Until then the
   queue holds nothing of the bundle; a failure anywhere removes what was staged.

The records go through a spool file beside the staging folder, so that memory stays flat
whatever the number of operations.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tarfile
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.paths import ensure_private_dir
from peft_studio_offline.core.queue._transfers import ImportedOperation
from peft_studio_offline.core.submit import check_payload
from peft_studio_offline.core.transfer._age import DecryptingReader, read_identities
from peft_studio_offline.core.transfer._errors import BundleError
from peft_studio_offline.core.transfer._export import ProgressCallback, TransferProgress
from peft_studio_offline.core.transfer._manifest import Manifest, read_manifest
from peft_studio_offline.core.transfer._parts import PartReader, verify_parts
from peft_studio_offline.core.transfer._records import (
    FILE_MEMBER,
    FILE_TYPES,
    PAGE_MEMBER,
    Record,
    forget_members,
    load_line,
    parse_record,
    record_line,
    safe_relative,
)
from peft_studio_offline.core.transfer._staging import (
    absolute,
    staging_in_use,
    tidy_staged,
)

if TYPE_CHECKING:
    from peft_studio_offline.core.queue import OfflineQueueManager

COPY_BUFFER = 1024 * 1024
# A page of 200 records is far below this; more is not a page this app wrote.
MAX_PAGE_BYTES = 512 * 1024 * 1024
# Room kept free on the disk beyond the bundle's files.
FREE_MARGIN = 64 * 1024 * 1024
_FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)

KnownKeys = Callable[[list[str]], set[str]]


@dataclass(frozen=True, slots=True)
class ImportResult:
    path: Path
    bundle_id: str
    operations: int  # in the bundle
    added: int
    already_here: int
    files_staged: int
    staged_in: Path | None
    unknown_dependencies: int = 0
    expired: int = 0  # among ``added``: their time to live ran out before they arrived
    deduplicated: int = 0  # not added: an unfinished operation here had their dedup key

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bundle_id": self.bundle_id,
            "operations": self.operations,
            "added": self.added,
            "already_here": self.already_here,
            "files_staged": self.files_staged,
            "staged_in": None if self.staged_in is None else str(self.staged_in),
            "unknown_dependencies": self.unknown_dependencies,
            "expired": self.expired,
            "deduplicated": self.deduplicated,
        }


async def import_bundle(
    queue: OfflineQueueManager,
    path: str | os.PathLike[str],
    *,
    staging_root: Path,
    identities: Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> ImportResult:
    """Check the bundle in the folder ``path`` whole, then add what the queue lacks.

    ``identities``: age secret keys, or files of them, for an encrypted bundle.
    """
    folder = absolute(path)
    manifest = await asyncio.to_thread(read_manifest, folder)
    keys: list[Any] = []
    if manifest.encryption is not None:
        if not identities:
            raise BundleError(
                f"The bundle {folder} is encrypted: give the identity (the age secret key)"
                " of a recipient it was encrypted to; nothing was imported."
            )
        keys = await asyncio.to_thread(read_identities, identities)
    total = manifest.bundle_bytes

    def verified(done: int) -> None:
        if progress is not None:
            progress(TransferProgress("verifying", done, total, 0, manifest.operations))

    await asyncio.to_thread(verify_parts, folder, manifest, verified)
    await asyncio.to_thread(_check_room, staging_root, manifest)
    loop = asyncio.get_running_loop()

    def known(keys: list[str]) -> set[str]:
        found = asyncio.run_coroutine_threadsafe(queue.statuses_of_keys(keys), loop).result()
        return set(found)

    import_id = uuid.uuid4().hex
    final = staging_root / import_id
    incoming = staging_root / f".incoming-{import_id}"
    spool = staging_root / f".records-{import_id}.jsonl"
    reader = _StreamReader(folder, manifest, incoming, final, spool, known, progress, keys)
    async with staging_in_use(staging_root):  # the clean-up leaves these alone meanwhile
        try:
            await asyncio.to_thread(reader.run)
            if reader.files_staged:
                await asyncio.to_thread(incoming.rename, final)
            else:
                await asyncio.to_thread(shutil.rmtree, incoming, True)
            count = await queue.add_imported(lambda: _read_spool(spool, manifest.bundle_id))
        except BaseException:
            await asyncio.to_thread(_remove, incoming, final)
            raise
        finally:
            spool.unlink(missing_ok=True)
    # What nothing here will send goes: copies of operations that were already here or
    # expired on the way, and of those finished since the last clean-up.
    await tidy_staged(queue, staging_root)
    return ImportResult(
        folder,
        manifest.bundle_id,
        manifest.operations,
        len(count.added),
        count.already_here + reader.skipped,
        reader.files_staged if count.added else 0,
        final if reader.files_staged and final.exists() else None,
        len(count.unknown_dependencies),
        len(count.expired),
        count.deduplicated,
    )


def _remove(*folders: Path) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def _check_room(staging_root: Path, manifest: Manifest) -> None:
    ensure_private_dir(staging_root)
    free = shutil.disk_usage(staging_root).free
    if manifest.file_bytes + FREE_MARGIN > free:
        raise BundleError(
            f"The bundle's files need {manifest.file_bytes} bytes and the data folder"
            f" {staging_root} has {free} free; nothing was imported."
        )


def _read_spool(spool: Path, bundle_id: str) -> Iterator[ImportedOperation]:
    with spool.open("rb") as handle:
        for line in handle:
            item = load_line(line)
            yield ImportedOperation(
                idempotency_key=item["idempotency_key"],
                operation_type=item["operation_type"],
                payload=item["payload"],
                priority=item["priority"],
                max_attempts=item["max_attempts"],
                conflict_strategy=item["conflict_strategy"],
                resource_key=item["resource_key"],
                depends_on_keys=tuple(item["depends_on"]),
                details=_details(bundle_id, item),
                dedup_key=item.get("dedup_key"),
                expires_at=item.get("expires_at"),
                not_before=item.get("not_before"),
            )


def _details(bundle_id: str, item: dict[str, Any]) -> dict[str, Any]:
    """What the operation's ``imported`` history entry keeps of where it came from."""
    details = {"bundle": bundle_id, "source_id": item["source_id"]}
    if item.get("created_at") is not None:
        details["queued_at_source"] = item["created_at"]
    return details


class _StreamReader:
    """One pass over the archive (on a worker thread): records checked, files staged."""

    def __init__(
        self,
        folder: Path,
        manifest: Manifest,
        incoming: Path,
        final: Path,
        spool: Path,
        known: KnownKeys,
        progress: ProgressCallback | None,
        identities: Sequence[Any] = (),
    ) -> None:
        self.folder = folder
        self.identities = identities
        self.where = str(folder)
        self.manifest = manifest
        self.incoming = incoming
        self.final = final
        self.spool = spool
        self.known = known
        self.progress = progress
        self.count = 0
        self.skipped = 0
        self.files_staged = 0
        self.pages = 0
        # The current page: its records by number, and the files each still waits for.
        self.page: dict[int, Record] = {}
        self.waiting: dict[int, dict[str, int]] = {}
        self.skipping: set[int] = set()

    def run(self) -> None:
        self.incoming.mkdir(mode=0o700)
        reader = PartReader(self.folder, self.manifest.parts)
        decrypted = None
        try:
            if self.manifest.encryption is None:
                archive = tarfile.TarFile(fileobj=reader, mode="r")  # type: ignore[arg-type]
            else:  # a stream that cannot seek: read in order
                decrypted = DecryptingReader(reader, self.identities, self.where)  # type: ignore[arg-type]
                archive = tarfile.open(  # noqa: SIM115  # closed by the with below
                    fileobj=decrypted, mode="r|", bufsize=COPY_BUFFER
                )  # type: ignore[call-overload]
            with self.spool.open("xb") as out, archive as tar:
                while (member := tar.next()) is not None:
                    forget_members(tar)
                    self._member(tar, member, out)
        except tarfile.TarError as exc:
            raise BundleError(
                f"The bundle {self.where} is not a readable archive ({exc}); nothing was imported."
            ) from None
        finally:
            if decrypted is not None:
                decrypted.close()
            reader.close()
        self._end_page()
        if self.count != self.manifest.operations:
            raise BundleError(
                f"The bundle {self.where} holds {self.count} operations where its manifest"
                f" says {self.manifest.operations}; nothing was imported."
            )

    def _member(self, tar: tarfile.TarFile, member: tarfile.TarInfo, out: BinaryIO) -> None:
        if not member.isreg():
            raise BundleError(
                f"The bundle {self.where} holds {member.name!r}, which is not a regular file"
                " (links and special files are refused); nothing was imported."
            )
        if PAGE_MEMBER.match(member.name):
            self._page(tar, member, out)
            return
        found = FILE_MEMBER.match(member.name)
        if found is None:
            raise BundleError(
                f"The bundle {self.where} holds an unexpected entry {member.name!r};"
                " nothing was imported."
            )
        number, relative = int(found.group(1)), found.group(2)
        record = self.page.get(number)
        if record is None or relative not in self.waiting.get(number, {}):
            safe_relative(relative, self.where)  # a path that leaves is named as such
            raise BundleError(
                f"The bundle {self.where} holds a file {member.name!r} that no operation of"
                " it lists; nothing was imported."
            )
        size = self.waiting[number].pop(relative)
        if member.size != size:
            raise BundleError(
                f"The bundle {self.where} holds {member.name!r} with {member.size} bytes"
                f" where its record says {size}; nothing was imported."
            )
        if number in self.skipping:
            return  # already in the queue: its bytes are passed over
        self._stage(tar, member, number, record, relative)

    def _page(self, tar: tarfile.TarFile, member: tarfile.TarInfo, out: BinaryIO) -> None:
        self._end_page()
        if member.size > MAX_PAGE_BYTES:
            raise BundleError(f"The bundle {self.where} holds a page of records too large.")
        source = tar.extractfile(member)
        assert source is not None
        lines = source.read().splitlines()
        records: list[Record] = []
        for line in lines:
            if not line.strip():
                continue
            try:
                data = load_line(line)
            except ValueError:
                raise BundleError(
                    f"The bundle {self.where} holds a damaged record after operation"
                    f" {self.count}; nothing was imported."
                ) from None
            record = parse_record(data, self.where, self.count + 1)
            _check_type_rules(record, self.where)
            self.count += 1
            records.append(record)
        present = self.known([r.idempotency_key for r in records])
        self.pages += 1
        for record in records:
            self.page[record.number] = record
            if record.files is not None:
                self.waiting[record.number] = dict(record.files.entries)
            if record.idempotency_key in present:
                self.skipping.add(record.number)
                self.skipped += 1
                continue
            out.write(record_line(self._spooled(record)) + b"\n")
        if self.progress is not None:
            self.progress(
                TransferProgress(
                    "importing", 0, self.manifest.bundle_bytes, self.count, self.manifest.operations
                )
            )

    def _spooled(self, record: Record) -> dict[str, Any]:
        data = record.as_json()
        if record.files is not None:
            # The path is ours, never the bundle's: the staged copy under the data folder.
            data["payload"] = {
                **record.payload,
                "path": str(self.final / str(record.number) / record.files.name),
            }
        return data

    def _end_page(self) -> None:
        for number, left in self.waiting.items():
            if left:
                name = next(iter(left))
                raise BundleError(
                    f"The bundle {self.where} lacks the file {name!r} of operation {number};"
                    " nothing was imported."
                )
        self.page.clear()
        self.waiting.clear()
        self.skipping.clear()

    def _stage(
        self, tar: tarfile.TarFile, member: tarfile.TarInfo, number: int, record: Record,
        relative: str,
    ) -> None:  # fmt: skip
        assert record.files is not None
        base = self.incoming / str(number) / record.files.name
        target = base if record.files.kind == "file" else base.joinpath(*relative.split("/"))
        if not target.resolve().is_relative_to(self.incoming.resolve()):
            raise BundleError(
                f"The bundle {self.where} names a file {relative!r} that would leave its"
                " staging folder; nothing was imported."
            )
        source = tar.extractfile(member)
        assert source is not None
        try:
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(target, _FILE_FLAGS, 0o600)
            with os.fdopen(fd, "wb") as handle:
                shutil.copyfileobj(source, handle, COPY_BUFFER)
        except FileExistsError:
            raise BundleError(
                f"The bundle {self.where} holds the file {member.name!r} twice; nothing was"
                " imported."
            ) from None
        except (NotADirectoryError, IsADirectoryError):
            raise BundleError(
                f"The bundle {self.where} holds {member.name!r} both as a file and a folder;"
                " nothing was imported."
            ) from None
        self.files_staged += 1


def _check_type_rules(record: Record, where: str) -> None:
    """What the submit path checks of a payload without its file: the same rules here."""
    if record.files is None and "path" in record.payload and record.operation_type in FILE_TYPES:
        raise BundleError(
            f"The bundle {where} holds operation {record.number}, which names a local path"
            " without the file itself; nothing was imported."
        )
    try:
        check_payload(OperationType(record.operation_type), record.payload)
    except InvalidOperationError as exc:
        raise BundleError(
            f"The bundle {where} holds operation {record.number}, which this app would refuse"
            f" ({exc}); nothing was imported."
        ) from None
