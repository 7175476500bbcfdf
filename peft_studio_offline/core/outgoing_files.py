"""Files about to leave the machine: opened once, checked by what was opened.

A path checked and then opened later is a race: between the two, the file can be swapped
for a symbolic link to ``~/.ssh/id_ed25519`` or for a FIFO that never answers. So every
sender (file uploads, adapter pushes, and whatever sends files next) reads through this
module, which

- opens the file once, without following a link (``O_NOFOLLOW``) and without waiting for
  a writer (``O_NONBLOCK``: a FIFO opens at once instead of hanging the sync);
- checks with ``fstat`` that what it opened is a regular file;
- checks the *opened* file against the allowed folders (``sync.upload_roots``): its real
  path is read back from the descriptor (``/proc/self/fd`` on Linux, ``F_GETPATH`` on
  macOS) and must name the same device and inode;
- hands back the open descriptor, so that the bytes sent, their size and their hash are
  those of the file that was checked.

An adapter folder is opened the same way and walked through its descriptor; a symbolic
link inside it is refused, with a sentence naming it, rather than followed.

With no allowed folder configured every path is allowed (the sync engine's rule); links
and special files are refused all the same.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Self

from peft_studio_offline.core.errors import InvalidOperationError, UploadNotAllowedError

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_FILE_FLAGS = (
    os.O_RDONLY
    | _NOFOLLOW
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)
_DIR_FLAGS = os.O_RDONLY | _NOFOLLOW | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
# What open() says when O_NOFOLLOW met a link: ELOOP (Linux, macOS), EMLINK (FreeBSD).
_LINK_ERRNOS = frozenset({errno.ELOOP, errno.EMLINK})
_F_GETPATH = 50  # macOS fcntl: the path of a descriptor
# Folders are walked through descriptors where the system allows it (Linux, macOS, BSDs);
# elsewhere (Windows) each name is checked with lstat just before it is opened.
BY_DESCRIPTOR = bool(_NOFOLLOW) and os.open in os.supports_dir_fd and os.scandir in os.supports_fd
_NAMES_SHOWN = 5


class OutgoingFileError(InvalidOperationError):
    """A file may not leave the machine as it is; the message says why, in one sentence."""


class OutsideRootsError(OutgoingFileError, UploadNotAllowedError):
    """The file's real place is outside the folders allowed for uploads."""


class MissingFileError(OutgoingFileError):
    """The file (or folder) is not there."""


class NotAFolderError(OutgoingFileError):
    """A folder was expected and the path names something else."""


class OutgoingFile:
    """A regular file opened for sending: its real path, size, device and inode.

    ``handle`` reads from the descriptor that was checked; close it (or use ``with``).
    """

    def __init__(self, fd: int, path: Path, info: os.stat_result) -> None:
        self.path = path
        self.size = info.st_size
        self.device = info.st_dev
        self.inode = info.st_ino
        self.handle: BinaryIO = os.fdopen(fd, "rb")

    def sha256(self) -> str:
        """The SHA-256 of the whole file (from its start), read in chunks."""
        digest = hashlib.sha256()
        self.handle.seek(0)
        while chunk := self.handle.read(1024 * 1024):
            digest.update(chunk)
        self.handle.seek(0)
        return digest.hexdigest()

    def close(self) -> None:
        self.handle.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_outgoing_file(
    path: str | os.PathLike[str], roots: Iterable[str] = (), *, within: Path | None = None
) -> OutgoingFile:
    """Open ``path`` for sending, or raise ``OutgoingFileError`` with a sentence.

    ``roots`` are the allowed folders (empty: any); ``within`` a folder the file must also
    be inside (an adapter folder's own files).
    """
    where = _absolute(path)
    try:
        if not _NOFOLLOW and where.is_symlink():  # no O_NOFOLLOW here: look first
            raise OSError(errno.ELOOP, os.strerror(errno.ELOOP))
        fd = os.open(where, _FILE_FLAGS)
    except OSError as exc:
        raise _open_error(exc, where, "file") from None
    try:
        return _checked_file(fd, where, roots, within)
    except BaseException:
        os.close(fd)
        raise


