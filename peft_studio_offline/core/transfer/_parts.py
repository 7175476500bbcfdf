"""The bundle's byte stream, cut into parts of a chosen size, each hashed as it is written.

The writer presents one file to the archive (``write``, ``tell``) and starts a new part
whenever the current one reaches ``part_size``: a FAT32 stick takes parts under 4 GiB.
The reader presents the parts, checked first, as one seekable file again.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

from peft_studio_offline.core.transfer._errors import BundleError
from peft_studio_offline.core.transfer._manifest import Manifest, PartInfo, part_name

# Bytes read at a time when hashing a part: large reads keep the hash off the interpreter.
HASH_CHUNK = 4 * 1024 * 1024
# Written bytes after which the disk is asked to start writing them out (see PartWriter).
WRITE_BACK_EVERY = 64 * 1024 * 1024
_DATA_SYNC = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync
# The smallest part allowed: smaller ones only multiply files.
MIN_PART_SIZE = 1_000_000

Progress = Callable[[int], None]  # bytes done so far


class PartWriter:
    """Write-only stream over numbered part files in ``folder``.

    Each part is hashed on a thread of its own while the next bytes are read and written:
    SHA-256 runs at about the speed of a disk here, and hashed in line it doubled the time
    of an export (hashlib lets go of the interpreter for large updates). A part must be on
    the disk before its operations are marked exported, so it is synced; the disk is asked
    to write it out as it goes (every 64 MiB, on another thread), which left the final sync
    of a 1 GB part a fraction of what it was.
    """

    def __init__(self, folder: Path, part_size: int | None) -> None:
        self.folder = folder
        self.part_size = part_size
        self.parts: list[PartInfo] = []
        self._handle: BinaryIO | None = None
        self._hash = hashlib.sha256()
        self._hashing = ThreadPoolExecutor(1, thread_name_prefix="bundle-hash")
        self._syncing = ThreadPoolExecutor(1, thread_name_prefix="bundle-sync")
        self._hashed: Future[None] | None = None
        self._writing_back: Future[None] | None = None
        self._unsynced = 0
        self._in_part = 0
        self._offset = 0

    def tell(self) -> int:
        return self._offset

    def write(self, data: bytes | bytearray | memoryview) -> int:
        view = memoryview(data).cast("B")
        total = len(view)
        while view:
            if self._handle is None:
                self._start()
            assert self._handle is not None
            room = len(view) if self.part_size is None else self.part_size - self._in_part
            piece = view[:room]
            self._hash_later(piece)
            self._handle.write(piece)
            self._in_part += len(piece)
            self._unsynced += len(piece)
            if self._unsynced >= WRITE_BACK_EVERY:
                self._write_back()
            view = view[len(piece) :]
            if self.part_size is not None and self._in_part >= self.part_size:
                self._finish_part()
        self._offset += total
        return total

    def _hash_later(self, piece: memoryview) -> None:
        """Hash ``piece`` beside the writing, in order: the previous update ends first."""
        if piece.readonly is False:
            piece = memoryview(piece.tobytes())  # the caller may reuse a mutable buffer
        if self._hashed is not None:
            self._hashed.result()
        self._hashed = self._hashing.submit(self._hash.update, piece)

    def _write_back(self) -> None:
        """Start the disk on what was written so far, unless it is still at the last lot."""
        if self._writing_back is not None and not self._writing_back.done():
            return
        assert self._handle is not None
        self._handle.flush()
        self._unsynced = 0
        self._writing_back = self._syncing.submit(_DATA_SYNC, self._handle.fileno())

    def _digest(self) -> str:
        if self._hashed is not None:
            self._hashed.result()
            self._hashed = None
        return self._hash.hexdigest()

    def flush(self) -> None:
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> list[PartInfo]:
        """Finish the last part (an empty bundle still has one); returns every part."""
        if self._handle is not None or not self.parts:
            if self._handle is None:
                self._start()
            self._finish_part()
        self._hashing.shutdown()
        self._syncing.shutdown()
        return self.parts

    def abort(self) -> None:
        if self._handle is not None:
            self._syncing.shutdown()  # waits for a sync of this handle still running
            self._handle.close()
            self._handle = None
        self._hashing.shutdown()
        self._syncing.shutdown()

    def _start(self) -> None:
        name = part_name(len(self.parts) + 1)
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._handle = os.fdopen(fd, "wb", buffering=1024 * 1024)
        self._hash = hashlib.sha256()
        self._in_part = 0

    def _finish_part(self) -> None:
        assert self._handle is not None
        self._handle.flush()
        if self._writing_back is not None:
            self._writing_back.result()
            self._writing_back = None
        os.fsync(self._handle.fileno())
        self._unsynced = 0
        self._handle.close()
        self._handle = None
        name = part_name(len(self.parts) + 1)
        self.parts.append(PartInfo(name, self._in_part, self._digest()))


def verify_parts(folder: Path, manifest: Manifest, progress: Progress | None = None) -> None:
    """Every part present, of its size and hash; else ``BundleError`` naming the part."""
    done = 0
    count = len(manifest.parts)
    for index, part in enumerate(manifest.parts, start=1):
        where = folder / part.name
        label = f"Part {index} of {count} ({part.name})"
        try:
            info = where.lstat()
        except FileNotFoundError:
            raise BundleError(
                f"{label} of the bundle {folder} is missing; nothing was imported."
            ) from None
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{label} of the bundle {folder} is not a regular file.")
        if info.st_size != part.size:
            raise BundleError(
                f"{label} of the bundle {folder} has {info.st_size} bytes where the manifest"
                f" says {part.size}: it is incomplete or damaged; nothing was imported."
            )
        digest = hashlib.sha256()
        with open(where, "rb", buffering=0) as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done)
        if digest.hexdigest() != part.sha256:
            raise BundleError(
                f"{label} of the bundle {folder} is damaged: its SHA-256 does not match the"
                " manifest; nothing was imported."
            )


class PartReader:
    """The checked parts read as one seekable file (what the archive reader needs)."""

    def __init__(self, folder: Path, parts: tuple[PartInfo, ...]) -> None:
        self.folder = folder
        self.parts = parts
        self._starts: list[int] = []
        offset = 0
        for part in parts:
            self._starts.append(offset)
            offset += part.size
        self.size = offset
        self._offset = 0
        self._index = -1
        self._handle: BinaryIO | None = None

    def tell(self) -> int:
        return self._offset

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        if whence == os.SEEK_CUR:
            offset += self._offset
        elif whence == os.SEEK_END:
            offset += self.size
        self._offset = max(0, offset)
        return self._offset

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.size - self._offset
        pieces: list[bytes] = []
        while size > 0 and self._offset < self.size:
            index = self._part_at(self._offset)
            handle = self._open(index)
            within = self._offset - self._starts[index]
            handle.seek(within)
            piece = handle.read(min(size, self.parts[index].size - within))
            if not piece:
                raise BundleError(f"Part {self.parts[index].name} ended early while read.")
            pieces.append(piece)
            self._offset += len(piece)
            size -= len(piece)
        return b"".join(pieces)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def _part_at(self, offset: int) -> int:
        index = max(self._index, 0)
        if not self._starts[index] <= offset < self._starts[index] + self.parts[index].size:
            index = next(
                i
                for i in range(len(self.parts))
                if self._starts[i] <= offset < self._starts[i] + self.parts[i].size
            )
        return index

    def _open(self, index: int) -> BinaryIO:
        if index != self._index or self._handle is None:
            self.close()
            self._handle = open(self.folder / self.parts[index].name, "rb")  # noqa: SIM115
            self._index = index
        return self._handle
