"""Operations a training script made while nothing could store them, kept in memory.

When neither the app nor the queue database takes an operation (a full disk, a database
locked for too long), dropping it would lose work the script meant to keep. The client holds
it here instead, in the order it was made, and offers the whole backlog again before the next
operation, no more often than ``retry_after`` seconds so that a training loop on a full disk
does not pay for a failing write on every step. The backlog is bounded: past ``limit`` the
oldest entry is given up, with an error in the log saying how many were.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from peft_studio_offline.core.enums import OperationType

log = logging.getLogger("peft_studio_offline.client")


@dataclass(slots=True)
class HeldOperation:
    kind: OperationType
    payload: dict[str, Any]
    priority: int
    # Made when the operation is first offered to the app's API, then the same on every try:
    # one the server stored before its answer was lost is not stored twice. One written
    # straight into the database needs none: that write's outcome is always known.
    dedup_key: str | None = None

    def shared_key(self) -> str:
        if self.dedup_key is None:
            self.dedup_key = f"client-{uuid.uuid4().hex}"
        return self.dedup_key


class NotStoredError(Exception):
    """Nothing could take the operation just now; the reason is a sentence for the user."""


class Backlog:
    def __init__(self, *, limit: int = 10_000, retry_after: float = 1.0) -> None:
        self.limit = limit
        self.retry_after = retry_after
        self._held: deque[HeldOperation] = deque()
        self._next_try = 0.0
        self.given_up = 0

    def __len__(self) -> int:
        return len(self._held)

    def due(self) -> bool:
        return bool(self._held) and time.monotonic() >= self._next_try

    def hold(self, operation: HeldOperation, reason: str) -> None:
        first = not self._held
        self._held.append(operation)
        self._next_try = time.monotonic() + self.retry_after
        if len(self._held) > self.limit:
            self._held.popleft()
            self.given_up += 1
            if self.given_up == 1 or self.given_up % 1000 == 0:
                log.error(
                    "%d operations were given up: more than %d waited in memory for the queue"
                    " to take them.",
                    self.given_up,
                    self.limit,
                )
        if first:
            log.warning(
                "Could not queue the %s operation: %s It is kept in memory and queued as soon"
                " as the database takes it again.",
                operation.kind.value,
                _sentence(reason),
            )

    def flush(self, deliver: Callable[[HeldOperation], int]) -> bool:
        """Offer the backlog to ``deliver`` oldest first; True when it is empty afterwards."""
        while self._held:
            try:
                deliver(self._held[0])
            except NotStoredError:
                self._next_try = time.monotonic() + self.retry_after
                return False
            self._held.popleft()
        log.info("Every operation kept in memory is now queued.")
        return True

    def abandon(self) -> None:
        """At close, when the backlog could not be queued: say what is lost, then forget it."""
        if self._held:
            log.error(
                "%d operations could not be queued before the client closed and are lost"
                " (the queue database did not take them).",
                len(self._held),
            )
            self._held.clear()


def _sentence(reason: str) -> str:
    reason = reason.strip()
    return reason if reason.endswith((".", "!", "?")) else f"{reason}."
