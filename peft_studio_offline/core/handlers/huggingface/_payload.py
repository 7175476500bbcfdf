"""A push to the Hugging Face Hub as stored in the queue, read back for the handler.

``core.submit`` checks the shape when the operation is made; ``prepare_hub_push`` then fills
in the defaults, so that every attempt sends the same thing; ``parse_hub_push`` reads it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.huggingface._files import AdapterSource

DEFAULT_REVISION = "main"
DEFAULT_COMMIT_MESSAGE = "Upload adapter"


@dataclass(frozen=True, slots=True)
class HubPush:
    repo_id: str
    path: Path
    revision: str
    commit_message: str
    private: bool | None
    create_repo: bool
    path_in_repo: str
    allow_patterns: tuple[str, ...]
    ignore_patterns: tuple[str, ...]


def prepare_hub_push(payload: Mapping[str, Any], roots: Iterable[str]) -> dict[str, Any]:
    """The payload with its defaults filled in; the folder must hold a file to send."""
    push = parse_hub_push(payload)
    with AdapterSource.open(push.path, push, tuple(roots)):
        pass  # links, special files or nothing to send are named now, not at send time
    prepared = dict(payload)
    prepared.update(
        repo_id=push.repo_id,
        revision=push.revision,
        commit_message=push.commit_message,
        create_repo=push.create_repo,
        path_in_repo=push.path_in_repo,
    )
    for key in ("allow_patterns", "ignore_patterns"):
        value = getattr(push, key)
        if value:
            prepared[key] = list(value)
        else:
            prepared.pop(key, None)
    return prepared


def parse_hub_push(payload: Mapping[str, Any]) -> HubPush:
    raw_path = payload.get("path")
    if not isinstance(raw_path, str) or not raw_path.strip():
        raise InvalidOperationError(
            "A model_push payload needs 'path', the adapter folder.", field="payload.path"
        )
    repo_id = payload.get("repo_id")
    if not isinstance(repo_id, str) or not repo_id.strip():
        raise InvalidOperationError(
            "A push to the Hugging Face Hub needs 'repo_id'.", field="payload.repo_id"
        )
    private = payload.get("private")
    return HubPush(
        repo_id=repo_id.strip(),
        path=Path(raw_path),
        revision=str(payload.get("revision") or DEFAULT_REVISION),
        commit_message=str(payload.get("commit_message") or DEFAULT_COMMIT_MESSAGE).strip()
        or DEFAULT_COMMIT_MESSAGE,
        private=private if isinstance(private, bool) else None,
        create_repo=payload.get("create_repo") is not False,
        path_in_repo=str(payload.get("path_in_repo") or "").strip("/"),
        allow_patterns=_patterns(payload.get("allow_patterns")),
        ignore_patterns=_patterns(payload.get("ignore_patterns")),
    )


def _patterns(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value if str(v).strip())
    return ()
