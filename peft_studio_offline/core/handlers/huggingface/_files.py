"""The files of an adapter folder that a push sends, and how they are read.

The folder is opened once and its files listed and opened through it (``core.
outgoing_files``): regular files only, never through a symbolic link, inside
``sync.upload_roots``; a link inside the folder is refused by name. The hashes the Hub
keeps are computed from the same open file: the git blob SHA-1 for files stored in git,
the SHA-256 for files stored with LFS.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Protocol, Self

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.outgoing_files import (
    MissingFileError,
    NotAFolderError,
    OutgoingFile,
    OutgoingFolder,
    open_outgoing_file,
)


class Selection(Protocol):
    """Which files of the folder go, and where in the repository (a ``HubPush``)."""

    @property
    def path_in_repo(self) -> str: ...

    @property
    def allow_patterns(self) -> tuple[str, ...]: ...

    @property
    def ignore_patterns(self) -> tuple[str, ...]: ...


_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AdapterFile:
    relative: str  # inside the adapter folder
    path_in_repo: str
    size: int


@dataclass(frozen=True, slots=True)
class FileHashes:
    git_sha1: str  # the git blob id, what the Hub lists for a file kept in git
    sha256: str  # the LFS object id, what the Hub lists for a file kept with LFS
    size: int


class AdapterSource:
    """The adapter folder (or single file) of one push, open for as long as the push lasts."""

    def __init__(
        self, folder: OutgoingFolder | None, single: Path | None, files: list[AdapterFile],
        roots: tuple[str, ...],
    ) -> None:  # fmt: skip
        self.folder = folder
        self.single = single
        self.files = files
        self.roots = roots

    @classmethod
    def open(cls, path: Path, push: Selection, roots: tuple[str, ...]) -> AdapterSource:
        """Open and list; ``InvalidOperationError`` for a link, or for no file to send."""
        try:
            folder = OutgoingFolder.open(path, roots)
        except NotAFolderError:
            with open_outgoing_file(path, roots) as opened:  # a single file is pushed alone
                found = [(opened.path.name, opened.size)]
            return cls(None, opened.path, _selected(path, found, push), roots)
        except MissingFileError:
            raise InvalidOperationError(
                f"The adapter folder {path} does not exist.", field="payload.path"
            ) from None
        try:
            listed = [(r, size) for r, size in folder.files() if ".git" not in r.split("/")]
            return cls(folder, None, _selected(path, listed, push), roots)
        except BaseException:
            folder.close()
            raise

    def open_file(self, entry: AdapterFile) -> OutgoingFile:
        """One file, opened now and checked again: it may have changed since the listing."""
        if self.folder is not None:
            return self.folder.open_file(entry.relative)
        assert self.single is not None
        return open_outgoing_file(self.single, self.roots)

    def close(self) -> None:
        if self.folder is not None:
            self.folder.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _selected(path: Path, found: list[tuple[str, int]], push: Selection) -> list[AdapterFile]:
    files = [
        AdapterFile(relative, _in_repo(push.path_in_repo, relative), size)
        for relative, size in found
        if _matches(relative, push.allow_patterns, push.ignore_patterns)
    ]
    if not files:
        raise InvalidOperationError(
            f"The adapter folder {path} has no file to push"
            + (" (after allow_patterns and ignore_patterns)." if found else "."),
            field="payload.path",
        )
    return sorted(files, key=lambda f: f.path_in_repo)


def _in_repo(folder: str, relative: str) -> str:
    return str(PurePosixPath(folder, relative)) if folder else relative


def _matches(relative: str, allow: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """The library's rule: a pattern ending in "/" means everything under that folder."""

    def any_of(patterns: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatch(relative, p + "*" if p.endswith("/") else p) for p in patterns)

    return (not allow or any_of(allow)) and not any_of(ignore)


def hash_file(handle: BinaryIO) -> FileHashes:
    """Both hashes the Hub may list for the file, in one read; the file is rewound."""
    size = os.fstat(handle.fileno()).st_size
    handle.seek(0)
    sha1 = hashlib.sha1(f"blob {size}\0".encode(), usedforsecurity=False)
    sha256 = hashlib.sha256()
    while chunk := handle.read(_CHUNK):
        sha1.update(chunk)
        sha256.update(chunk)
    handle.seek(0)
    return FileHashes(sha1.hexdigest(), sha256.hexdigest(), size)
