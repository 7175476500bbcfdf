"""Payloads in and out of the database: validation, JSON text, compression of large ones."""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Mapping
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Any

import orjson

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.sealing import needs_sealing

# A compressed payload keeps a small JSON object in the ``payload`` column, so the column
# always holds JSON text; the real payload is in ``payload_blob``.
COMPRESSED_MARKER = "$compressed"

# One encoder for every payload: ``json.dumps`` with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_DECODER = json.JSONDecoder()

# The C encoder behind ``_ENCODER``, made once: ``JSONEncoder.encode`` builds it anew on
# every call, which was half the cost of encoding a small payload. It keeps no record of
# the containers it is inside (``_check_keys`` has refused a payload holding itself).
_encode_chunks = (
    c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",", False, False, False)
    if c_make_encoder is not None
    else None
)

# Deeper than this, a payload cannot be stored anyway: encoding recurses once a level.
MAX_DEPTH = 1000


def encode_payload(
    payload: object, compress_threshold: int, seal: Callable[[Any], Any] | None = None
) -> tuple[str, bytes | None]:
    """Return (JSON text, compressed blob or None); raise ``InvalidOperationError``.

    ``seal`` encrypts the secrets of a payload (``core.sealing``); it is called only when
    the JSON text might hold one, so that a payload without any costs a few substring tests.
    """
    if type(payload) is dict and _is_plain(payload, 1):
        text = _plain_text(payload)
    elif isinstance(payload, Mapping):
        text = _general_text(payload)
    else:
        raise InvalidOperationError(
            f"The payload must be a JSON object (a dict), not {type(payload).__name__}."
        )
    if seal is not None and needs_sealing(text):
        sealed = seal(payload)
        if sealed is not payload:
            return encode_payload(sealed, compress_threshold)
    if compress_threshold and len(text) > compress_threshold:
        raw = text.encode("utf-8")
        blob = zlib.compress(raw, 6)
        stub = json.dumps({COMPRESSED_MARKER: "zlib", "bytes": len(raw)})
        return stub, blob
    return text, None


def _is_plain(value: dict[Any, Any] | list[Any], depth: int) -> bool:
    """True when the value holds only dicts, lists and JSON scalars, of exactly those types.

    Such a payload, the usual one, is written by orjson exactly as the standard encoder
    would write it; anything else (a tuple, a subclass, a type orjson writes and json refuses
    such as a UUID or a dataclass) takes the standard path with its checks and sentences.
    Types are compared exactly, a set at a time: ABC ``isinstance`` checks per value made the
    general walk cost more than the encoding itself.
    """
    if depth > _ORJSON_DEPTH:
        return False  # orjson would refuse it; the standard path says why
    values = value.values() if type(value) is dict else value
    kinds = set(map(type, values))
    if kinds <= _SCALARS:
        return True
    if not kinds <= _PLAIN:
        return False
    for item in values:
        kind = type(item)
        if (kind is dict or kind is list) and not _is_plain(item, depth + 1):
            return False
    return True


def _plain_text(payload: dict[Any, Any]) -> str:
    """Plain JSON, the common payload: orjson writes it four times faster than json.

    Whatever orjson refuses (a key that is not text, an integer beyond 64 bits, a lone
    surrogate, nesting deeper than it goes) goes to the standard encoder, which says what
    is wrong. orjson writes NaN and infinity as null, so a text holding null is made again
    by the standard encoder, which refuses them.
    """
    try:
        text = orjson.dumps(payload).decode()
    except orjson.JSONEncodeError:
        return _general_text(payload)
    return _general_text(payload) if "null" in text else text


def _general_text(payload: Mapping[Any, Any]) -> str:
    _check_keys(payload)
    try:
        text = "".join(_encode_chunks(payload, 0)) if _encode_chunks else _ENCODER.encode(payload)
    except RecursionError:
        raise InvalidOperationError("The payload is nested too deeply to store.") from None
    except (TypeError, ValueError) as exc:
        raise InvalidOperationError(f"The payload cannot be stored as JSON: {exc}.") from None
    if not text.isascii():
        _check_text(text)
    return text


def decode_payload(text: str | bytes | None, blob: bytes | None) -> dict[str, Any]:
    """Return the payload; raise ``ValueError`` when the stored data cannot be read."""
    if blob is not None:
        text = zlib.decompress(blob).decode("utf-8")
    if text is None:
        raise ValueError("the payload is missing")
    if isinstance(text, bytes):  # another program stored it as a BLOB
        text = text.decode("utf-8")
    if not isinstance(text, str):
        raise ValueError(f"the payload is a {type(text).__name__}, not JSON text")
    try:  # twice as fast as json.loads, which looks for whitespace around the value first
        value, end = _DECODER.raw_decode(text)
    except ValueError:
        value, end = json.loads(text), len(text)
    if end != len(text):
        value = json.loads(text)  # allows trailing whitespace, raises for anything else
    if not isinstance(value, dict):
        raise ValueError("the payload is not a JSON object")
    return value


def _check_keys(payload: Mapping[Any, Any]) -> None:
    """JSON would silently turn non-string keys into strings; refuse them instead.

    Also refuses a payload nested deeper than ``MAX_DEPTH``, which includes one that holds
    itself (the walk would otherwise never end).
    """
    stack: list[tuple[Any, int]] = [(payload, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise InvalidOperationError(
                "The payload is nested too deeply to store (or it contains itself)."
            )
        if isinstance(value, Mapping):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise InvalidOperationError(
                        f"Payload keys must be strings; {key!r} is a {type(key).__name__}."
                    )
                if isinstance(item, Mapping | list | tuple):
                    stack.append((item, depth + 1))
        elif isinstance(value, list | tuple):
            stack.extend(
                (item, depth + 1) for item in value if isinstance(item, Mapping | list | tuple)
            )


_SCALARS = frozenset({str, int, float, bool, type(None)})
_PLAIN = _SCALARS | {dict, list}
_ORJSON_DEPTH = 254  # orjson refuses containers nested deeper than 255


def _check_text(text: str) -> None:
    # Lone surrogates are valid in Python strings but not in UTF-8: SQLite could not keep them.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidOperationError(
            "The payload holds text that is not valid Unicode (a lone surrogate)."
        ) from None