class OutgoingFolder:
    """An adapter folder opened for sending; files are listed and opened through it.

    Nothing inside is reached through a path that is looked up again: each step opens the
    next name relative to the folder's descriptor, without following links.
    """

    def __init__(self, fd: int, path: Path, roots: tuple[str, ...]) -> None:
        self.fd = fd
        self.path = path
        self.roots = roots

    @classmethod
    def open(cls, path: str | os.PathLike[str], roots: Iterable[str] = ()) -> OutgoingFolder:
        where = _absolute(path)
        if not BY_DESCRIPTOR:
            return cls._open_by_name(where, tuple(roots))
        try:
            fd = os.open(where, _DIR_FLAGS)
        except OSError as exc:
            raise _open_error(_link_seen(exc, where), where, "adapter folder") from None
        try:
            info = os.fstat(fd)
            if not stat.S_ISDIR(info.st_mode):
                raise OutgoingFileError(f"The adapter folder {where} is not a folder.")
            real = _real_path(fd, where, info)
            roots = tuple(roots)
            _check_roots(real, roots, "adapter folder")
        except BaseException:
            os.close(fd)
            raise
        return cls(fd, real, roots)

    @classmethod
    def _open_by_name(cls, where: Path, roots: tuple[str, ...]) -> OutgoingFolder:
        try:
            info = where.lstat()
        except OSError as exc:
            raise _open_error(exc, where, "adapter folder") from None
        if stat.S_ISLNK(info.st_mode):
            raise _open_error(OSError(errno.ELOOP, ""), where, "adapter folder")
        if not stat.S_ISDIR(info.st_mode):
            raise _open_error(OSError(errno.ENOTDIR, ""), where, "adapter folder")
        real = Path(os.path.realpath(where))
        _check_roots(real, roots, "adapter folder")
        return cls(-1, real, roots)

    def files(self) -> list[tuple[str, int]]:
        """Every file inside, as (relative POSIX path, size), sorted.

        Raises ``OutgoingFileError`` naming the symbolic links (never followed) or the
        special files (FIFOs, sockets, devices) found inside.
        """
        found: list[tuple[str, int]] = []
        links: list[str] = []
        special: list[str] = []
        for relative, entry in self._entries():
            if entry.is_symlink():
                links.append(relative)
            elif entry.is_file(follow_symlinks=False):
                found.append((relative, entry.stat(follow_symlinks=False).st_size))
            else:
                special.append(relative)
        if links:
            raise OutgoingFileError(
                f"The adapter folder {self.path} holds symbolic links ({_names(links)});"
                " links are never followed when files leave this machine: put the files"
                " themselves in the folder."
            )
        if special:
            raise OutgoingFileError(
                f"The adapter folder {self.path} holds entries that are not regular files"
                f" ({_names(special)}); only regular files are sent."
            )
        return sorted(found)

    def _entries(self) -> Iterator[tuple[str, os.DirEntry[str]]]:
        if self.fd < 0:
            yield from self._entries_by_name()
            return
        stack: list[tuple[str, int]] = [("", os.dup(self.fd))]
        try:
            while stack:
                prefix, dir_fd = stack.pop()
                try:
                    with os.scandir(dir_fd) as entries:
                        listed = list(entries)
                    for entry in listed:
                        relative = prefix + entry.name
                        if entry.is_dir(follow_symlinks=False):
                            sub = _open_dir_in(dir_fd, entry.name, self.path / relative)
                            stack.append((relative + "/", sub))
                        else:
                            yield relative, entry
                finally:
                    os.close(dir_fd)
        finally:
            for _, dir_fd in stack:
                os.close(dir_fd)

    def _entries_by_name(self) -> Iterator[tuple[str, os.DirEntry[str]]]:
        stack = [""]
        while stack:
            prefix = stack.pop()
            with os.scandir(self.path / prefix if prefix else self.path) as entries:
                listed = list(entries)
            for entry in listed:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(prefix + entry.name + "/")
                else:
                    yield prefix + entry.name, entry

    def open_file(self, relative: str) -> OutgoingFile:
        """Open one file of the folder, every step relative to it, never through a link."""
        parts = PurePosixPath(relative).parts
        if not parts or any(part in ("..", ".", "/") for part in parts):
            raise OutgoingFileError(f"{relative!r} is not a file inside {self.path}.")
        shown = self.path.joinpath(*parts)
        if self.fd < 0:
            for depth in range(1, len(parts)):
                step = self.path.joinpath(*parts[:depth])
                if step.is_symlink():
                    raise _open_error(OSError(errno.ELOOP, ""), step, "folder")
            return open_outgoing_file(shown, self.roots, within=self.path)
        dir_fd = os.dup(self.fd)
        try:
            for depth, part in enumerate(parts[:-1], start=1):
                sub = _open_dir_in(dir_fd, part, self.path.joinpath(*parts[:depth]))
                os.close(dir_fd)
                dir_fd = sub
            try:
                fd = os.open(parts[-1], _FILE_FLAGS, dir_fd=dir_fd)
            except OSError as exc:
                raise _open_error(exc, shown, "file") from None
        finally:
            os.close(dir_fd)
        try:
            return _checked_file(fd, shown, self.roots, self.path)
        except BaseException:
            os.close(fd)
            raise

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def outgoing_path(path: str | os.PathLike[str], roots: Iterable[str] = ()) -> Path:
    """The real path to store at enqueue: links the user named are resolved *now*.

    What is stored is then opened as it is, without following links, whenever it is sent.
    Raises ``OutgoingFileError`` when the real path is outside ``roots``.
    """
    where = _absolute(path)
    try:
        real = Path(os.path.realpath(where))
    except (OSError, RuntimeError, ValueError) as exc:
        raise OutgoingFileError(f"The path {where} cannot be resolved ({exc}).") from None
    _check_roots(real, tuple(roots), "file")
    return real


