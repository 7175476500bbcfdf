"""One endpoint within one check: up to ``failure_threshold`` probes, all within ``timeout``.

One lost probe (a dropped request, a connection reset while a server restarts) must not
make a healthy endpoint look down, and yet the whole check must end within ``timeout`` so
that an outage is reported within ``timeout + check_interval``. So the doubt is settled
inside the check: the endpoint is probed up to ``failure_threshold`` times (``attempts``
here) before one deadline, ``timeout`` after the check began, and it is healthy as soon as
any probe is; it counts as down only when every one of them failed.

How the one budget is shared, and why:

- The first probe may use all of it, so a slow but healthy service (one answering after
  0.8 x ``timeout``) is still healthy: a retry must not cost the first probe its time.
- A probe that fails (refused, reset, a wrong answer) is retried at once, with whatever is
  left of the budget. A refused connection fails within a millisecond, so its retry is
  nearly free and an outage of that kind is known almost at once.
- A probe that has had no answer after its share, ``timeout / attempts``, is not given up:
  the next probe starts next to it, and whichever answers first counts. A hanging server
  thus gets ``attempts`` connections ``timeout / attempts`` apart, and the endpoint counts
  as down at the deadline, never later.
"""

from __future__ import annotations

import asyncio
import dataclasses

import httpx

from peft_studio_offline.core.endpoints import Endpoint
from peft_studio_offline.core.network._probe import ProbeOutcome, ProbeResult, probe

# Less time than this left before the deadline: a new probe could not get an answer.
_MIN_PROBE_TIME = 0.001


async def check_endpoint(
    client: httpx.AsyncClient,
    endpoint: Endpoint,
    time_limit: float,
    attempts: int,
) -> ProbeResult:
    """The verdict on ``endpoint`` from up to ``attempts`` probes, within ``time_limit`` s.

    ``time_limit`` is the monitor's ``timeout``: the whole check's budget.

    Healthy when any probe is. Otherwise the most telling failure: an interception (a
    captive portal answered) before a plain failure, else the first probe's, which had the
    whole budget. ``ProbeResult.attempts`` says how many probes were started.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + time_limit
    share = time_limit / attempts
    running: dict[asyncio.Task[ProbeResult], int] = {}  # probe -> its place in the order
    failed: list[tuple[int, ProbeResult]] = []
    started = 0
    next_start = loop.time()
    try:
        while True:
            now = loop.time()
            left = deadline - now
            if (
                started < attempts
                and (not running or now >= next_start)
                and (started == 0 or left > _MIN_PROBE_TIME)
            ):
                # The first probe's limit is the timeout itself: its error then says so.
                limit = time_limit if started == 0 else left
                task = loop.create_task(probe(client, endpoint, limit))
                running[task] = started
                started += 1
                next_start = now + share
                continue
            if not running:
                break  # every probe started has failed, and no more may start
            more_to_start = started < attempts and left > _MIN_PROBE_TIME
            done, _ = await asyncio.wait(
                running,
                timeout=max(next_start - now, 0.0) if more_to_start else None,
                return_when=asyncio.FIRST_COMPLETED,
            )
            for task in done:
                place = running.pop(task)
                result = task.result()
                if result.ok:
                    return dataclasses.replace(result, attempts=started)
                failed.append((place, result))
    finally:
        for task in running:
            task.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)
    return dataclasses.replace(_most_telling(failed), attempts=started)


def _most_telling(failed: list[tuple[int, ProbeResult]]) -> ProbeResult:
    def rank(item: tuple[int, ProbeResult]) -> tuple[bool, int]:
        place, result = item
        return (result.outcome is not ProbeOutcome.INTERCEPTED, place)

    return min(failed, key=rank)[1]
