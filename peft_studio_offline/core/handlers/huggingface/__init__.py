"""The built-in ``MODEL_PUSH`` handler for ``"target": "huggingface"``: an adapter folder
committed to a Hugging Face Hub repository, once.

Payload: ``repo_id`` (owner/name), ``path`` (the adapter folder, inside
``sync.upload_roots``), ``revision`` (a branch, default ``main``), ``commit_message``,
``private`` and ``create_repo`` (default true), ``path_in_repo``, ``allow_patterns`` and
``ignore_patterns``. The official ``huggingface_hub`` library does the talking (see
``_push`` for the steps); this module turns what happened into an outcome.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers.base import HandlerContext, Outcome, OutcomeKind
from peft_studio_offline.core.handlers.huggingface._payload import (
    HubPush,
    parse_hub_push,
    prepare_hub_push,
)
from peft_studio_offline.core.handlers.huggingface._push import (
    KEY_TRAILER,
    CommitBudgetSpentError,
    HubRequest,
    push_adapter,
)
from peft_studio_offline.core.handlers.huggingface._target import HubConfigurationError, HubTarget
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.upload_roots import sendable_roots

__all__ = [
    "KEY_TRAILER",
    "HubPush",
    "HubPushHandler",
    "parse_hub_push",
    "prepare_hub_push",
]


class HubPushHandler:
    """Pushes adapter folders to the Hub; the engine's one instance serves every push."""

    def __init__(
        self, *, endpoint: str | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.hub = HubTarget(endpoint, environ)

    def target(self, operation: Operation, context: HandlerContext) -> str | None:
        return self.hub.host(context)

    def resource_key(self, payload: Mapping[str, Any]) -> str | None:
        """Pushes to one branch go in queue order: each commits on top of the one before."""
        repo_id = payload.get("repo_id")
        if not isinstance(repo_id, str):
            return None
        return f"huggingface:{repo_id.strip()}@{payload.get('revision') or 'main'}"

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        try:
            push = parse_hub_push(operation.payload)
            endpoint = self.hub.url(context)  # the target first: what a new user sets first
            request = HubRequest(
                endpoint=endpoint,
                token=self.hub.token(context),
                key=context.idempotency_key,
                commits_per_hour=context.settings.sync.huggingface_commits_per_hour,
                roots=sendable_roots(context.settings),
                timeout=context.timeout,
            )
        except (InvalidOperationError, HubConfigurationError) as exc:
            return Outcome.failed(str(exc))
        try:
            details = await asyncio.to_thread(push_adapter, push, request)
        except InvalidOperationError as exc:
            return Outcome.failed(str(exc))
        except CommitBudgetSpentError as exc:
            return Outcome(
                OutcomeKind.RETRY,
                str(exc),
                retry_after=exc.wait,
                details={"repo_id": push.repo_id, "commit_budget": True},
                attempted=False,
            )
        except Exception as exc:
            outcome = _outcome_for(exc, push.repo_id)
            if outcome is None:
                raise
            return outcome
        return Outcome.done(details)


def _outcome_for(exc: Exception, repo_id: str) -> Outcome | None:
    from peft_studio_offline.core.handlers.huggingface._outcomes import outcome_for_error

    outcome = outcome_for_error(exc, repo_id)
    if outcome is not None:
        return outcome
    if isinstance(exc, OSError):
        return Outcome.failed(f"An adapter file cannot be read ({exc}).")
    if isinstance(exc, ValueError):  # the library's word on the content (a README's metadata)
        return Outcome.failed(f"The push to {repo_id} was refused: {exc}")
    return None
