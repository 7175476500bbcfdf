"""When the status changes and when to look again: pure rules, no I/O.

Hysteresis lives inside one check (``_attempts``): an endpoint counts as down only after
``failure_threshold`` probes of it failed, all within the check's ``timeout``, so one lost
probe never makes a check fail. A check's verdict is therefore taken at once: a healthy
answer makes the status online, and a failed check makes a steady online status offline
(or limited) without waiting for another check.

Timing: ``check_interval`` while checks succeed. After a failed check the next comes sooner,
after ``backoff_initial`` seconds doubling with each further failure up to the interval, so
that a return is noticed within seconds rather than a whole interval later.

So an outage of a steady online status is reported within ``check_interval + timeout``: the
next check starts at most ``check_interval`` after the last good one, and ends within
``timeout``, whatever its retries.
"""

from __future__ import annotations

from peft_studio_offline.core.enums import NetworkStatus

_MAX_DOUBLINGS = 30  # far past any interval; keeps 2 ** n small


def apply_check(
    current: NetworkStatus, failures: int, observed: NetworkStatus
) -> tuple[NetworkStatus, int]:
    """The status and the count of consecutive failed checks after one check.

    ``observed`` is what the check supports, its doubts already settled by its retries;
    ``UNKNOWN`` (nothing probed) teaches nothing and changes nothing.
    """
    if observed is NetworkStatus.UNKNOWN:
        return current, failures
    if observed is NetworkStatus.ONLINE:
        return NetworkStatus.ONLINE, 0
    return observed, failures + 1


def next_delay(failures: int, check_interval: float, backoff_initial: float) -> float:
    """Seconds until the next check, given the consecutive failed checks so far."""
    if failures <= 0:
        return check_interval
    doublings = min(failures - 1, _MAX_DOUBLINGS)
    return min(check_interval, backoff_initial * 2.0**doublings)
