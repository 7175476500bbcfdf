"""A circuit breaker per host: a host that keeps failing is paused instead of hammered."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(slots=True)
class _HostState:
    failures: int = 0
    opened: int = 0  # how many times in a row the breaker opened, for the growing pause
    paused_until: float = 0.0


class CircuitBreaker:
    """Counts consecutive retryable failures per host.

    After ``threshold`` of them the host is paused for ``cooldown`` seconds, doubling each
    time it fails again right after a pause, up to ``max_cooldown``. Any answer that shows
    the host is working (success, a permanent refusal, a conflict) closes it again.
    """

    def __init__(
        self,
        threshold: int = 5,
        cooldown: float = 30.0,
        max_cooldown: float = 600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if threshold < 1 or cooldown <= 0:
            raise ValueError("The breaker threshold and cooldown must be positive.")
        self.threshold = threshold
        self.cooldown = cooldown
        self.max_cooldown = max(max_cooldown, cooldown)
        self._clock = clock
        self._hosts: dict[str, _HostState] = {}

    def paused_until(self, host: str | None) -> float | None:
        """When the host may be tried again (Unix time), or None when it is not paused."""
        if host is None:
            return None
        state = self._hosts.get(host)
        if state is None or state.paused_until <= self._clock():
            return None
        return state.paused_until

    def record_success(self, host: str | None) -> None:
        if host is not None:
            self._hosts.pop(host, None)

    def record_failure(self, host: str | None) -> float | None:
        """Count a failure; returns the end of the pause when this one opened the breaker."""
        if host is None:
            return None
        state = self._hosts.setdefault(host, _HostState())
        state.failures += 1
        # After a pause, one more failure is enough to pause again (half-open).
        if state.failures < self.threshold and not state.opened:
            return None
        if state.paused_until > self._clock():
            return state.paused_until
        pause = min(self.max_cooldown, self.cooldown * 2**state.opened)
        state.opened += 1
        state.failures = 0
        state.paused_until = self._clock() + pause
        return state.paused_until

    def allow_trial(self) -> None:
        """End every pause now (the user asked to sync); one more failure pauses again."""
        for state in self._hosts.values():
            state.paused_until = 0.0

    def paused_hosts(self) -> dict[str, float]:
        now = self._clock()
        return {h: s.paused_until for h, s in self._hosts.items() if s.paused_until > now}

    def next_reopening(self) -> float | None:
        paused = self.paused_hosts()
        return min(paused.values()) if paused else None
