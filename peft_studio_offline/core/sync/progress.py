"""What a sync run reports: live events, its result, and the history of recent runs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from peft_studio_offline.core.operation import iso, utc_now

SyncEventKind = Literal["started", "progress", "finished"]
SyncTrigger = Literal["manual", "auto"]


@dataclass(frozen=True, slots=True)
class SyncEvent:
    """One step of a run, for the window's progress bar and the API's event stream.

    ``total`` grows as the run claims more batches; ``current_id`` is the operation that
    was just started or finished. ``result`` is set on ``finished``.
    """

    kind: SyncEventKind
    run_id: int
    trigger: SyncTrigger
    done: int = 0
    total: int = 0
    current_id: int | None = None
    current_type: str | None = None
    result: dict[str, Any] | None = None


@dataclass(slots=True)
class RunTally:
    """Counts of one run while it goes; each operation ends in exactly one bucket.

    ``completed``, ``failed`` (the attempt failed), ``conflicts`` (parked for the user) and
    ``waiting`` (nothing sent: a setting it needs is not configured yet, named in
    ``waiting_for``) add up to ``total``. ``failed`` splits into ``failed_for_good`` and
    ``retrying`` (pending again, tried later). ``conflicts_resolved`` counts conflicts that
    the strategy settled (already in ``completed`` or ``failed``); ``released`` counts
    operations put back untouched (a paused host, a stop).
    """

    run_id: int
    trigger: SyncTrigger
    started_at: datetime = field(default_factory=utc_now)
    finished_at: datetime | None = None
    claimed: int = 0
    completed: int = 0
    failed: int = 0
    failed_for_good: int = 0
    retrying: int = 0
    waiting: int = 0
    waiting_for: set[str] = field(default_factory=set)
    conflicts: int = 0
    conflicts_resolved: int = 0
    released: int = 0
    stopped: bool = False
    errors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.completed + self.failed + self.conflicts + self.waiting

    def result(self) -> dict[str, Any]:
        """The dict ``SyncEngine.sync()`` returns."""
        finished = self.finished_at
        return {
            "total": self.total,
            "completed": self.completed,
            "failed": self.failed,
            "failed_for_good": self.failed_for_good,
            "retrying": self.retrying,
            "waiting": self.waiting,
            "waiting_for": sorted(self.waiting_for),
            "conflicts": self.conflicts,
            "errors": list(self.errors),
            "conflicts_resolved": self.conflicts_resolved,
            "released": self.released,
            "stopped": self.stopped,
            "run_id": self.run_id,
            "trigger": self.trigger,
            "started_at": iso(self.started_at),
            "finished_at": iso(finished),
            "duration": None
            if finished is None
            else round((finished - self.started_at).total_seconds(), 3),
        }

    def summary(self) -> dict[str, Any]:
        """A history entry: the result without the error list."""
        entry = self.result()
        entry["errors"] = len(self.errors)
        return entry


def outcome_phrases(result: Mapping[str, Any]) -> list[str]:
    """What became of a run's operations besides those sent, in words, for every summary.

    Failed for good apart from what will be retried, and work that waits for a setting
    apart from both: "2 failed for good", "4 will be retried", "6 wait for a setting
    (sync.mlflow_tracking_uri)", "1 in conflict".
    """
    phrases: list[str] = []
    failed = int(result.get("failed", 0) or 0)
    for_good = int(result.get("failed_for_good", failed) or 0)
    retrying = int(result.get("retrying", failed - for_good) or 0)
    waiting = int(result.get("waiting", 0) or 0)
    conflicts = int(result.get("conflicts", 0) or 0)
    if for_good:
        phrases.append(f"{for_good} failed for good")
    if retrying:
        phrases.append(f"{retrying} will be retried")
    if waiting:
        settings = ", ".join(result.get("waiting_for") or ())
        verb = "waits" if waiting == 1 else "wait"
        phrases.append(
            f"{waiting} {verb} for a setting ({settings})"
            if settings
            else f"{waiting} {verb} for a setting"
        )
    if conflicts:
        phrases.append(f"{conflicts} in conflict")
    return phrases
