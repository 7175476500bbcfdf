"""Characters that reorder the text after them, shown as escapes where text is read by people.

A payload may carry a right-to-left override (U+202E) or an isolate: printed as it is, it
makes the rest of a table row or a terminal line read backwards, so that what is shown is
not what is queued. The window's descriptions and everything the command line prints show
each such character as its JSON escape (``\\u202e``) instead: visible to a person, and still
the same data in JSON output, where these characters only occur inside strings.
"""

from __future__ import annotations

import re

_CONTROLS = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def escape_direction_controls(text: str) -> str:
    """``text`` with every direction control as its ``\\uXXXX`` escape."""
    if not _CONTROLS.search(text):
        return text
    return _CONTROLS.sub(lambda match: f"\\u{ord(match.group()):04x}", text)
