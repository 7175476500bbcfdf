"""Payloads checked before they are queued; uploads only from the folders the user allowed.

A local program holding the token must not be able to make the app send ``~/.ssh``
anywhere: paths are resolved (symlinks followed) before they are compared.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from peft_studio_offline.api.errors import ApiError
from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.errors import InvalidOperationError

# The payload key holding a local file or folder to send, per type that reads one.
_PATH_KEYS = {OperationType.FILE_UPLOAD: "path", OperationType.MODEL_PUSH: "path"}


async def prepare_for_queue(
    operation_type: OperationType, payload: Mapping[str, Any], roots: Iterable[str]
) -> dict[str, Any]:
    """The payload to store: checked and completed as the built-in handlers want it.

    Unlike the sync engine, the API allows no upload at all while no root is configured.
    """
    from peft_studio_offline.core.handlers import prepare_payload

    roots = tuple(roots)
    check_upload_paths(operation_type, payload, roots)
    key = _PATH_KEYS.get(operation_type)
    try:
        if key is None:
            return prepare_payload(operation_type, payload, upload_roots=roots)
        # A file upload is hashed (an adapter folder listed) now: off the event loop.
        return await asyncio.to_thread(prepare_payload, operation_type, payload, upload_roots=roots)
    except InvalidOperationError as exc:
        raise ApiError(422, str(exc), "payload" if key is None else f"payload.{key}") from None


def check_upload_paths(
    operation_type: OperationType, payload: Mapping[str, Any], roots: Iterable[str]
) -> None:
    """Raise a 403 ``ApiError`` when the payload names a local path outside ``roots``."""
    key = _PATH_KEYS.get(operation_type)
    if key is None:
        return
    raw = payload.get(key)
    field = f"payload.{key}"
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise ApiError(422, f"The field '{field}' must be a file path.", field)
    path = Path(raw).expanduser()
    if not path.is_absolute():
        raise ApiError(422, f"The field '{field}' must be an absolute path.", field)
    allowed = [Path(root).expanduser().resolve() for root in roots if root.strip()]
    if not allowed:
        raise ApiError(
            403,
            "Uploads through the API are off: list the folders they may read in"
            " sync.upload_roots in settings.toml.",
            field,
        )
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:
        raise ApiError(422, f"The path in '{field}' cannot be resolved ({exc}).", field) from exc
    if not any(resolved.is_relative_to(root) for root in allowed):
        raise ApiError(
            403,
            f"The path in '{field}' is outside the folders allowed for uploads"
            " (sync.upload_roots in settings.toml).",
            field,
        )
