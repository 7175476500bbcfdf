"""What HTTP allows in a header: checked when an operation is queued and again when sent."""

from __future__ import annotations

import re

_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_ILLEGAL_IN_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_problem(name: str, value: str) -> str | None:
    """What HTTP refuses in one header, as a sentence (None: it may be sent). Said by name:
    the HTTP library's own error would quote the value, which may be a secret."""
    if not _HEADER_NAME.fullmatch(name):
        return f"{name[:100]!r} is not a valid HTTP header name."
    if _ILLEGAL_IN_VALUE.search(value):
        return (
            f"The value of the header {name!r} holds a line break or another control"
            " character, which HTTP does not allow."
        )
    return None
