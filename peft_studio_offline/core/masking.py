"""Hide secrets in payloads before they are shown (the window, the HTTP API, the command line).

The stored payload keeps its secrets (the sync engine needs them); only what is shown is
masked. Keys are matched after lower-casing and dropping ``-`` and ``_``, so
``Authorization``, ``x-api-key``, ``access_token`` and ``db_password`` are all caught,
while ``max_tokens`` is not.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MASK = "***"
MAX_DEPTH = 64
TOO_DEEP = "(nested too deeply to show)"

_SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxyauthorization",
        "cookie",
        "setcookie",
        "credentials",
        "credential",
        "auth",
    }
)
_SECRET_SUFFIXES = ("token", "password", "passwd", "secret", "apikey", "privatekey", "signature")
# What follows ``scheme://`` when it holds a password. The scheme is found with str.find,
# not by the pattern: a pattern starting with ``[a-zA-Z][a-zA-Z0-9+.-]*`` made every search
# position scan a run of letters to its end, and masking a 5 MB string took minutes.
_URL_USERINFO = re.compile(r"(?P<user>[^/@:\s]*):[^/@\s]*@")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def is_secret_key(key: str) -> bool:
    normal = key.lower().replace("-", "").replace("_", "")
    return normal in _SECRET_KEYS or normal.endswith(_SECRET_SUFFIXES)


def mask_secrets(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with secret-looking entries replaced by ``***``.

    Below ``MAX_DEPTH`` levels the rest is cut (and so cannot leak): shown payloads stay
    small enough for any JSON encoder.
    """
    if isinstance(value, Mapping | list | tuple) and _depth >= MAX_DEPTH:
        return TOO_DEEP
    if isinstance(value, Mapping):
        return {
            key: MASK
            if isinstance(key, str) and is_secret_key(key) and value[key] not in (None, "")
            else mask_secrets(item, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item, _depth + 1) for item in value]
    if isinstance(value, str) and "://" in value:
        return mask_url_passwords(value)
    return value


def mask_url_passwords(text: str) -> str:
    """``scheme://user:password@`` becomes ``scheme://user:***@`` anywhere in ``text``."""
    parts: list[str] = []
    done = search = 0
    while (found := text.find("://", search)) >= 0:
        search = found + 3
        if not found or text[found - 1] not in _SCHEME_CHARS:
            continue
        match = _URL_USERINFO.match(text, search)
        if match is None:
            continue
        parts += (text[done:search], match["user"], ":", MASK, "@")
        done = search = match.end()
    return "".join(parts) + text[done:] if parts else text


def masked_operation(data: dict[str, Any]) -> dict[str, Any]:
    """An operation's JSON form with its payload (and URLs in its error) masked."""
    out = dict(data)
    out["payload"] = mask_secrets(out.get("payload", {}))
    out["error_message"] = mask_secrets(out.get("error_message"))
    return out
