"""Writing a bundle: the operations asked for, the bytes of every file they send, a manifest.

Streamed page by page: the queue is read 200 operations at a time, each page's records
go into the archive, then its files, read through the same checked descriptors that
sending them would use (``core.outgoing_files``: no links followed, nothing outside the
allowed folders). Memory stays the same whatever the bundle's size. The operations are
marked ``exported`` only once the manifest is on disk; a failure removes what was written.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import os
import socket
import stat
import tarfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.masking import SEALED, is_secret_key, payload_secrets
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.outgoing_files import (
    OutgoingFile,
    OutgoingFileError,
    OutgoingFolder,
    open_outgoing_file,
)
from peft_studio_offline.core.paths import PRIVATE_DIR_MODE
from peft_studio_offline.core.sealing import SecretsUnavailableError, holds_sealed
from peft_studio_offline.core.transfer._age import ENCRYPTION, EncryptingWriter, parse_recipients
from peft_studio_offline.core.transfer._errors import BundleError
from peft_studio_offline.core.transfer._manifest import FORMAT_VERSION, MANIFEST_NAME, Manifest
from peft_studio_offline.core.transfer._options import ExportOptions
from peft_studio_offline.core.transfer._parts import PartWriter
from peft_studio_offline.core.transfer._records import (
    FILE_TYPES,
    FileList,
    Record,
    file_member,
    forget_members,
    page_member,
    record_line,
)
from peft_studio_offline.core.transfer._staging import absolute

if TYPE_CHECKING:
    from peft_studio_offline.core.queue import OfflineQueueManager

PAGE_SIZE = 200
COPY_BUFFER = 1024 * 1024


@dataclass(frozen=True, slots=True)
class TransferProgress:
    """How far a transfer is: called from a worker thread, now and then."""

    phase: str  # "exporting", "verifying", "importing"
    done_bytes: int
    total_bytes: int | None = None
    operations: int = 0
    total_operations: int | None = None


ProgressCallback = Callable[[TransferProgress], None]


@dataclass(frozen=True, slots=True)
class ExportResult:
    path: Path
    bundle_id: str
    operations: int
    files: int
    file_bytes: int
    parts: tuple[str, ...]
    marked_exported: int
    bundle_bytes: int = 0
    operation_ids: tuple[int, ...] = field(default=(), repr=False)
    left_out: int = 0  # operations holding secrets, kept here (``without_secrets``)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bundle_id": self.bundle_id,
            "operations": self.operations,
            "files": self.files,
            "file_bytes": self.file_bytes,
            "parts": list(self.parts),
            "marked_exported": self.marked_exported,
            "bundle_bytes": self.bundle_bytes,
            "left_out": self.left_out,
        }


def export_statuses(
    statuses: Iterable[OperationStatus | str] | None, everything: bool
) -> tuple[OperationStatus, ...]:
    """The statuses an export takes: pending by default; ``everything`` adds those already
    exported (awaiting a receipt) and failed ones."""
    return ExportOptions.of(everything=everything, statuses=statuses).wanted


async def export_bundle(
    queue: OfflineQueueManager,
    path: str | os.PathLike[str],
    options: ExportOptions | None = None,
    *,
    roots: Sequence[str] = (),
    progress: ProgressCallback | None = None,
) -> ExportResult:
    """Write a bundle into the folder ``path`` (made here; it must be absent or empty).

    ``options`` say which operations go and how (``ExportOptions``; none: those pending,
    unencrypted, in one part). ``roots`` are the folders files may be read from (empty:
    any), as for sending. An operation holding secrets (credentials in its headers, URL or
    body) travels only in an encrypted bundle, its secrets opened for the receiving side
    to seal with its own key; unencrypted, the export is refused (``BundleError``), or
    with ``without_secrets`` such operations stay here, pending, and the rest go.
    """
    options = ExportOptions() if options is None else options
    keys = parse_recipients(options.recipients) if options.recipients else []
    wanted = options.wanted
    kinds = None if options.operation_types is None else list(options.operation_types)
    without_secrets, part_size = options.without_secrets, options.part_size
    folder = absolute(path)
    made = await asyncio.to_thread(_make_folder, folder)
    # What ran out of time stays here, expired, as the queue would have it: never exported.
    await queue.expire_due()
    total = await queue.count_operations(status=wanted, operation_type=kinds)
    writer = _BundleWriter(folder, part_size, progress, total, remove_folder=made, recipients=keys)
    exported: list[int] = []

    numbered = 0

    left_out = 0

    async def page_after(after: int | None) -> _Page:
        nonlocal numbered, left_out
        listed = await queue.list_operations(
            status=wanted, operation_type=kinds, after_id=after, limit=PAGE_SIZE
        )
        ops = [
            op
            for op in (
                _secrets_for_bundle(queue, op, encrypted=bool(keys), leave_out=without_secrets)
                for op in listed
            )
            if op is not None
        ]
        left_out += len(listed) - len(ops)
        dep_keys = await _dependency_keys(queue, ops)
        # Records of operations without files are made here, on the loop's thread, while
        # the worker is copying files (in system calls, mostly, which let it run).
        now = time.time()
        records = [
            None
            if str(op.operation_type) in FILE_TYPES
            else _record(numbered + i, op, dep_keys, None, now)
            for i, op in enumerate(ops, start=1)
        ]
        lines = [None if r is None else record_line(r.as_json()) for r in records]
        version_2 = any(r is not None and r.needs_version_2 for r in records)
        page = _Page(
            ops, dep_keys, lines, numbered + 1, listed[-1].id if listed else None, version_2
        )
        numbered += len(ops)
        return page

    # The next page is read from the queue while the worker writes this one's files.
    coming: asyncio.Future[_Page] = asyncio.ensure_future(page_after(None))
    try:
        while True:
            page = await coming
            ops = page.ops
            if page.last_id is None:
                break
            coming = asyncio.ensure_future(page_after(page.last_id))
            await asyncio.to_thread(writer.add_page, page, roots)
            exported.extend(op.id for op in ops)
        manifest = await asyncio.to_thread(writer.finish)
    except BaseException:
        coming.cancel()
        with contextlib.suppress(BaseException):
            await coming
        await asyncio.to_thread(writer.abort)
        raise
    marked = await queue.mark_exported(
        exported, {"bundle": manifest.bundle_id, "path": str(folder)}
    )
    return ExportResult(
        folder,
        manifest.bundle_id,
        manifest.operations,
        manifest.files,
        manifest.file_bytes,
        tuple(p.name for p in manifest.parts),
        marked,
        manifest.bundle_bytes,
        tuple(exported),
        left_out,
    )


async def _dependency_keys(queue: OfflineQueueManager, ops: Sequence[Operation]) -> dict[int, str]:
    """The keys of the page's dependencies that are still to be done (a completed one is
    satisfied: the other side need not wait for it)."""
    dep_ids = sorted({d for op in ops for d in op.depends_on})
    if not dep_ids:
        return {}
    keys = await queue.keys_of(dep_ids)
    states = await queue.statuses_of_keys(list(keys.values()))
    return {
        op_id: key
        for op_id, key in keys.items()
        if states.get(key, (0, ""))[1] != OperationStatus.COMPLETED.value
    }


@dataclass(frozen=True, slots=True)
class _Page:
    """A page of operations to write: each one's record line, when it was made ahead."""

    ops: list[Operation]
    dep_keys: dict[int, str]
    lines: list[bytes | None]
    first: int  # the number of its first operation in the bundle
    last_id: int | None  # the last operation read for it (None: nothing was left to read)
    version_2: bool = False  # a record made ahead needs format version 2


