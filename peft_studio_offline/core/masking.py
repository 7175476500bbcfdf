"""Hide secrets in everything shown (the window, the HTTP API, its event stream, the CLI).

What is shown is masked; what is stored is encrypted (``core.sealing``), by the same rules:
a value under a secret key, and a string that masking would change, is kept in the queue as
an envelope, ``{"$sealed": ..., "shown": <its masked text>}``, shown as that text.

Keys are matched after lower-casing and dropping ``-`` and ``_``, so
``Authorization``, ``x-api-key``, ``access_token`` and ``db_password`` are all caught,
while ``max_tokens`` is not. Every string is also masked as a log line is (``mask_text``):
registered secrets, bearer values, ``key=value`` pairs with secret names (query parameters
such as ``?api_key=…&access_token=…`` included) and passwords in URLs. Free text such as
a server's error message is masked the same way, and also with the secret values of the
operation it belongs to (``payload_secrets``): a server that echoes a request's headers
cannot put them on screen.
"""

from __future__ import annotations

import base64
import functools
import json
import re
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import unquote

from peft_studio_offline.core.logs import mask_log_text, registered_secrets

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
# Anchored where a scheme can start, so that a long run of letters is scanned once.
_URL_USERINFO = re.compile(
    r"(?<![a-zA-Z0-9+.-])(?P<scheme>[a-zA-Z0-9+.-]+://)(?P<user>[^/@:\s]*):[^/@\s]*@"
)  # a scheme that starts with a digit is no URL, but its password is masked all the same
_URL_PASSWORD = re.compile(
    r"(?<![a-zA-Z0-9+.-])[a-zA-Z][a-zA-Z0-9+.-]*://(?P<user>[^/@:\s]*):(?P<password>[^/@\s]+)@"
)
_MIN_SECRET_LENGTH = 4
_SCALARS = frozenset({int, float, bool, type(None)})
# An encrypted secret in a stored payload (``core.sealing``): shown as its masked text.
SEALED = "$sealed"
SHOWN = "shown"
_SECRET_HINTS = (
    "auth", "cookie", "credential", "token", "passw", "secret", "apikey", "privatekey",
    "signature", "bearer", "@",
)  # fmt: skip


@functools.lru_cache(maxsize=4096)
def is_secret_key(key: str) -> bool:
    # Cached: the same few keys ("key", "value", "step", "url") come in every payload.
    normal = key.lower().replace("-", "").replace("_", "")
    return normal in _SECRET_KEYS or normal.endswith(_SECRET_SUFFIXES)


def is_envelope(value: object) -> bool:
    """Whether ``value`` is an encrypted secret as the queue stores it."""
    return (
        type(value) is dict
        and isinstance(value.get(SEALED), str)
        and value.keys() <= {SEALED, SHOWN}
    )


def shown_envelope(value: Mapping[str, Any]) -> str:
    """What the screen shows for an encrypted secret: its masked text, or ``***``."""
    shown = value.get(SHOWN)
    return shown if isinstance(shown, str) else MASK


def mask_text(text: str, secrets: Collection[str] = ()) -> str:
    """``text`` with every secret it holds replaced by ``***``.

    ``secrets`` are values known to be secret here (an operation's own, see
    ``payload_secrets``), masked on top of what the log filter masks.
    """
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    text = mask_log_text(text)
    if "://" in text:
        text = _URL_USERINFO.sub(lambda m: f"{m['scheme']}{m['user']}:{MASK}@", text)
    return text


