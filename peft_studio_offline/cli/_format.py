"""Human-readable output: tables, key/value blocks and a progress bar."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, TextIO

from wcwidth import wcswidth, wcwidth


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], last_flexible: bool = True) -> str:
    """Columns padded to their widest cell; the last one cut to fit the terminal.

    Widths are terminal columns, not characters: a CJK character or an emoji takes two.
    """
    rows = [[_one_line(cell) for cell in row] for row in rows]
    widths = column_widths(headers, rows, last_flexible)
    return "\n".join([row_line(headers, widths), *(row_line(row, widths) for row in rows)])


def column_widths(
    headers: Sequence[str], rows: Sequence[Sequence[str]], last_flexible: bool = True
) -> list[int]:
    """The width of each column for ``rows`` (the last one as the terminal has room)."""
    widths = [display_width(h) for h in headers]
    for row in rows:
        for index, cell in enumerate(row):
            widths[index] = max(widths[index], display_width(_one_line(cell)))
    if last_flexible and headers:
        widths[-1] = max(display_width(headers[-1]), min(widths[-1], room_for_last(widths)))
    return widths


def room_for_last(widths: Sequence[int]) -> int:
    """The terminal columns left for the last column after the others."""
    return shutil.get_terminal_size((120, 24)).columns - sum(w + 2 for w in widths[:-1])


def row_line(row: Sequence[str], widths: Sequence[int]) -> str:
    """One line of a table: each cell padded to its column, the last one cut to its width
    (a wider cell in another column pushes the rest along rather than lose its text)."""
    cells = [_one_line(cell) for cell in row]
    cells[-1] = _cut(cells[-1], widths[-1])
    return "  ".join(_pad(c, w) for c, w in zip(cells, widths, strict=True)).rstrip()


def display_width(text: str) -> int:
    """Columns the text takes on a terminal (a control character counts as one)."""
    width = wcswidth(text)
    return width if width >= 0 else sum(max(wcwidth(char), 1) for char in text)


def _pad(text: str, width: int) -> str:
    return text + " " * max(0, width - display_width(text))


def key_values(pairs: Sequence[tuple[str, Any]]) -> str:
    width = max((len(k) for k, _ in pairs), default=0)
    return "\n".join(f"{k + ':':<{width + 1}} {_text(v)}" for k, v in pairs)


def when(value: str | None) -> str:
    """An ISO timestamp in local time, to the second."""
    if not value:
        return "-"
    try:
        return datetime.fromisoformat(value).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return value


def bounded(value: Any, limit: int) -> str:
    """``value`` as JSON on one line, cut to ``limit`` characters (already masked)."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit] + "…"


def size(count: int) -> str:
    """``812 bytes``, ``4.0 KB``, ``10.5 MB``."""
    if count < 1000:
        return f"{count} bytes"
    for unit, factor in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= factor:
            return f"{count / factor:.1f} {unit}"
    return f"{count} bytes"  # pragma: no cover


def _text(value: Any) -> str:
    if value is None or value == "":
        return "-"
    if isinstance(value, Mapping | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def _one_line(cell: str) -> str:
    return cell.replace("\r", " ").replace("\n", " ").replace("\t", " ")


def _cut(cell: str, width: int) -> str:
    """The cell cut to ``width`` columns, ending in "…" when something was cut."""
    if display_width(cell) <= width:
        return cell
    kept: list[str] = []
    used = 0
    for char in cell:
        char_width = max(wcwidth(char), 0)
        if used + char_width > width - 1:
            break
        kept.append(char)
        used += char_width
    return "".join(kept) + "…"


class ProgressBar:
    """``[#####.....] 5/10`` redrawn in place on a terminal; silent elsewhere.

    Redrawn at most ``per_second`` times a second (a sync reports every operation: drawing
    each of 10,000 updates costs more than the terminal can show); ``close`` draws the last
    figures. While the total is not known (0) the bar stays empty rather than full.
    """

    def __init__(
        self,
        stream: TextIO | None = None,
        *,
        per_second: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self._interval = 1.0 / per_second
        self._clock = clock
        self._drawn = False
        self._last_draw: float | None = None
        self._latest: tuple[int, int, str] | None = None  # not drawn yet
        self.draws = 0

    def update(self, done: int, total: int, label: str = "") -> None:
        if not self.enabled:
            return
        self._latest = (done, total, label)
        now = self._clock()
        if self._last_draw is None or now - self._last_draw >= self._interval:
            self._last_draw = now
            self._draw()

    def _draw(self) -> None:
        if self._latest is None:
            return
        done, total, label = self._latest
        self._latest = None
        width = 30
        filled = 0 if total <= 0 else min(width, done * width // total)
        bar = "#" * filled + "." * (width - filled)
        figures = f"{done}/{total}" if total > 0 else f"{done}/?"
        self.stream.write(f"\r[{bar}] {figures} {label}"[:200].ljust(60))
        self.stream.flush()
        self._drawn = True
        self.draws += 1

    def close(self) -> None:
        if self.enabled:
            self._draw()
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def count(n: int, noun: str, plural: str | None = None) -> str:
    """``1 operation``, ``2 operations``: the command line stays in English."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {plural or noun + 's'}"


def were(n: int) -> str:
    """``1 was``, ``2 were``."""
    return f"{n:,} was" if n == 1 else f"{n:,} were"