def _secrets_for_bundle(
    queue: OfflineQueueManager, op: Operation, *, encrypted: bool, leave_out: bool
) -> Operation | None:
    """The operation as the bundle carries it: its secrets opened in an encrypted bundle;
    None when it stays here (``leave_out``); ``BundleError`` when it may not go."""
    if not _may_hold_secrets(op.payload) or (
        not holds_sealed(op.payload) and not payload_secrets(op.payload)
    ):
        return op
    if leave_out:
        return None
    if not encrypted:
        raise BundleError(
            f"Operation {op.id} holds secrets (credentials in its headers, URL or body):"
            " encrypt the bundle to a recipient (--recipient), or leave such operations out"
            " (--without-secrets)."
        )
    if queue.sealer is None or not holds_sealed(op.payload):
        return op
    try:
        return dataclasses.replace(op, payload=queue.sealer.unseal(op.payload))
    except SecretsUnavailableError as exc:
        raise BundleError(f"Operation {op.id} cannot go: {exc}") from None


_PLAIN = (int, float, bool, type(None))


def _may_hold_secrets(payload: object) -> bool:
    """False when the payload certainly holds no secret and no envelope: one quick walk of
    plain JSON values, where ``payload_secrets`` and ``holds_sealed`` take two slower ones
    (most of an export's time per operation went to them). True when in doubt."""
    stack: list[object] = [payload]
    while stack:
        value = stack.pop()
        if type(value) is dict:
            for key, item in value.items():
                if key == SEALED or (
                    type(key) is str and item not in (None, "") and is_secret_key(key)
                ):
                    return True
                stack.append(item)
        elif type(value) is list:
            stack.extend(value)
        elif type(value) is str:
            if "@" in value:  # a password in a URL, perhaps
                return True
        elif type(value) not in _PLAIN:
            return True  # not what JSON decodes to: the full checks decide
    return False


