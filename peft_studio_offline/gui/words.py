"""Sentences about a sync run's outcome in the user's language (the window's counterpart of
``core.sync.progress.outcome_phrases``, whose English the command line prints)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from peft_studio_offline.gui.i18n import translate


def outcome_phrases(result: Mapping[str, Any]) -> list[str]:
    """What became of a run's operations besides those sent: "2 failed for good", "4 will be
    retried", "6 wait for a setting (sync.mlflow_tracking_uri)", "1 in conflict"."""
    phrases: list[str] = []
    failed = int(result.get("failed", 0) or 0)
    for_good = int(result.get("failed_for_good", failed) or 0)
    retrying = int(result.get("retrying", failed - for_good) or 0)
    waiting = int(result.get("waiting", 0) or 0)
    conflicts = int(result.get("conflicts", 0) or 0)
    if for_good:
        phrases.append(translate("Outcome", "%Ln failed for good", None, for_good))
    if retrying:
        phrases.append(translate("Outcome", "%Ln will be retried", None, retrying))
    if waiting:
        settings = ", ".join(result.get("waiting_for") or ())
        phrases.append(
            translate("Outcome", "%Ln wait(s) for a setting ({settings})", None, waiting).format(
                settings=settings
            )
            if settings
            else translate("Outcome", "%Ln wait(s) for a setting", None, waiting)
        )
    if conflicts:
        phrases.append(translate("Outcome", "%Ln in conflict", None, conflicts))
    return phrases


def describe_ids(ids: Sequence[int], shown: int = 3) -> str:
    """``#1, #2, #3 and 97 more``."""
    head = ", ".join(f"#{i}" for i in ids[:shown])
    rest = len(ids) - shown
    if rest <= 0:
        return head
    return translate("Outcome", "{ids} and %Ln more", None, rest).format(ids=head)
