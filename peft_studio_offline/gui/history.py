"""A few hours of queue counts and sync throughput, kept in memory for the details chart.

Samples come from the events the window already receives (counts after a change, the result
of each sync); nothing is read just to draw the chart. Counts are bucketed so that a busy
hour costs at most one sample per ``bucket_seconds``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CountSample:
    at: float
    pending: int
    failed: int


@dataclass(frozen=True, slots=True)
class SyncSample:
    at: float
    completed: int
    failed: int
    seconds: float


class StatsHistory:
    def __init__(
        self,
        span_seconds: float = 6 * 3600,
        bucket_seconds: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.span_seconds = span_seconds
        self.bucket_seconds = bucket_seconds
        self._clock = clock
        self.counts: deque[CountSample] = deque()
        self.syncs: deque[SyncSample] = deque()

    def add_counts(self, pending: int, failed: int) -> None:
        now = self._clock()
        sample = CountSample(now, pending, failed)
        # Within one bucket the latest count replaces the previous one.
        if len(self.counts) >= 2 and now - self.counts[-2].at < self.bucket_seconds:
            self.counts[-1] = sample
        else:
            self.counts.append(sample)
        self._trim(now)

    def add_sync(self, completed: int, failed: int, seconds: float = 0.0) -> None:
        now = self._clock()
        self.syncs.append(SyncSample(now, completed, failed, seconds))
        self._trim(now)

    def throughput_buckets(self, buckets: int) -> list[int]:
        """Operations completed per bucket over the span, oldest first."""
        now = self._clock()
        width = self.span_seconds / buckets
        out = [0] * buckets
        for sample in self.syncs:
            age = now - sample.at
            if 0 <= age < self.span_seconds:
                out[buckets - 1 - int(age // width)] += sample.completed
        return out

    def _trim(self, now: float) -> None:
        horizon = now - self.span_seconds
        while self.counts and self.counts[0].at < horizon:
            self.counts.popleft()
        while self.syncs and self.syncs[0].at < horizon:
            self.syncs.popleft()
