"""Three-way merge of JSON values: the ``MERGE`` conflict strategy.

Objects are merged field by field (recursively); any other value is taken from the side that
changed it. A field changed differently on both sides is a conflict, reported by its path;
the caller then falls back to manual resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final


class _Missing:
    """A field that is absent on one side (deleted there, or never present)."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()


@dataclass(frozen=True, slots=True)
class MergeResult:
    merged: Any
    conflicts: tuple[str, ...]  # paths like "/params/lr" changed differently on both sides

    @property
    def clean(self) -> bool:
        return not self.conflicts


def three_way_merge(base: Any, local: Any, remote: Any) -> MergeResult:
    """Merge ``local`` and ``remote``, both derived from ``base``."""
    conflicts: list[str] = []
    merged = _merge(base, local, remote, "", conflicts)
    return MergeResult(None if merged is MISSING else merged, tuple(conflicts))


def _merge(base: Any, local: Any, remote: Any, path: str, conflicts: list[str]) -> Any:
    if _same(local, remote):
        return local
    if _same(base, local):
        return remote
    if _same(base, remote):
        return local
    if isinstance(local, dict) and isinstance(remote, dict):
        old = base if isinstance(base, dict) else {}
        out: dict[str, Any] = {}
        for key in [*local, *(k for k in remote if k not in local)]:
            value = _merge(
                old.get(key, MISSING),
                local.get(key, MISSING),
                remote.get(key, MISSING),
                f"{path}/{_escape(key)}",
                conflicts,
            )
            if value is not MISSING:
                out[key] = value
        return out
    conflicts.append(path or "/")
    return local


def _same(a: Any, b: Any) -> bool:
    # JSON has no 1 == True: keep booleans distinct from numbers.
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if _number(a) and _number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _escape(key: str) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")