def _record(
    number: int, op: Operation, dep_keys: dict[int, str], files: FileList | None, now: float
) -> Record:
    # A due time already passed is no constraint: only one still ahead travels.
    due = None if op.next_attempt_at is None else op.next_attempt_at.timestamp()
    return Record(
        number=number,
        idempotency_key=op.idempotency_key,
        operation_type=str(op.operation_type),
        payload=op.payload,
        priority=op.priority,
        max_attempts=op.max_attempts,
        conflict_strategy=None if op.conflict_strategy is None else str(op.conflict_strategy),
        resource_key=op.resource_key,
        depends_on=tuple(dep_keys[d] for d in op.depends_on if d in dep_keys),
        files=files,
        source_id=op.id,
        dedup_key=op.dedup_key,
        expires_at=None if op.expires_at is None else op.expires_at.timestamp(),
        not_before=due if due is not None and due > now else None,
        created_at=op.created_at.isoformat(),
    )


def _make_folder(folder: Path) -> bool:
    """Make the bundle's folder (True), or check that the one there is empty (False)."""
    if folder.exists() or folder.is_symlink():
        if not folder.is_dir() or folder.is_symlink() or any(folder.iterdir()):
            raise BundleError(
                f"{folder} already exists and is not an empty folder; a bundle is written"
                " into a new or empty folder."
            )
        return False
    try:
        folder.mkdir(parents=True, mode=PRIVATE_DIR_MODE)
    except OSError as exc:
        raise BundleError(f"The folder {folder} cannot be made ({exc.strerror}).") from None
    return True


class _Sources:
    """The open files of one operation: a single file, or a folder opened once."""

    def __init__(self, files: FileList, single: OutgoingFile | None, folder: OutgoingFolder | None):
        self.files = files
        self.single = single
        self.folder = folder

    def open(self, relative: str) -> OutgoingFile:
        if self.single is not None:
            return self.single
        assert self.folder is not None
        return self.folder.open_file(relative)

    def close(self) -> None:
        if self.single is not None:
            self.single.close()
        if self.folder is not None:
            self.folder.close()


