"""Line-based three-way merge of two edits of one text (a run's note).

Changes to different lines merge; changes that overlap, or two insertions at the same place,
do not, and the caller keeps the conflict for the user.
"""

from __future__ import annotations

from difflib import SequenceMatcher
from typing import NamedTuple


class _Hunk(NamedTuple):
    start: int  # lines [start, end) of the base are replaced
    end: int
    lines: tuple[str, ...]


def merge_text(base: str | None, local: str | None, remote: str | None) -> str | None:
    """The merged text, or None when the two edits collide (or a side deleted the text)."""
    if base is None or local is None or remote is None:
        return None
    old = base.splitlines(keepends=True)
    ours = _hunks(old, local.splitlines(keepends=True))
    theirs = _hunks(old, remote.splitlines(keepends=True))
    for a in ours:
        for b in theirs:
            if a == b:
                continue
            if _collide(a, b):
                return None
    chosen = sorted(set(ours) | set(theirs), key=lambda h: (h.start, h.end))
    out: list[str] = []
    at = 0
    for hunk in chosen:
        out.extend(old[at : hunk.start])
        out.extend(hunk.lines)
        at = max(at, hunk.end)
    out.extend(old[at:])
    return "".join(out)


def _hunks(old: list[str], new: list[str]) -> list[_Hunk]:
    matcher = SequenceMatcher(None, old, new, autojunk=False)
    return [
        _Hunk(i1, i2, tuple(new[j1:j2]))
        for tag, i1, i2, j1, j2 in matcher.get_opcodes()
        if tag != "equal"
    ]


def _collide(a: _Hunk, b: _Hunk) -> bool:
    if a.start < b.end and b.start < a.end:
        return True  # both rewrite some of the same lines
    # An insertion next to or inside the other change: the order of the two is unknown.
    if a.start == a.end and b.start <= a.start <= b.end:
        return True
    return b.start == b.end and a.start <= b.start <= a.end
