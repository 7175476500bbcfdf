"""Where a conflict is decided: what to re-send, the choices a user has for a parked
conflict, and the writes that carry a decision out (each in one queue transaction)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from peft_studio_offline.core.enums import ConflictResolution
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.base import OperationHandler, default_resend_payload
from peft_studio_offline.core.operation import HistoryEvent, Operation

if TYPE_CHECKING:
    from peft_studio_offline.core.queue import OfflineQueueManager

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


async def drop_local_change(
    queue: OfflineQueueManager,
    op_id: int,
    message: str,
    *,
    kept: Mapping[str, Any],
    resolution: str,
) -> None:
    """The remote side stays: the operation is completed and its history keeps the dropped
    local change (``kept``: both sides), in one transaction."""
    await queue.mark_completed(
        op_id,
        details={"resolution": resolution, "local_dropped": True},
        event=HistoryEvent("local_dropped", message, kept),
    )


async def queue_resolution(
    queue: OfflineQueueManager,
    op_id: int,
    payload: Mapping[str, Any],
    *,
    word: str,
    previous_payload: Mapping[str, Any],
) -> None:
    """A person's resolution (keep local, merged): the payload that carries it out is
    queued, due now, with the history line that says so, in one transaction."""
    await queue.requeue(
        op_id,
        payload=payload,
        note=None,  # the event says it
        event=HistoryEvent(
            "resolved",
            f"Conflict resolved by you ({word.replace('_', ' ')}); it will be sent again.",
            {"resolution": word, "previous_payload": previous_payload},
        ),
    )
