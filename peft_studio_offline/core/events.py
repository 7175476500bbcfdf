"""Plain-Python change events: the one event source the window, the API and tests share."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

log = logging.getLogger(__name__)

EventT = TypeVar("EventT")

QueueChangeKind = Literal["added", "changed", "removed", "external"]


@dataclass(frozen=True, slots=True)
class QueueChange:
    """Operations were added, changed or removed.

    ``external`` means another process changed the database; ids are then unknown (empty).
    """

    kind: QueueChangeKind
    ids: tuple[int, ...] = ()


class EventSource(Generic[EventT]):
    """A list of subscribers called in order; one raising is logged and the rest still run."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._subscribers: list[Callable[[EventT], object]] = []

    def subscribe(self, callback: Callable[[EventT], object]) -> Callable[[], None]:
        """Add ``callback``; returns a function that removes it again."""
        self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: Callable[[EventT], object]) -> None:
        if callback in self._subscribers:
            self._subscribers.remove(callback)

    def emit(self, event: EventT) -> None:
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:
                log.exception("A subscriber to %s failed on %r", self._name, event)

    async def emit_awaiting(self, event: EventT) -> None:
        """``emit`` for subscribers that may be coroutine functions: each one's coroutine is
        awaited before the next subscriber runs (the network monitor's callbacks)."""
        for callback in list(self._subscribers):
            try:
                result: object = callback(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("A subscriber to %s failed on %r", self._name, event)

    def __len__(self) -> int:
        return len(self._subscribers)
