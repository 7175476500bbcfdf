"""The seam between the sync engine and the code that talks to a service.

A handler receives one claimed :class:`Operation` and a :class:`HandlerContext`, does the
network work, and answers an :class:`Outcome`: done, retry (maybe after N seconds), failed
for good, or conflict (the remote changed since the operation was queued). The engine turns
the outcome into queue writes and applies the conflict strategy; handlers never touch the
queue themselves.

Optional extras a handler may define (the engine looks for them with ``getattr``):

- ``resource_key(payload) -> str | None``: operations with the same key keep their order.
- ``batch_key(operation) -> Hashable | None`` with ``handle_batch(operations, context) ->
  list[Outcome]``: consecutive claimed operations with the same non-None key are sent
  together (e.g. metrics for one run), one outcome per operation, in order (or a single
  outcome for all). The context is the first operation's; each operation carries its own
  ``idempotency_key``.
- ``resend_payload(operation, resolution, *, merged, remote, remote_version) -> dict``: the
  payload to send after a conflict. ``LOCAL_WINS`` means an unconditional re-send of the
  local change; ``MERGE`` means ``merged`` (the merged local value) conditioned on
  ``remote_version``, with ``remote`` as its new base. Without it,
  :func:`default_resend_payload` is used.
- ``target(operation, context) -> str | None``: the host the operation goes to, for the
  per-host circuit breaker.
- ``keep_local_refusal: str``: set when the service can never take the local side of a
  conflict (MLflow params): the sentence that refuses "keep local" for its operations.

A handler that finds its target or credential not configured raises
:class:`MissingSettingError`: the operation waits for that setting, using no attempt.

The spec's plain ``async def handler(payload) -> bool`` is wrapped by :func:`as_handler`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

import httpx

from peft_studio_offline.core.enums import ConflictResolution
from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.settings import Settings


class OutcomeKind(StrEnum):
    DONE = "done"
    RETRY = "retry"
    FAILED = "failed"  # permanent: the service refused it for good
    CONFLICT = "conflict"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt of one operation came to.

    ``details`` is kept in the operation's attempt history (status code, server message,
    ids the service gave back...). For a conflict, ``local``, ``remote`` and ``base`` are the
    values compared (``local`` defaults to the operation's payload), ``remote_version`` the
    version a re-send should be conditioned on (an ETag, a revision).
    """

    kind: OutcomeKind
    message: str | None = None
    retry_after: float | None = None
    local: Any = None
    remote: Any = None
    base: Any = None
    remote_version: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    # False when the request certainly never reached the service (connection refused, no
    # route, connect timeout): such a retry does not use up one of the operation's attempts,
    # so that an outage alone never makes an operation fail for good.
    attempted: bool = True
    # The setting the operation waits for (``sync.mlflow_tracking_uri``...): nothing was
    # sent, no attempt is used, and it goes once the setting is there.
    waiting_for: str | None = None
    # False for a conflict the service cannot settle in the local side's favour (MLflow
    # params never change): "local wins" parks it for a person instead of re-sending.
    local_can_win: bool = True

    @classmethod
    def done(cls, details: Mapping[str, Any] | None = None) -> Outcome:
        return cls(OutcomeKind.DONE, details=dict(details or {}))

    @classmethod
    def retry(
        cls,
        message: str,
        retry_after: float | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> Outcome:
        return cls(OutcomeKind.RETRY, message, retry_after=retry_after, details=dict(details or {}))

    @classmethod
    def unreachable(cls, message: str, details: Mapping[str, Any] | None = None) -> Outcome:
        """The service could not be reached at all: retry later, without counting an attempt."""
        return cls(OutcomeKind.RETRY, message, details=dict(details or {}), attempted=False)

    @classmethod
    def waiting(cls, message: str, setting: str) -> Outcome:
        """Not configured yet: wait for ``setting``, without counting an attempt."""
        return cls(
            OutcomeKind.RETRY,
            message,
            details={"waiting_for": setting},
            attempted=False,
            waiting_for=setting,
        )

    @classmethod
    def failed(cls, message: str, details: Mapping[str, Any] | None = None) -> Outcome:
        return cls(OutcomeKind.FAILED, message, details=dict(details or {}))

    @classmethod
    def conflict(
        cls,
        message: str,
        *,
        remote: Any,
        base: Any = None,
        local: Any = None,
        remote_version: str | None = None,
        details: Mapping[str, Any] | None = None,
        local_can_win: bool = True,
    ) -> Outcome:
        return cls(
            OutcomeKind.CONFLICT,
            message,
            local=local,
            remote=remote,
            base=base,
            remote_version=remote_version,
            details=dict(details or {}),
            local_can_win=local_can_win,
        )


class MissingSettingError(PeftStudioOfflineError):
    """What an operation needs is not configured yet (a target, a credential).

    A handler raises it (or lets it through) instead of failing: the engine keeps the
    operation pending without using an attempt, says which ``setting`` to set, and sends it
    as soon as the setting is there.
    """

    def __init__(self, message: str, setting: str) -> None:
        super().__init__(message)
        self.setting = setting


CredentialLookup = Callable[[str], str | None]


@dataclass(frozen=True, slots=True)
class HandlerContext:
    """Everything a handler needs besides the operation itself.

    ``client`` is a long-lived client owned by the engine (one per worker): reuse it, never
    close it. ``credential(name)`` looks up a secret by the name kept in settings
    (``settings.credentials``); it answers None when there is none.
    """

    idempotency_key: str
    conflict_strategy: ConflictResolution
    settings: Settings
    client: httpx.AsyncClient
    credential: CredentialLookup
    attempt: int = 1

    @property
    def api_base_url(self) -> str:
        return self.settings.sync.api_base_url

    @property
    def mlflow_tracking_uri(self) -> str:
        return self.settings.sync.mlflow_tracking_uri

    @property
    def timeout(self) -> float:
        return self.settings.sync.request_timeout


@runtime_checkable
class OperationHandler(Protocol):
    """Sends one operation; see the module docstring for the optional extras."""

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome: ...


SimpleHandler = Callable[[dict[str, Any]], Awaitable[bool]]


class FunctionHandler:
    """Adapts the spec's ``async def handler(payload) -> bool`` (or one returning an Outcome)."""

    def __init__(self, function: Callable[[dict[str, Any]], Awaitable[Any]]) -> None:
        self.function = function

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        result = await self.function(dict(operation.payload))
        if isinstance(result, Outcome):
            return result
        if result is True or (result is not False and result is not None and bool(result)):
            return Outcome.done()
        return Outcome.retry("The handler reported that the operation did not go through.")

    def __repr__(self) -> str:
        return f"FunctionHandler({getattr(self.function, '__qualname__', self.function)!r})"


def as_handler(handler: object) -> OperationHandler:
    """Accept a handler object or a coroutine function taking the payload."""
    if isinstance(handler, OperationHandler):
        return handler
    if callable(handler):
        return FunctionHandler(handler)
    raise TypeError(
        f"A handler must be a coroutine function or have an async handle() method, not {handler!r}."
    )


# Payload keys that make a request conditional on the remote version it was based on.
CONDITION_KEYS = ("etag", "if_match", "base")


def default_resend_payload(
    operation: Operation,
    resolution: ConflictResolution,
    *,
    merged: Any = None,
    remote: Any = None,
    remote_version: str | None = None,
) -> dict[str, Any]:
    """The payload to re-send after a conflict, for handlers without their own rule.

    ``LOCAL_WINS``: the same change without its condition (``etag``/``if_match``/``base``).
    ``MERGE``: ``merged`` replaces ``data``, conditioned on ``remote_version`` with the
    remote value as the new ``base``, so that a further change is detected again.
    """
    payload = {k: v for k, v in operation.payload.items() if k not in CONDITION_KEYS}
    if resolution is ConflictResolution.MERGE:
        payload["data"] = merged
        if remote_version is not None:
            payload["etag"] = remote_version
        if "base" in operation.payload:
            payload["base"] = remote
    return payload
