"""The built-in ``EXPERIMENT_SYNC`` handler: run tags and the note, edited offline.

Each field (a tag, or the note, MLflow's ``mlflow.note.content`` tag) is compared three
ways: the local value, the server's value now, and ``base``, the value the user last saw.

- server equals local: nothing to send;
- no ``base``: the local value is written (local wins);
- server equals base: only the local side changed, it is written;
- local equals base: only the server changed, its value stays;
- all three differ: a conflict. With the ``MERGE`` strategy the note is merged line by line
  when the edits touch different lines; whatever cannot be merged is answered as a
  conflict, holding only the fields in conflict, for the engine's strategy.

Fields without a conflict are written before a conflict is answered. A tag whose local value
is null is deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from peft_studio_offline.core.enums import ConflictResolution
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.base import (
    HandlerContext,
    Outcome,
    default_resend_payload,
)
from peft_studio_offline.core.handlers.mlflow._client import MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._creation import check_action, run_action, waiting
from peft_studio_offline.core.handlers.mlflow._errors import MlflowError
from peft_studio_offline.core.handlers.mlflow._outcomes import check_run_active, outcome_for
from peft_studio_offline.core.handlers.mlflow._payloads import NOTE_TAG, parse_experiment_sync
from peft_studio_offline.core.handlers.mlflow._target import TrackingHandler
from peft_studio_offline.core.handlers.mlflow._textmerge import merge_text
from peft_studio_offline.core.mlflow_local import NotDeliveredError
from peft_studio_offline.core.operation import Operation

_TAGS_PER_REQUEST = 100

Fields = dict[str, str | None]


class ExperimentSyncHandler(TrackingHandler):
    """Pushes run metadata, detecting changes made on the server meanwhile."""

    def resource_key(self, payload: Mapping[str, Any]) -> str | None:
        """Edits of one run's metadata are sent in the order they were made."""
        run_id = payload.get("run_id")
        return f"mlflow-run:{run_id}" if isinstance(run_id, str) and run_id else None

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        if operation.payload.get("action") is not None:
            return await self._run_action(operation, context)
        try:
            sync = parse_experiment_sync(operation.payload)
        except InvalidOperationError as exc:
            return Outcome.failed(str(exc))
        try:
            remote_id = await self.ids.run(sync.run_id) if self.ids else sync.run_id
        except NotDeliveredError as exc:
            return waiting(str(exc))
        try:
            client = self.tracking.client(context, context.idempotency_key)
            run = await check_run_active(client, remote_id)
            remote: Fields = {
                str(t["key"]): str(t.get("value", ""))
                for t in run.get("data", {}).get("tags", [])
                if "key" in t
            }
            writes, conflicts, merged = _plan(sync.fields, remote, sync.base, context)
            await _apply(client, remote_id, writes)
        except MlflowError as exc:
            return outcome_for(exc)
        details: dict[str, Any] = {"run_id": sync.run_id, "written": sorted(writes)}
        if merged:
            details["merged"] = sorted(merged)
        if not conflicts:
            return Outcome.done(details)
        base = sync.base or {}
        names = ", ".join(_label(k) for k in conflicts)
        return Outcome.conflict(
            f"Run {sync.run_id} changed on the MLflow server too: {names}.",
            local=_shape({k: sync.fields[k] for k in conflicts}),
            remote=_shape({k: remote.get(k) for k in conflicts}),
            base=_shape({k: base.get(k) for k in conflicts}),
            details=details,
        )

    async def _run_action(self, operation: Operation, context: HandlerContext) -> Outcome:
        try:
            check_action(operation.payload)
        except InvalidOperationError as exc:
            return Outcome.failed(str(exc))
        try:
            client = self.tracking.client(context, context.idempotency_key)
        except MlflowError as exc:
            return outcome_for(exc)
        return await run_action(client, self.ids, operation.payload)

    def resend_payload(
        self,
        operation: Operation,
        resolution: ConflictResolution,
        *,
        merged: Any = None,
        remote: Any = None,
        remote_version: str | None = None,
    ) -> dict[str, Any]:
        """Local wins: send again without ``base``. Merged: the merged values, based on remote."""
        payload = dict(operation.payload)
        if resolution is ConflictResolution.LOCAL_WINS:
            payload.pop("base", None)
            return payload
        if resolution is not ConflictResolution.MERGE or not isinstance(merged, Mapping):
            return default_resend_payload(
                operation, resolution, merged=merged, remote=remote, remote_version=remote_version
            )
        payload["tags"] = {**dict(payload.get("tags") or {}), **dict(merged.get("tags") or {})}
        if "note" in merged:
            payload["note"] = merged["note"]
        old_base = payload.get("base") if isinstance(payload.get("base"), Mapping) else {}
        assert isinstance(old_base, Mapping)
        new_base: dict[str, Any] = {"tags": dict(old_base.get("tags") or {})}
        if "note" in old_base:
            new_base["note"] = old_base["note"]
        if isinstance(remote, Mapping):
            new_base["tags"].update(dict(remote.get("tags") or {}))
            if "note" in remote:
                new_base["note"] = remote["note"]
        payload["base"] = new_base
        return payload


def _plan(
    local: Fields, remote: Fields, base: Fields | None, context: HandlerContext
) -> tuple[Fields, list[str], list[str]]:
    """What to write, which fields conflict, and which were merged line by line."""
    writes: Fields = {}
    conflicts: list[str] = []
    merged: list[str] = []
    for key, mine in local.items():
        theirs = remote.get(key)
        if theirs == mine:
            continue
        if base is None:
            writes[key] = mine
            continue
        was = base.get(key)
        if theirs == was:
            writes[key] = mine
        elif mine == was:
            continue
        else:
            text = None
            if context.conflict_strategy is ConflictResolution.MERGE:
                text = merge_text(was, mine, theirs)
            if text is None:
                conflicts.append(key)
            else:
                writes[key] = text
                merged.append(key)
    return writes, conflicts, merged


async def _apply(client: MlflowRestClient, run_id: str, writes: Fields) -> None:
    tags = [{"key": k, "value": v} for k, v in writes.items() if v is not None]
    for start in range(0, len(tags), _TAGS_PER_REQUEST):
        await client.log_batch(run_id, tags=tags[start : start + _TAGS_PER_REQUEST])
    for key in (k for k, v in writes.items() if v is None):
        try:
            await client.delete_tag(run_id, key)
        except MlflowError as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise


def _shape(fields: Mapping[str, str | None]) -> dict[str, Any]:
    """Fields in the payload's own shape: ``{"tags": {...}, "note": ...}``."""
    shaped: dict[str, Any] = {"tags": {k: v for k, v in fields.items() if k != NOTE_TAG}}
    if NOTE_TAG in fields:
        shaped["note"] = fields[NOTE_TAG]
    return shaped


def _label(key: str) -> str:
    return "the note" if key == NOTE_TAG else f"tag {key!r}"
