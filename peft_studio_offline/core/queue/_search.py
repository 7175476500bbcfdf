"""Searching the queue by what is shown, never by what is masked.

A search over the stored payload would answer "does the hidden token start with ``a``?"
one character at a time: every masked value could be read back through the filter. So the
text searched is the text shown: the payload as compact JSON with its secrets masked, the
error masked, the idempotency key and the type.

SQLite first narrows the rows with ``LIKE`` on the stored text (wildcards escaped), which
keeps a search of a large queue fast, then ``shown_has`` (a function registered on the
read connection) decides on the masked text. The narrowing only ever keeps more rows
than match: masking replaces values with ``*`` and ``"`` alone, so each piece of the
search text between those characters that is in the shown text is in the stored one.
"""

from __future__ import annotations

import re
from typing import Any

from peft_studio_offline.core.masking import (
    mask_text,
    might_hold_secrets,
    payload_secrets,
    shown_text_contains,
)
from peft_studio_offline.core.queue._codec import decode_payload

SQL_FUNCTION = "shown_has"
_ESCAPE = "\\"
_MASK_CHARACTERS = re.compile(r'[*"]+')


def like_pattern(text: str) -> str:
    """``%text%`` with LIKE's wildcards and the escape character taken literally."""
    escaped = text.replace(_ESCAPE, _ESCAPE * 2).replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_clause(search: str, params: dict[str, Any]) -> str:
    """The WHERE clause for a search text; its parameters are added to ``params``."""
    params["search"] = like_pattern(search)
    params["search_needle"] = search.casefold()
    pieces = [p for p in _MASK_CHARACTERS.split(search) if p]
    narrowing = []
    for number, piece in enumerate(pieces):
        params[f"search_piece{number}"] = like_pattern(piece)
    for column in ("payload", "error_message"):
        tests = [f"{column} LIKE :search_piece{n} ESCAPE '\\'" for n in range(len(pieces))]
        narrowing.append("(" + " AND ".join(tests) + ")" if tests else "1")
    clause = (
        f"(({' OR '.join(narrowing)})"
        f" AND {SQL_FUNCTION}(payload, payload_blob, error_message, :search_needle)"
        " OR idempotency_key LIKE :search ESCAPE '\\' OR operation_type LIKE :search ESCAPE '\\'"
    )
    if search.strip().isdigit():
        params["search_id"] = int(search.strip())
        clause += " OR id = :search_id"
    return clause + ")"


def shown_has(
    payload: str | bytes | None, blob: bytes | None, error: str | None, needle: str
) -> bool:
    """The SQL function: whether the shown payload or error contains ``needle``.

    Most payloads hold nothing that masking would change: their stored text is what is
    shown, and is searched as it is (decoding and masking every row of a large queue
    took seconds).
    """
    folded = payload.casefold() if blob is None and isinstance(payload, str) else None
    if folded is not None and not might_hold_secrets(str(payload), folded):
        value: Any = None
        found = needle in folded
    else:
        value = _decoded(payload, blob)
        found = shown_text_contains(value, None, needle)
    if found or not error:
        return found
    if value is None:
        value = _decoded(payload, blob)
    return needle in mask_text(error, payload_secrets(value)).casefold()


def _decoded(payload: str | bytes | None, blob: bytes | None) -> Any:
    try:
        return decode_payload(payload, blob)
    except (ValueError, TypeError):
        return {}
