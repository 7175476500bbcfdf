"""Why a pending operation has not gone yet, in the few words a table cell holds.

The same reasons as ``OfflineQueueManager.wait_reason`` (which the inspect view and the
command line show as sentences), in their order: a dependency not done, a setting that is
missing, then what the app knows of the moment: offline, the target host paused after
repeated failures, a backoff. Only an operation with none of these is "Due now".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.operation import OperationSummary

DUE_NOW = "Due now"
WHEN_ONLINE = "when online"
NEEDS_SETTING = "needs a setting"
# The sentence for an operation the settings name no place for (the table's "needs a
# setting" when nothing was tried yet).
NO_TARGET_REASON = (
    "Needs a setting: nothing names where it goes yet (File → Settings: the API base URL"
    " for a relative endpoint, the MLflow tracking URI for MLflow work)."
)


@dataclass(frozen=True, slots=True)
class RowWait:
    """What the queue knows of one operation beyond its summary."""

    blocked_by: int | None = None  # the first dependency not completed
    waiting_for: str | None = None  # the setting it waits for


@dataclass(frozen=True, slots=True)
class Moment:
    """What the app knows now: ``online`` None when not known; paused hosts (host:port, as
    the descriptions name them) with the Unix time their pause ends."""

    online: bool | None = None
    paused_hosts: Mapping[str, float] = field(default_factory=dict)


def _clock_time(moment: datetime) -> str:
    return f"{moment.astimezone():%H:%M:%S}"


def next_attempt_words(
    summary: OperationSummary,
    *,
    host: str = "",
    row: RowWait | None = None,
    moment: Moment | None = None,
    now: datetime | None = None,
    time_text: Callable[[datetime], str] = _clock_time,
    target_known: bool = True,
) -> str:
    """ "Due now", "after #12", "needs a setting", "when online", "host paused until
    14:05", the time of a retry, or "" for an operation that does not wait.

    ``target_known`` False: the settings name no place to send it (no MLflow tracking URI,
    a relative endpoint without an API base URL): it needs a setting before any sync."""
    if summary.status is not OperationStatus.PENDING or summary.problem:
        return ""
    row = row or RowWait()
    moment = moment or Moment()
    if row.blocked_by is not None:
        return f"after #{row.blocked_by}"
    if row.waiting_for or not target_known:
        return NEEDS_SETTING
    if moment.online is False:
        return WHEN_ONLINE
    now = now or datetime.now(UTC)
    until = host_paused_until(moment, host, now)
    if until is not None:
        return f"host paused until {until.astimezone():%H:%M}"
    due = summary.next_attempt_at
    if due is not None and due > now:
        return time_text(due)
    return DUE_NOW


def host_paused_until(moment: Moment, host: str, now: datetime) -> datetime | None:
    """When the pause of ``host`` ends, if it is paused now."""
    paused_until = moment.paused_hosts.get(host) if host else None
    if paused_until is None or paused_until <= now.timestamp():
        return None
    return datetime.fromtimestamp(paused_until, UTC)


def moment_reason(moment: Moment, host: str, now: datetime | None = None) -> str | None:
    """The sentence for what the moment holds up (offline, a paused host), or None."""
    if moment.online is False:
        return "Offline: it is sent when the network is back."
    until = host_paused_until(moment, host, now or datetime.now(UTC))
    if until is not None:
        return f"The host {host} is paused after repeated failures, until {_clock_time(until)}."
    return None
