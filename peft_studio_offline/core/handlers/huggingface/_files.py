"""The files of an adapter folder that a push sends, and how they are read.

Every file is opened by ``open_adapter_file``: a regular file, not a symbolic link, inside
``sync.upload_roots``. The hashes the Hub keeps are computed from the same open file: the
git blob SHA-1 for files stored in git, the SHA-256 for files stored with LFS.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from peft_studio_offline.core.errors import InvalidOperationError

if TYPE_CHECKING:
    from peft_studio_offline.core.handlers.huggingface._payload import HubPush

_CHUNK = 1024 * 1024


@dataclass(frozen=True, slots=True)
class AdapterFile:
    path: Path
    path_in_repo: str
    size: int


@dataclass(frozen=True, slots=True)
class FileHashes:
    git_sha1: str  # the git blob id, what the Hub lists for a file kept in git
    sha256: str  # the LFS object id, what the Hub lists for a file kept with LFS
    size: int


def list_adapter_files(folder: Path, push: HubPush, roots: tuple[str, ...]) -> list[AdapterFile]:
    """The files to send, sorted; ``InvalidOperationError`` for a link, or for no file at all."""
    from peft_studio_offline.core.handlers.upload import check_upload_path

    check_upload_path(folder, roots)
    if folder.is_symlink():
        raise InvalidOperationError(
            f"The adapter folder {folder} is a symbolic link; name the folder itself.",
            field="payload.path",
        )
    if folder.is_file():
        found = [(folder, folder.name)]
    elif folder.is_dir():
        found = list(_walk(folder))
    else:
        raise InvalidOperationError(
            f"The adapter folder {folder} does not exist.", field="payload.path"
        )
    files = []
    for path, relative in found:
        if not _selected(relative, push.allow_patterns, push.ignore_patterns):
            continue
        in_repo = f"{push.path_in_repo}/{relative}" if push.path_in_repo else relative
        files.append(AdapterFile(path, in_repo, path.lstat().st_size))
    if not files:
        raise InvalidOperationError(
            f"The adapter folder {folder} has no file to push"
            + (" (after allow_patterns and ignore_patterns)." if found else "."),
            field="payload.path",
        )
    return sorted(files, key=lambda f: f.path_in_repo)


def _walk(folder: Path) -> list[tuple[Path, str]]:
    found: list[tuple[Path, str]] = []
    for current, dirs, names in os.walk(folder):  # links to folders are not followed
        base = Path(current)
        for name in [*names, *dirs]:
            entry = base / name
            relative = entry.relative_to(folder).as_posix()
            if entry.is_symlink():
                raise InvalidOperationError(
                    f"The adapter folder holds a symbolic link, {relative!r}; links are not"
                    " sent to the Hub.",
                    field="payload.path",
                )
        for name in names:
            entry = base / name
            if relative_is_git(entry.relative_to(folder)):
                continue
            found.append((entry, entry.relative_to(folder).as_posix()))
    return found


def relative_is_git(relative: Path) -> bool:
    """A local git folder is never part of what is pushed."""
    return ".git" in relative.parts


def _selected(relative: str, allow: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    def matches(patterns: tuple[str, ...]) -> bool:
        return any(fnmatch.fnmatch(relative, p + "*" if p.endswith("/") else p) for p in patterns)

    return (not allow or matches(allow)) and not matches(ignore)


def open_adapter_file(path: Path, roots: tuple[str, ...]) -> BinaryIO:
    """The file open for reading: a regular file, reached without a symbolic link at its end,
    inside ``roots`` (all paths when none are listed)."""
    from peft_studio_offline.core.handlers.upload import check_upload_path

    check_upload_path(path, roots)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise InvalidOperationError(f"The file {path} cannot be opened ({exc.strerror}).") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidOperationError(f"{path} is not a regular file; it is not sent.")
    return os.fdopen(fd, "rb")


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
