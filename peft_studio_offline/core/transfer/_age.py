"""Bundles encrypted to a recipient's public key, in the age format (through ``pyrage``).

The archive is encrypted as one stream before it is cut into parts, so the parts' hashes
(of the encrypted bytes) are checked before any key is needed, and a damaged part is
named as for any bundle. Encryption runs on a thread of its own that reads what the
archive writer hands it through a small bounded pipe; decryption the other way round.
Memory stays flat: at most a few chunks are in the pipe.

Recipients are age public keys (``age1...``) or SSH public keys (``ssh-ed25519 ...``,
``ssh-rsa ...``); identities are age secret keys (``AGE-SECRET-KEY-1...``), one per line
of an identity file (``#`` starts a comment), as ``age-keygen`` writes them.
"""

from __future__ import annotations

import io
import queue
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, BinaryIO, cast

import pyrage

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.transfer._errors import BundleError

ENCRYPTION = "age"
_PIPE_CHUNKS = 8  # chunks in flight between the two threads (each at most ~1 MiB)
_WAIT = 0.1


class StreamClosedError(Exception):
    """The other end of the pipe went away (an error there, or the end of the work)."""


def parse_recipients(texts: Iterable[str]) -> list[Any]:
    """Public keys to encrypt to, or ``InvalidOperationError`` naming the one not understood."""
    recipients: list[Any] = []
    for text in texts:
        key = text.strip()
        try:
            if key.startswith("ssh-"):
                recipients.append(pyrage.ssh.Recipient.from_str(key))
            else:
                recipients.append(pyrage.x25519.Recipient.from_str(key))
        except (pyrage.RecipientError, ValueError):
            raise InvalidOperationError(
                f"{key[:24]!r} is not an age public key (age1...) or an SSH public key."
            ) from None
    if not recipients:
        raise InvalidOperationError("Encrypting a bundle needs at least one recipient.")
    return recipients


def read_identities(texts: Iterable[str]) -> list[Any]:
    """Secret keys from identity texts or files (``AGE-SECRET-KEY-1...`` lines)."""
    identities: list[Any] = []
    for text in texts:
        lines = [text]
        if not text.strip().upper().startswith("AGE-SECRET-KEY-"):
            try:
                lines = Path(text).expanduser().read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError) as exc:
                raise InvalidOperationError(
                    f"The identity file {text} cannot be read ({exc})."
                ) from None
        for line in lines:
            key = line.strip()
            if not key or key.startswith("#"):
                continue
            try:
                identities.append(pyrage.x25519.Identity.from_str(key))
            except (pyrage.IdentityError, ValueError):
                raise InvalidOperationError(
                    "An identity is not an age secret key (AGE-SECRET-KEY-1...)."
                ) from None
    if not identities:
        raise InvalidOperationError("No age secret key was found in the identities given.")
    return identities


class _Pipe:
    """A bounded queue of byte chunks between two threads; either end may close it."""

    def __init__(self) -> None:
        self._chunks: queue.Queue[bytes | None] = queue.Queue(_PIPE_CHUNKS)
        self._buffer = b""
        self._ended = False
        self.closed = False

    # writing end
    def write(self, data: bytes | bytearray | memoryview) -> int:
        chunk = bytes(data)
        while not self.closed:
            try:
                self._chunks.put(chunk, timeout=_WAIT)
                return len(chunk)
            except queue.Full:
                continue
        raise StreamClosedError("the reading end is closed")

    def flush(self) -> None:
        pass

    def end(self) -> None:
        while not self.closed:
            try:
                self._chunks.put(None, timeout=_WAIT)
                return
            except queue.Full:
                continue

    # reading end
    def read(self, size: int = -1) -> bytes:
        while not self._ended and (size < 0 or len(self._buffer) < size):
            try:
                chunk = self._chunks.get(timeout=_WAIT)
            except queue.Empty:
                if self.closed:
                    raise StreamClosedError("the writing end is closed") from None
                continue
            if chunk is None:
                self._ended = True
            else:
                self._buffer += chunk
        if size < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:size], self._buffer[size:]
        return data

    def readinto(self, target: bytearray | memoryview) -> int:
        data = self.read(len(target))
        target[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.closed = True


def _as_stream(stream: object) -> io.BufferedIOBase:
    """pyrage's stubs name buffered streams; it calls only ``read``/``write`` on them."""
    return cast(io.BufferedIOBase, stream)


class EncryptingWriter:
    """What the archive writes into: encrypted on a thread, then written to ``sink``."""

    def __init__(self, sink: Any, recipients: Sequence[Any]) -> None:
        self._pipe = _Pipe()
        self._offset = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(sink, list(recipients)), name="bundle-encrypt", daemon=True
        )
        self._thread.start()

    def _run(self, sink: Any, recipients: list[Any]) -> None:
        try:
            pyrage.encrypt_io(_as_stream(self._pipe), sink, recipients)
        except BaseException as exc:  # handed to the writing thread
            self._error = exc
            self._pipe.close()

    def tell(self) -> int:
        return self._offset

    def write(self, data: bytes | bytearray | memoryview) -> int:
        try:
            written = self._pipe.write(data)
        except StreamClosedError:
            raise self._failure() from None
        self._offset += written
        return written

    def close(self) -> None:
        """Finish the encrypted stream (waits for the thread)."""
        self._pipe.end()
        self._thread.join()
        if self._error is not None:
            raise self._failure()

    def abort(self) -> None:
        self._pipe.close()
        self._thread.join()

    def _failure(self) -> BundleError:
        return BundleError(f"The bundle could not be encrypted ({self._error}).")


class DecryptingReader:
    """The plain archive read from encrypted ``source`` (decrypted on a thread)."""

    def __init__(self, source: BinaryIO, identities: Sequence[Any], where: str) -> None:
        self._pipe = _Pipe()
        self._where = where
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._run, args=(source, list(identities)), name="bundle-decrypt", daemon=True
        )
        self._thread.start()

    def _run(self, source: BinaryIO, identities: list[Any]) -> None:
        try:
            pyrage.decrypt_io(_as_stream(source), _as_stream(self._pipe), identities)
        except BaseException as exc:  # handed to the reading thread
            self._error = exc
            self._pipe.close()
        else:
            self._pipe.end()

    def read(self, size: int = -1) -> bytes:
        try:
            return self._pipe.read(size)
        except StreamClosedError:
            if isinstance(self._error, pyrage.DecryptError):
                raise BundleError(
                    f"The bundle {self._where} cannot be decrypted with the identities given"
                    f" ({self._error}); nothing was imported."
                ) from None
            raise BundleError(
                f"The bundle {self._where} could not be decrypted ({self._error}); nothing"
                " was imported."
            ) from None

    def close(self) -> None:
        self._pipe.close()
        self._thread.join()
