"""Bounded previews of stored payloads: the first part of one, masked, read without the rest.

A payload can be tens of megabytes. Decoding it whole holds the interpreter for as long as
the C decoder runs (~0.3 s for 12 MB of metric points), and pretty-printing it takes
seconds, so nothing that shows a payload may depend on its size. ``read_prefix`` reads JSON
text up to a budget and returns what it read as Python values; ``mask_secrets`` (the one
masking rule) runs on those values before anything is shown.

What was not read is marked with ``CUT``: a container with more items ends with it, a long
string ends with it. Text that is itself only the start of a payload (``complete=False``)
may end in the middle of a value: a string, number or literal that reaches the end is left
out, never shown half (half a URL could show half a password the mask did not recognise).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

import orjson

from peft_studio_offline.core.masking import mask_secrets

CUT = "…"
# What the window shows at once, and what a list item carries.
WINDOW_PREVIEW_CHARS = 64 * 1024
LIST_PREVIEW_CHARS = 1024

_WHITESPACE = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}
_AFTER_NUMBER = frozenset(",]} \t\n\r")


@dataclass(frozen=True, slots=True)
class PayloadPreview:
    """The start of a payload as text, secrets masked."""

    text: str
    truncated: bool  # part of the payload is not in ``text``
    size: int  # bytes of the whole payload's JSON text


def preview(
    text: str,
    limit: int,
    *,
    size: int | None = None,
    complete: bool = True,
    indent: int | None = 2,
) -> PayloadPreview:
    """At most about ``limit`` characters showing the start of the JSON ``text``, masked.

    ``complete=False`` says that ``text`` is only the start of the payload (``size`` then
    gives the whole size). ``indent=None`` makes one line. The work is bounded by ``limit``
    and the one string the budget ends in.
    """
    total = len(text.encode("utf-8")) if size is None else size
    value, cut = read_prefix(text, limit, complete=complete)
    shown, clipped = _clip(mask_secrets(value), limit)
    if indent is None:
        out = json.dumps(shown, ensure_ascii=False, separators=(", ", ": "), default=str)
    else:
        out = json.dumps(shown, ensure_ascii=False, indent=indent, default=str)
    truncated = cut or clipped
    if len(out) > limit:
        out = out[:limit] + ("\n" if indent is not None else "") + CUT
        truncated = True
    return PayloadPreview(out, truncated, total)


def format_whole(text: str, *, line_limit: int = 4096) -> str:
    """The whole payload, masked and indented, with no line longer than ``line_limit``."""
    return "\n".join(whole_pieces(text, line_limit=line_limit))


def whole_pieces(text: str, *, line_limit: int = 4096, lines_per_piece: int = 2000) -> list[str]:
    """The whole payload, masked and indented, in pieces of ``lines_per_piece`` lines.

    Pure Python on purpose, step by small step: the caller runs it on a worker thread, and
    unlike the C decoder (or one ``split`` of 20 MB) it lets the GUI thread run between
    its steps. Lines longer than ``line_limit`` (one long string) are broken, because a
    text view lays out a line of megabytes very slowly.
    """
    value, _ = read_prefix(text, None)
    encoder = json.JSONEncoder(indent=2, ensure_ascii=False, default=str)
    pieces: list[str] = []
    lines: list[str] = []
    carry = ""  # the start of a line not finished yet
    for chunk in encoder.iterencode(mask_secrets(value)):
        if "\n" not in chunk:
            carry += chunk
            continue
        first, *rest = chunk.split("\n")
        done = [carry + first, *rest[:-1]]
        carry = rest[-1]
        for line in done:
            if len(line) > line_limit:
                lines.extend(line[i : i + line_limit] for i in range(0, len(line), line_limit))
            else:
                lines.append(line)
        if len(lines) >= lines_per_piece:
            pieces.append("\n".join(lines))
            lines = []
    for line in broken_lines(carry, line_limit):
        lines.append(line)
    pieces.append("\n".join(lines))
    return pieces


def broken_lines(text: str, width: int) -> list[str]:
    """The lines of ``text``, those longer than ``width`` broken into pieces."""
    lines: list[str] = []
    for line in text.split("\n"):
        if len(line) <= width:
            lines.append(line)
        else:
            lines.extend(line[i : i + width] for i in range(0, len(line), width))
    return lines


def _clip(value: Any, limit: int) -> tuple[Any, bool]:
    """``value`` with strings longer than ``limit`` cut (after masking, so nothing leaks)."""
    clipped = False

    def walk(item: Any) -> Any:
        nonlocal clipped
        if isinstance(item, str):
            if len(item) > limit:
                clipped = True
                return item[:limit] + CUT
            return item
        if isinstance(item, dict):
            return {key: walk(child) for key, child in item.items()}
        if isinstance(item, list):
            return [walk(child) for child in item]
        return item

    return walk(value), clipped


# Texts up to this many characters are parsed by orjson (well under a millisecond).
FAST_PARSE_LIMIT = 64 * 1024


class _Frame:
    __slots__ = ("container", "key")

    def __init__(self, container: dict[str, Any] | list[Any]) -> None:
        self.container = container
        self.key: str | None = None


def read_prefix(text: str, budget: int | None, *, complete: bool = True) -> tuple[Any, bool]:
    """The JSON value at the start of ``text``, read until ``budget`` characters are used.

    Returns (value, cut): ``cut`` is true when something was left unread, and every
    container left open ends with ``CUT``. A string is always read whole (or, in text that
    is not ``complete``, left out when it runs past the end). ``ValueError`` for text that
    is not JSON.
    """
    end = len(text)
    if complete and end <= min(FAST_PARSE_LIMIT, end if budget is None else budget):
        # Small enough for the C decoder to hold the interpreter only briefly: ten times
        # quicker, and what a request's answer pays for its preview. Anything it will not
        # take (NaN, a huge integer, a damaged text) is read below, as it always was.
        try:
            return orjson.loads(text), False
        except orjson.JSONDecodeError:
            pass
    stack: list[_Frame] = []
    root: Any = None
    have_root = False
    pos = 0
    # States: "value", "first" (a value or "]"), "key", "first_key" (a key or "}"), "after".
    state = "value"

    def attach(value: Any) -> None:
        nonlocal root, have_root
        if not stack:
            root, have_root = value, True
            return
        frame = stack[-1]
        if isinstance(frame.container, list):
            frame.container.append(value)
        else:
            assert frame.key is not None
            frame.container[frame.key] = value
            frame.key = None

    def cut_here() -> tuple[Any, bool]:
        for frame in stack:
            if isinstance(frame.container, list):
                frame.container.append(CUT)
            else:
                frame.container[CUT] = CUT
        return (root if have_root else CUT), True

    while True:
        pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
        if state == "after":
            if not stack:
                return root, False
            if pos >= end:
                return cut_here()
            char = text[pos]
            frame = stack[-1]
            closing = "]" if isinstance(frame.container, list) else "}"
            if char == closing:
                stack.pop()
                pos += 1
                continue
            if char != ",":
                raise ValueError(f"expected ',' or '{closing}' at character {pos}")
            pos += 1
            state = "value" if isinstance(frame.container, list) else "key"
            continue
        if pos >= end or (budget is not None and pos >= budget):
            return cut_here()
        char = text[pos]
        if state in ("key", "first_key"):
            if char == "}" and state == "first_key":
                stack.pop()
                pos += 1
                state = "after"
                continue
            if char != '"':
                raise ValueError(f"expected a key at character {pos}")
            try:
                key, pos = scanstring(text, pos + 1, True)
            except ValueError:
                if complete:
                    raise
                return cut_here()
            pos = _WHITESPACE.match(text, pos).end()  # type: ignore[union-attr]
            if pos >= end:
                return cut_here()
            if text[pos] != ":":
                raise ValueError(f"expected ':' at character {pos}")
            pos += 1
            stack[-1].key = key
            state = "value"
            continue
        # state is "value" or "first"
        if char == "]" and state == "first":
            stack.pop()
            pos += 1
            state = "after"
            continue
        if char == "{" or char == "[":
            container: dict[str, Any] | list[Any] = {} if char == "{" else []
            attach(container)
            stack.append(_Frame(container))
            pos += 1
            state = "first_key" if char == "{" else "first"
            continue
        if char == '"':
            try:
                string, pos = scanstring(text, pos + 1, True)
            except ValueError:
                if complete:
                    raise
                return cut_here()
            attach(string)
            state = "after"
            continue
        number = _NUMBER.match(text, pos)
        if number and number.end() > pos:
            if not complete and (number.end() >= end or text[number.end()] not in _AFTER_NUMBER):
                return cut_here()  # "1." or "-1e": the rest of the number was not read
            literal = number.group()
            attach(float(literal) if number.group(1) or number.group(2) else int(literal))
            pos = number.end()
            state = "after"
            continue
        for word, value in _LITERALS.items():
            if text.startswith(word, pos):
                attach(value)
                pos += len(word)
                break
        else:
            if not complete and (word_prefix(text[pos:]) or text[pos:] == "-"):
                return cut_here()
            raise ValueError(f"unexpected character {char!r} at character {pos}")
        state = "after"


def word_prefix(rest: str) -> bool:
    """``rest`` is the start of a literal cut short (``tr``, ``nul``)."""
    return bool(rest) and any(word.startswith(rest) for word in _LITERALS)