# ------------------------------------------------------------------------ helpers


def _absolute(path: str | os.PathLike[str]) -> Path:
    text = os.fspath(path)
    if not isinstance(text, str) or not text.strip() or "\x00" in text:
        raise OutgoingFileError("A file to send needs a path.")
    return Path(text).expanduser().absolute()


def _open_dir_in(dir_fd: int, name: str, shown: Path) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except OSError as exc:
        raise _open_error(_link_seen(exc, name, dir_fd), shown, "folder") from None


def _link_seen(exc: OSError, name: str | Path, dir_fd: int | None = None) -> OSError:
    """``O_DIRECTORY`` meeting a link says "not a folder" on Linux: say "a link" instead."""
    if exc.errno == errno.ENOTDIR:
        with contextlib.suppress(OSError):
            if stat.S_ISLNK(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                return OSError(errno.ELOOP, os.strerror(errno.ELOOP))
    return exc


def _checked_file(fd: int, where: Path, roots: Iterable[str], within: Path | None) -> OutgoingFile:
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        raise OutgoingFileError(
            f"{where} is {_kind(info.st_mode)}, not a regular file; only regular files are sent."
        )
    real = _real_path(fd, where, info)
    _check_roots(real, tuple(roots), "file")
    if within is not None and not real.is_relative_to(within):
        raise OutgoingFileError(f"The file {where} is not inside {within}; it was not sent.")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)  # O_NONBLOCK was for the open; reads may block as usual
    return OutgoingFile(fd, real, info)


def _real_path(fd: int, where: Path, info: os.stat_result) -> Path:
    """Where the opened file really is, confirmed by device and inode."""
    real: str | None = None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            real = str(Path(f"/proc/self/fd/{fd}").readlink())
    elif sys.platform == "darwin":
        import fcntl

        with contextlib.suppress(OSError):
            raw = fcntl.fcntl(fd, _F_GETPATH, b"\0" * 1024)
            real = os.fsdecode(raw.split(b"\0", 1)[0])
    if not real:
        real = os.path.realpath(where)
    try:
        named = Path(real).stat()
    except OSError:
        raise MissingFileError(
            f"The file {where} was moved or deleted while it was being opened; it was not sent."
        ) from None
    if (named.st_dev, named.st_ino) != (info.st_dev, info.st_ino):
        raise OutgoingFileError(f"The file {where} changed while it was being opened; not sent.")
    return Path(real)


def _check_roots(real: Path, roots: tuple[str, ...], what: str) -> None:
    allowed = [Path(os.path.realpath(Path(r).expanduser())) for r in roots if str(r).strip()]
    if allowed and not any(real.is_relative_to(root) for root in allowed):
        raise OutsideRootsError(
            f"The {what} {real} is outside the folders allowed for uploads"
            " (settings sync.upload_roots)."
        )


def _open_error(exc: OSError, where: Path, what: str) -> OutgoingFileError:
    if exc.errno == errno.ENOENT:
        return MissingFileError(f"The {what} {where} does not exist.")
    if exc.errno in _LINK_ERRNOS:
        return OutgoingFileError(
            f"The {what} {where} is a symbolic link; links are never followed when files"
            " leave this machine (queue what it points to instead)."
        )
    if exc.errno == errno.ENOTDIR:
        return NotAFolderError(f"The {what} {where} is not a folder, or is inside a file.")
    return OutgoingFileError(f"The {what} {where} cannot be read ({exc.strerror}).")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "a special file"


def _names(names: list[str]) -> str:
    shown = ", ".join(repr(n) for n in names[:_NAMES_SHOWN])
    more = len(names) - _NAMES_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")
