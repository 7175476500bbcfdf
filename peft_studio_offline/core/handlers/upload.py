"""The built-in ``FILE_UPLOAD`` handler: streams a file from disk, checked against its hash.

Payload: ``path``; ``url`` (or ``endpoint`` against the API base URL); ``method`` (``PUT``,
the default, sends the raw bytes; ``POST`` sends ``multipart/form-data`` with the file in
``field``, default ``file``, plus optional ``fields``); ``headers``; ``content_type``;
``sha256`` and ``size`` recorded at enqueue (see :func:`file_facts`); optional ``etag``
sent as ``If-Match``.

The file is never read whole into memory. The last chunk is held back until the hash of
everything read matches the recorded one, so a file that changed after it was queued never
completes an upload: the request is aborted and the operation fails with a clear message.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import httpx

from peft_studio_offline.core.errors import InvalidOperationError, UploadNotAllowedError
from peft_studio_offline.core.handlers.base import HandlerContext, MissingSettingError, Outcome
from peft_studio_offline.core.handlers.httputil import (
    PayloadError,
    check_token_needed,
    classify_response,
    host_of,
    request_headers,
    resolve_url,
    transport_failure,
)
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.outgoing_files import (
    MissingFileError,
    OutgoingFile,
    OutgoingFileError,
    OutsideRootsError,
    open_outgoing_file,
    outgoing_path,
)
from peft_studio_offline.core.upload_roots import sendable_roots

CHUNK_SIZE = 256 * 1024


class FileChangedError(Exception):
    """The file on disk is not the one that was queued."""


def check_upload_path(path: str | os.PathLike[str], roots: Iterable[str]) -> Path:
    """The file's real path; ``InvalidOperationError`` when it is outside ``roots``.

    An empty ``roots`` allows every path (settings ``sync.upload_roots``). Symbolic links
    the caller names are resolved here, at enqueue, and the real path is what is stored:
    when the operation is sent, that path is opened without following any link.
    """
    try:
        return outgoing_path(path, roots)
    except OutsideRootsError as exc:
        raise UploadNotAllowedError(str(exc), field="payload.path") from None


def file_facts(path: str | os.PathLike[str], roots: Iterable[str] = ()) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file, read from one checked descriptor."""
    with open_outgoing_file(path, roots) as opened:
        return opened.sha256(), opened.size


def prepare_upload_payload(payload: Mapping[str, Any], roots: Iterable[str]) -> dict[str, Any]:
    """Validate an upload at enqueue: the real ``path``, and the app's own ``sha256``/``size``.

    A ``sha256`` or ``size`` in the payload is replaced: only what the app read itself can
    prove, when the file is sent, that it is the file that was queued.
    """
    raw = payload.get("path")
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidOperationError("A file upload needs a 'path' to a local file.")
    roots = tuple(roots)
    path = check_upload_path(raw, roots)
    method = str(payload.get("method") or "PUT").upper()
    if method not in ("PUT", "POST"):
        raise InvalidOperationError(
            f"A file upload is sent with PUT or POST, not {method!r}.", field="payload.method"
        )
    try:
        with open_outgoing_file(path, roots) as opened:
            sha256, size = opened.sha256(), opened.size
    except MissingFileError:
        raise InvalidOperationError(
            f"The file {path} does not exist or is not a regular file.", field="payload.path"
        ) from None
    except OutgoingFileError as exc:
        raise InvalidOperationError(str(exc), field="payload.path") from None
    except OSError as exc:
        raise InvalidOperationError(
            f"The file {path} cannot be read ({exc.strerror}).", field="payload.path"
        ) from exc
    out = dict(payload)
    out["path"] = str(path)
    out["sha256"], out["size"] = sha256, size
    return out


