"""What the runs of one engine share: deferrals, resource lanes, the breaker, and notes.

The engine owns one ``RunState``; each ``Runner`` is given it and writes only here, so the
runner needs nothing else of the engine than the services it calls (``RunServices``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from peft_studio_offline.core.sync.breaker import CircuitBreaker


@dataclass(slots=True)
class RunState:
    breaker: CircuitBreaker
    # Seconds between checks when work is due but cannot be taken (it waits on a
    # dependency, an earlier operation on its resource, or a person).
    idle_poll: float = 30.0
    # Op id -> not to be taken before (Unix time): operations a run held back.
    deferred: dict[int, float] = field(default_factory=dict)
    # Resource -> the operation that must go before later changes to it (for keys that
    # handlers suggest; keys stored with operations are kept in order by the queue).
    lane_blockers: dict[str, int] = field(default_factory=dict)
    # When a run last asked the queue for work (Unix time): what fell due after that was
    # not refused by the run, it came too late for it.
    last_claim_at: float = 0.0
    _lanes: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict)

    def defer(self, op_ids: list[int], until: float) -> None:
        for op_id in op_ids:
            self.deferred[op_id] = until

    def deferred_until(self, op_id: int) -> float | None:
        return self.deferred.get(op_id)

    def deferred_ids(self) -> set[int]:
        """The operations still held back now (those whose time has come are forgotten)."""
        now = time.time()
        for op_id in [i for i, until in self.deferred.items() if until <= now]:
            del self.deferred[op_id]
        return set(self.deferred)

    def next_deferred_at(self) -> float | None:
        """When the first held-back operation may be taken again (Unix time)."""
        held = self.deferred_ids()
        return min(self.deferred[i] for i in held) if held else None

    @contextlib.asynccontextmanager
    async def lane(self, key: str | None) -> AsyncIterator[None]:
        """Serialise work on one resource across batches of a run."""
        if key is None:
            yield
            return
        lock, users = self._lanes.get(key, (asyncio.Lock(), 0))
        self._lanes[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._lanes[key]
            if users <= 1:
                del self._lanes[key]
            else:
                self._lanes[key] = (lock, users - 1)
