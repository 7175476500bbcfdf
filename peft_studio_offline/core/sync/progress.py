"""What a sync run reports: live events, its result, and the history of recent runs."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from peft_studio_offline.core.operation import iso, utc_now

SyncEventKind = Literal["started", "progress", "finished"]
SyncTrigger = Literal["manual", "auto"]


@dataclass(frozen=True, slots=True)
class SyncEvent:
    """One step of a run, for the window's progress bar and the API's event stream.

    ``total`` is every operation due when the run began (known from its first progress
    event on), less those held back, and more only if work falls due during the run;
    ``held`` counts operations held back because their host is paused after repeated
    failures. ``current_id`` is the operation that was just started or finished.
    ``result`` is set on ``finished``.
    """

    kind: SyncEventKind
    run_id: int
    trigger: SyncTrigger
    done: int = 0
    total: int = 0
    held: int = 0
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
    operations put back untouched (a paused host, a stop), of which ``held_back`` because
    their host was paused (``paused_hosts``). ``due`` is what was due when the run took its
    first batch.
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
    held_back: int = 0
    paused_hosts: set[str] = field(default_factory=set)
    due: int = 0
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
            "held_back": self.held_back,
            "paused_hosts": sorted(self.paused_hosts),
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


def outcome_phrases(result: Mapping[str, Any], count: Callable[[int], str] = str) -> list[str]:
    """What became of a run's operations besides those sent, in words, for every summary.

    Failed for good apart from what will be retried, and work that waits for a setting
    apart from both: "2 failed for good", "4 will be retried", "6 wait for a setting
    (sync.mlflow_tracking_uri)", "1 in conflict". ``count`` formats the numbers.
    """
    phrases: list[str] = []
    failed = int(result.get("failed", 0) or 0)
    for_good = int(result.get("failed_for_good", failed) or 0)
    retrying = int(result.get("retrying", failed - for_good) or 0)
    waiting = int(result.get("waiting", 0) or 0)
    conflicts = int(result.get("conflicts", 0) or 0)
    if for_good:
        phrases.append(f"{count(for_good)} failed for good")
    if retrying:
        phrases.append(f"{count(retrying)} will be retried")
    if waiting:
        settings = ", ".join(result.get("waiting_for") or ())
        verb = "waits" if waiting == 1 else "wait"
        phrases.append(
            f"{count(waiting)} {verb} for a setting ({settings})"
            if settings
            else f"{count(waiting)} {verb} for a setting"
        )
    if conflicts:
        phrases.append(f"{count(conflicts)} in conflict")
    return phrases


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """Operations of a run that failed with the same sentence."""

    error: str
    ids: tuple[int, ...]


def group_errors(errors: Iterable[Mapping[str, Any]]) -> list[ErrorGroup]:
    """A run's ``errors`` grouped by sentence, the most frequent first (then first seen):
    a thousand "connection refused" read as one line."""
    groups: dict[str, list[int]] = {}
    for entry in errors:
        groups.setdefault(str(entry.get("error", "")), []).append(int(entry.get("id", 0)))
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))  # stable: first seen
    return [ErrorGroup(error, tuple(ids)) for error, ids in ordered]


def describe_ids(ids: Sequence[int], shown: int = 3) -> str:
    """``#1, #2, #3 and 97 more``."""
    head = ", ".join(f"#{i}" for i in ids[:shown])
    rest = len(ids) - shown
    return f"{head} and {rest} more" if rest > 0 else head