class FileUploadHandler:
    """Sends ``file_upload`` operations, streaming from disk."""

    def target(self, operation: Operation, context: HandlerContext) -> str | None:
        try:
            return host_of(resolve_url(operation.payload, context.api_base_url))
        except (PayloadError, MissingSettingError):
            return None

    def resource_key(self, payload: Mapping[str, Any]) -> str | None:
        where = payload.get("url") or payload.get("endpoint")
        return f"upload:{where.strip()}" if isinstance(where, str) else None

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        payload = operation.payload
        try:
            url = resolve_url(payload, context.api_base_url)
            headers = request_headers(payload, context, url)
            method = str(payload.get("method") or "PUT").upper()
            if method not in ("PUT", "POST"):
                raise PayloadError(f"A file upload is sent with PUT or POST, not {method!r}.")
        except PayloadError as exc:
            return Outcome.failed(str(exc))
        raw_path = str(payload.get("path") or "")
        try:
            opened = await asyncio.to_thread(
                open_outgoing_file, raw_path, sendable_roots(context.settings)
            )
        except MissingFileError:
            return Outcome.failed(f"The file {raw_path} no longer exists; nothing was uploaded.")
        except OutgoingFileError as exc:
            return Outcome.failed(f"{exc} Nothing was uploaded.")
        except OSError as exc:
            return Outcome.failed(f"The file {raw_path} cannot be read ({exc}).")
        try:
            return await self._send(payload, context, url, headers, method, opened)
        finally:
            opened.close()

    async def _send(
        self,
        payload: Mapping[str, Any],
        context: HandlerContext,
        url: str,
        headers: dict[str, str],
        method: str,
        opened: OutgoingFile,
    ) -> Outcome:
        path, size = opened.path, opened.size
        expected_sha = payload.get("sha256") or None
        expected_size = payload.get("size")
        if expected_sha and isinstance(expected_size, int) and expected_size != size:
            return Outcome.failed(_changed(path))
        if payload.get("etag"):
            headers["If-Match"] = str(payload["etag"])
        stream = _FileStream(opened, expected_sha)
        if method == "PUT":
            headers.setdefault(
                "Content-Type", str(payload.get("content_type") or "application/octet-stream")
            )
            headers["Content-Length"] = str(size)
            content: AsyncIterator[bytes] = stream.chunks()
        else:
            multipart = _Multipart(payload, path, stream)
            headers["Content-Type"] = multipart.content_type
            headers["Content-Length"] = str(multipart.length(size))
            content = multipart.chunks()
        try:
            response = await context.client.request(
                method, url, headers=headers, content=content, timeout=context.timeout
            )
        except FileChangedError:
            return Outcome.failed(_changed(path))
        except httpx.HTTPError as exc:
            if stream.changed:
                return Outcome.failed(_changed(path))
            return transport_failure(exc, url)
        if payload.get("etag") and response.status_code in (409, 412):
            return Outcome.conflict(
                f"The remote file changed since this upload was queued (the server answered"
                f" {response.status_code}).",
                remote={"etag": response.headers.get("ETag")},
                local={"sha256": stream.sha256, "size": size},
                remote_version=response.headers.get("ETag"),
                details={"status": response.status_code},
            )
        check_token_needed(response, payload, context, url)
        outcome = classify_response(response)
        if stream.sha256 is not None:
            details = {**outcome.details, "sha256": stream.sha256, "size": size}
            outcome = Outcome(outcome.kind, outcome.message, outcome.retry_after, details=details)
        return outcome


def _changed(path: Path) -> str:
    return (
        f"The file {path} changed since it was queued (its SHA-256 no longer matches);"
        " it was not uploaded. Queue it again to send the new version."
    )


class _FileStream:
    """Reads a file in chunks, hashing as it goes; holds back the last chunk until checked."""

    def __init__(self, opened: OutgoingFile, expected_sha: str | None) -> None:
        self.opened = opened
        self.path = opened.path
        self.expected_sha = expected_sha
        self.size = opened.size
        self.sha256: str | None = None
        self.changed = False

    async def chunks(self) -> AsyncIterator[bytes]:
        digest = hashlib.sha256()
        total = 0
        handle: BinaryIO = self.opened.handle
        await asyncio.to_thread(handle.seek, 0)  # a resent body starts over
        held: bytes | None = None
        while chunk := await asyncio.to_thread(handle.read, CHUNK_SIZE):
            digest.update(chunk)
            total += len(chunk)
            if held is not None:
                yield held
            held = chunk
        self.sha256 = digest.hexdigest()
        if total != self.size or (self.expected_sha and self.sha256 != self.expected_sha):
            self.changed = True
            raise FileChangedError(_changed(self.path))
        if held is not None:
            yield held


class _Multipart:
    """A ``multipart/form-data`` body streamed around a :class:`_FileStream`."""

    def __init__(self, payload: Mapping[str, Any], path: Path, stream: _FileStream) -> None:
        self.boundary = uuid.uuid4().hex
        self.stream = stream
        field = str(payload.get("field") or "file")
        filename = str(payload.get("filename") or path.name)
        kind = str(payload.get("content_type") or "application/octet-stream")
        parts = []
        fields = payload.get("fields") or {}
        for name, value in fields.items() if isinstance(fields, Mapping) else ():
            parts.append(
                f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote(name)}"'
                f"\r\n\r\n{value}\r\n"
            )
        parts.append(
            f'--{self.boundary}\r\nContent-Disposition: form-data; name="{_quote(field)}";'
            f' filename="{_quote(filename)}"\r\nContent-Type: {kind}\r\n\r\n'
        )
        self.head = "".join(parts).encode()
        self.tail = f"\r\n--{self.boundary}--\r\n".encode()

    @property
    def content_type(self) -> str:
        return f"multipart/form-data; boundary={self.boundary}"

    def length(self, size: int) -> int:
        return len(self.head) + size + len(self.tail)

    async def chunks(self) -> AsyncIterator[bytes]:
        yield self.head
        async for chunk in self.stream.chunks():
            yield chunk
        yield self.tail


def _quote(text: object) -> str:
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "")
