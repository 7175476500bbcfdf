"""When the status changes and when to look again: pure rules, no I/O.

Hysteresis: a healthy answer is proof, so any check that finds one makes the status online
at once. A failed check is weaker evidence (one lost packet, a server restarting), so a
steady online status only leaves after ``failure_threshold`` failed checks in a row. From
unknown, and between the not-online statuses, the first check decides.

Timing: ``check_interval`` while checks succeed. After a failed check the next comes sooner,
after ``backoff_initial`` seconds doubling with each further failure up to the interval:
a suspected outage is confirmed within seconds, and a return is noticed within seconds
rather than a whole interval later.

So an outage of a steady online status is reported within ``check_interval +
failure_threshold * timeout + backoff_initial * (2 ** (failure_threshold - 1) - 1)``
seconds; with ``failure_threshold=1``, within ``check_interval + timeout``.
"""

from __future__ import annotations

from peft_studio_offline.core.enums import NetworkStatus

_MAX_DOUBLINGS = 30  # far past any interval; keeps 2 ** n small


def apply_check(
    current: NetworkStatus, failures: int, observed: NetworkStatus, threshold: int
) -> tuple[NetworkStatus, int]:
    """The status and the count of consecutive failed checks after one check.

    ``observed`` is what the check alone supports; ``UNKNOWN`` (nothing probed) teaches
    nothing and changes nothing.
    """
    if observed is NetworkStatus.UNKNOWN:
        return current, failures
    if observed is NetworkStatus.ONLINE:
        return NetworkStatus.ONLINE, 0
    failures += 1
    if current is NetworkStatus.ONLINE and failures < threshold:
        return current, failures  # one lost probe does not flip a steady status
    return observed, failures


def next_delay(failures: int, check_interval: float, backoff_initial: float) -> float:
    """Seconds until the next check, given the consecutive failed checks so far."""
    if failures <= 0:
        return check_interval
    doublings = min(failures - 1, _MAX_DOUBLINGS)
    return min(check_interval, backoff_initial * 2.0**doublings)