def mask_secrets(value: Any, secrets: Collection[str] = (), _depth: int = 0) -> Any:
    """A copy of ``value`` with secret-looking entries replaced by ``***``.

    Values under secret keys are replaced whole; every other string goes through
    ``mask_text``. Below ``MAX_DEPTH`` levels the rest is cut (and so cannot leak): shown
    payloads stay small enough for any JSON encoder.
    """
    kind = type(value)
    if kind is str:
        return mask_text(value, secrets)
    if kind in _SCALARS:  # most of a payload: checked before the slower ABC checks below
        return value
    if isinstance(value, Mapping | list | tuple) and _depth >= MAX_DEPTH:
        return TOO_DEEP
    if is_envelope(value):
        return shown_envelope(value)
    if isinstance(value, Mapping):
        return {
            key: MASK
            if isinstance(key, str) and is_secret_key(key) and value[key] not in (None, "")
            else mask_secrets(item, secrets, _depth + 1)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [mask_secrets(item, secrets, _depth + 1) for item in value]
    if isinstance(value, str):
        return mask_text(value, secrets)
    return value


def payload_secrets(payload: Any) -> frozenset[str]:
    """The secret values a payload holds (under secret keys, and passwords in its URLs).

    Free text about the operation (a server's answer, an error) is masked with them too.
    Values shorter than four characters are left out: they would mask ordinary words.
    """
    found: set[str] = set()
    stack: list[tuple[Any, int]] = [(payload, 0)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            continue
        if is_envelope(value):
            continue  # ciphertext: nothing a server could echo back
        if isinstance(value, Mapping):
            for key, item in value.items():
                if is_envelope(item):
                    continue
                if isinstance(key, str) and is_secret_key(key) and item not in (None, ""):
                    found.update(_secret_strings(item))
                else:
                    stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend((item, depth + 1) for item in value)
        elif isinstance(value, str) and "@" in value:
            for match in _URL_PASSWORD.finditer(value):
                # Sent as Basic authentication: the encoded pair is as secret as the password.
                pair = f"{unquote(match['user'])}:{unquote(match['password'])}"
                found.update((match["password"], base64.b64encode(pair.encode()).decode()))
    return frozenset(s for s in found if len(s) >= _MIN_SECRET_LENGTH)


def masked_operation(data: dict[str, Any]) -> dict[str, Any]:
    """An operation's JSON form with its payload and its error masked."""
    out = dict(data)
    payload = out.get("payload", {})
    out["payload"] = mask_secrets(payload)
    error = out.get("error_message")
    if isinstance(error, str):
        out["error_message"] = mask_text(error, payload_secrets(payload))
    return out


def shown_payload_text(payload: Any) -> str:
    """The payload as search sees it: compact JSON of what is shown (secrets masked)."""
    return json.dumps(mask_secrets(payload), ensure_ascii=False, separators=(",", ":"))


def might_hold_secrets(text: str, folded: str | None = None) -> bool:
    """False when masking cannot change ``text`` (JSON or free text): a cheap first look.

    Every key and pattern masked above contains one of these words once ``-`` and ``_``
    are dropped, a URL password contains ``@``, and registered values are looked for.
    ``folded`` is ``text.casefold()`` when the caller has it already.
    """
    folded = text.casefold() if folded is None else folded
    if "-" in folded or "_" in folded:
        folded = folded.replace("-", "").replace("_", "")
    for hint in _SECRET_HINTS:  # plain substring tests: twice as fast as one regex
        if hint in folded:
            return True
    known = registered_secrets()
    return bool(known) and any(secret in text for secret in known)


def shown_text_contains(payload: Any, error: str | None, needle: str) -> bool:
    """Whether ``needle`` (case-folded) is in the shown payload or the shown error.

    The one rule of a text search of the queue: SQL (``queue/_search.py``) and the
    window's live filter both call it.
    """
    if needle in shown_payload_text(payload).casefold():
        return True
    if not error:
        return False
    return needle in mask_text(error, payload_secrets(payload)).casefold()


def _secret_strings(value: Any) -> list[str]:
    """Every string inside a secret value; a scheme word (``Bearer x``) is split off."""
    if isinstance(value, str):
        scheme, _, rest = value.partition(" ")
        return [value, rest] if rest and scheme.isalpha() else [value]
    if isinstance(value, Mapping):
        return [s for item in value.values() for s in _secret_strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _secret_strings(item)]
    if isinstance(value, int | float) and not isinstance(value, bool):
        return [str(value)]
    return []


def restore_masked(edited: Any, original: Any) -> Any:
    """``edited`` (a masked value a person changed) with each part still shown as masked
    given back its ``original`` value: the secrets a merge on screen could not see are
    sent as they were, never as ``***``.

    A part counts as unchanged when it equals what masking ``original`` there shows; a
    part the person did change is kept as edited.
    """
    if edited == mask_secrets(original):
        return original
    if isinstance(edited, dict) and isinstance(original, Mapping):
        restored = {}
        for key, value in edited.items():
            if key not in original:
                restored[key] = value
            elif _still_masked_secret(key, value, original[key]):
                restored[key] = original[key]
            else:
                restored[key] = restore_masked(value, original[key])
        return restored
    if (
        isinstance(edited, list)
        and isinstance(original, list | tuple)
        and len(edited) == len(original)
    ):
        return [restore_masked(e, o) for e, o in zip(edited, original, strict=True)]
    return edited


def _still_masked_secret(key: object, edited: Any, original: Any) -> bool:
    """A value under a secret key that the screen showed as ``***`` and that stayed so."""
    return (
        isinstance(key, str)
        and is_secret_key(key)
        and edited == MASK
        and original not in (None, "")
    )