class _BundleWriter:
    """The archive being written (on a worker thread, one page at a time)."""

    def __init__(
        self,
        folder: Path,
        part_size: int | None,
        progress: ProgressCallback | None,
        total_operations: int,
        *,
        remove_folder: bool = True,
        recipients: Sequence[Any] = (),
    ) -> None:
        self.folder = folder
        self.remove_folder = remove_folder
        self.bundle_id = uuid.uuid4().hex
        self.parts = PartWriter(folder, part_size)
        self.part_size = part_size
        self.encrypting = EncryptingWriter(self.parts, recipients) if recipients else None
        self.tar = tarfile.TarFile(
            # Writing needs write and tell only.
            fileobj=self.encrypting or self.parts,  # type: ignore[arg-type]
            mode="w",
            format=tarfile.PAX_FORMAT,
            copybufsize=COPY_BUFFER,
        )
        self.progress = progress
        self.total_operations = total_operations
        self.count = 0
        self.pages = 0
        self.files = 0
        self.file_bytes = 0
        self.by_type: dict[str, int] = {}
        self.mtime = int(datetime.now(UTC).timestamp())
        self.version_2 = False  # some record needs format version 2

    def add_page(self, page: _Page, roots: Sequence[str]) -> None:
        opened: list[tuple[int, Operation, _Sources]] = []
        try:
            records: list[bytes] = []
            self.version_2 = self.version_2 or page.version_2
            now = time.time()
            for number, (op, line) in enumerate(zip(page.ops, page.lines, strict=True), page.first):
                self.count = number
                if line is None:
                    sources = _open_sources(op, roots)
                    if sources is not None:
                        opened.append((number, op, sources))
                    files = None if sources is None else sources.files
                    record = _record(number, op, page.dep_keys, files, now)
                    self.version_2 = self.version_2 or record.needs_version_2
                    line = record_line(record.as_json())
                records.append(line)
                kind = str(op.operation_type)
                self.by_type[kind] = self.by_type.get(kind, 0) + 1
            self.pages += 1
            self._add_bytes(page_member(self.pages), b"\n".join(records) + b"\n")
            for number, op, sources in opened:
                for relative, size in sources.files.entries:
                    self._add_file(number, op, sources, relative, size)
        finally:
            for _, _, sources in opened:
                sources.close()
        self._report()

    def _add_bytes(self, name: str, data: bytes) -> None:
        info = self._info(name, len(data))
        self.tar.addfile(info, io.BytesIO(data))
        forget_members(self.tar)  # the archive keeps every member otherwise: memory grows

    def _add_file(
        self, number: int, op: Operation, sources: _Sources, relative: str, size: int
    ) -> None:
        try:
            handle = sources.open(relative)
        except OutgoingFileError as exc:
            raise BundleError(f"Operation {op.id} cannot be exported: {exc}") from None
        try:
            if handle.size != size or not stat.S_ISREG(os.fstat(handle.handle.fileno()).st_mode):
                raise BundleError(
                    f"Operation {op.id} cannot be exported: {handle.path} changed while the"
                    " bundle was written."
                )
            handle.handle.seek(0)
            try:
                self.tar.addfile(self._info(file_member(number, relative), size), handle.handle)
            except OSError as exc:
                if exc.errno is None:  # tarfile: the file ended before its size
                    raise BundleError(
                        f"Operation {op.id} cannot be exported: {handle.path} shrank while the"
                        " bundle was written."
                    ) from None
                raise
        finally:
            if sources.single is None:
                handle.close()
        forget_members(self.tar)
        self.files += 1
        self.file_bytes += size

    def _info(self, name: str, size: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.size = size
        info.mode = 0o600
        info.mtime = self.mtime
        return info

    def _report(self) -> None:
        if self.progress is not None:
            self.progress(
                TransferProgress(
                    "exporting",
                    self.parts.tell(),
                    None,
                    self.count,
                    self.total_operations,
                )
            )

    def finish(self) -> Manifest:
        self.tar.close()
        if self.encrypting is not None:
            self.encrypting.close()
        parts = self.parts.close()
        manifest = Manifest(
            bundle_id=self.bundle_id,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
            operations=self.count,
            operations_by_type=dict(sorted(self.by_type.items())),
            files=self.files,
            file_bytes=self.file_bytes,
            parts=tuple(parts),
            part_size=self.part_size,
            source={"host": socket.gethostname()},
            encryption=None if self.encrypting is None else ENCRYPTION,
            format_version=FORMAT_VERSION if self.version_2 else 1,
        )
        manifest.write(self.folder)
        return manifest

    def abort(self) -> None:
        """Remove what this export wrote (the folder too, when it made it)."""
        with contextlib.suppress(Exception):
            self.tar.fileobj = None  # type: ignore[assignment]
        if self.encrypting is not None:
            self.encrypting.abort()
        self.parts.abort()
        for part in self.parts.parts:
            (self.folder / part.name).unlink(missing_ok=True)
        for leftover in self.folder.glob("bundle.tar.*"):
            leftover.unlink(missing_ok=True)
        (self.folder / MANIFEST_NAME).unlink(missing_ok=True)
        if self.remove_folder:
            with contextlib.suppress(OSError):
                self.folder.rmdir()


def _open_sources(op: Operation, roots: Sequence[str]) -> _Sources | None:
    """The files an operation's payload names (``path``), opened as sending would."""
    if str(op.operation_type) not in FILE_TYPES:
        return None
    raw = op.payload.get("path")
    if not isinstance(raw, str) or not raw.strip():
        return None
    where = Path(raw)
    try:
        if where.is_dir() and not where.is_symlink():
            folder = OutgoingFolder.open(where, roots)
            try:
                entries = tuple(folder.files())
            except BaseException:
                folder.close()
                raise
            return _Sources(FileList("folder", folder.path.name, entries), None, folder)
        single = open_outgoing_file(where, roots)
    except OutgoingFileError as exc:
        raise BundleError(
            f"Operation {op.id} cannot be exported: {exc} Nothing was exported."
        ) from None
    name = single.path.name
    return _Sources(FileList("file", name, ((name, single.size),)), single, None)
