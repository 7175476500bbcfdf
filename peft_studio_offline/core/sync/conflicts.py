"""Conflict strategies: what to re-send, and the choices a user has for a parked conflict."""

from __future__ import annotations

from typing import Any

from peft_studio_offline.core.enums import ConflictResolution
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.base import OperationHandler, default_resend_payload
from peft_studio_offline.core.operation import Operation

# What the user may answer to a parked conflict (the window's and the API's words too).
_USER_CHOICES = {
    "local": ConflictResolution.LOCAL_WINS,
    "keep_local": ConflictResolution.LOCAL_WINS,
    "local_wins": ConflictResolution.LOCAL_WINS,
    "remote": ConflictResolution.REMOTE_WINS,
    "keep_remote": ConflictResolution.REMOTE_WINS,
    "remote_wins": ConflictResolution.REMOTE_WINS,
    "merged": ConflictResolution.MERGE,
    "merge": ConflictResolution.MERGE,
}


def parse_user_resolution(value: object) -> ConflictResolution:
    """``keep local`` / ``keep remote`` / ``merged``, as the enum or one of its words."""
    if isinstance(value, ConflictResolution) and value is not ConflictResolution.MANUAL:
        return value
    if isinstance(value, str):
        choice = _USER_CHOICES.get(value.strip().lower().replace(" ", "_").replace("-", "_"))
        if choice is not None:
            return choice
    raise InvalidOperationError(
        f"Unknown conflict resolution {value!r}; expected keep_local, keep_remote or merged."
    )


def resend_payload(
    handler: OperationHandler | None,
    operation: Operation,
    resolution: ConflictResolution,
    *,
    merged: Any = None,
    remote: Any = None,
    remote_version: str | None = None,
) -> dict[str, Any]:
    """The payload that carries out ``resolution``: the handler's rule, or the default one."""
    own = getattr(handler, "resend_payload", None)
    if own is not None:
        payload = own(
            operation, resolution, merged=merged, remote=remote, remote_version=remote_version
        )
        return dict(payload)
    return default_resend_payload(
        operation, resolution, merged=merged, remote=remote, remote_version=remote_version
    )
