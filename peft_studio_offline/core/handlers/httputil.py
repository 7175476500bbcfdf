"""Shared HTTP rules for handlers: targets, headers, Retry-After and response classes.

Retryable: transport errors, 408, 429 and 5xx (``Retry-After`` honoured, in seconds or as
an HTTP date). Every other 4xx is a permanent failure that keeps the server's message.
"""

from __future__ import annotations

import functools
import html
import json
import math
import re
import time
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

import httpx

from peft_studio_offline.core.handlers.base import HandlerContext, MissingSettingError, Outcome
from peft_studio_offline.core.http_headers import header_problem

IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_RETRY_AFTER = 24 * 3600.0  # a longer wish is capped: the queue will still try tomorrow
_MESSAGE_LIMIT = 500
_RETRYABLE = frozenset({408, 425, 429})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class PayloadError(ValueError):
    """The payload cannot be sent as it is; retrying will not help."""


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:
            return None
        seconds = moment.timestamp() - (time.time() if now is None else now)
    if not math.isfinite(seconds):
        return None
    return min(MAX_RETRY_AFTER, max(0.0, seconds))


def resolve_url(payload: Mapping[str, Any], base_url: str, *, key: str = "endpoint") -> str:
    """The absolute URL of a payload's ``url``, or its ``endpoint`` against ``base_url``."""
    url, endpoint = payload.get("url"), payload.get(key)
    return _resolved(
        url if isinstance(url, str) else None,
        endpoint if isinstance(endpoint, str) else None,
        base_url,
        key,
    )


@functools.lru_cache(maxsize=256)  # a sync asks twice per operation: for its host, to send
def _resolved(url: str | None, endpoint: str | None, base_url: str, key: str) -> str:
    if url is not None and url.strip():
        target = url.strip()
    else:
        if endpoint is None or not endpoint.strip():
            raise PayloadError(f"The payload needs a 'url' or an '{key}'.")
        endpoint = endpoint.strip()
        if _SCHEME.match(endpoint):  # absolute, whatever its scheme (checked below)
            target = endpoint
        elif not base_url:
            raise MissingSettingError(
                f"Waiting for an API base URL: the {key} {endpoint!r} is relative; set"
                " sync.api_base_url (File → Settings or settings.toml) or"
                " PEFT_STUDIO_OFFLINE_API_BASE_URL, and it is sent then.",
                "sync.api_base_url",
            )
        else:
            target = urljoin(base_url.rstrip("/") + "/", endpoint.lstrip("/"))
    parts = urlsplit(target)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PayloadError(f"{target!r} is not an http(s) URL.")
    return target


def host_of(url: str) -> str:
    """The scheme-less host:port a URL goes to (the circuit breaker's key)."""
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1].lower()


def is_under(url: str, base_url: str) -> bool:
    """True when ``url`` is the configured API's base path or below it (its token goes there).

    Same scheme, host and port, and the path is the base path itself or continues it after
    a ``/``: with a base ``http://h/api``, ``/api/x`` qualifies, ``/api2/x`` and ``/apiX``
    do not, nor does a path that climbs out with ``..``.
    """
    if not base_url:
        return False
    a, b = urlsplit(url), urlsplit(base_url)
    try:
        same_origin = (a.scheme, a.hostname, _port(a)) == (b.scheme, b.hostname, _port(b))
    except ValueError:  # a port that is not a number
        return False
    if not same_origin or a.username is not None or a.password is not None:
        return False
    segments = unquote(a.path).split("/")
    if ".." in segments or "." in segments:
        return False
    base = b.path.rstrip("/")
    return a.path == base or a.path.startswith(base + "/")


def _port(parts: SplitResult) -> int | None:
    return parts.port or {"http": 80, "https": 443}.get(parts.scheme)


def request_headers(
    payload: Mapping[str, Any], context: HandlerContext, url: str
) -> dict[str, str]:
    """The payload's headers plus the idempotency key and, for the API, its token."""
    raw = payload.get("headers") or {}
    if not isinstance(raw, Mapping):
        raise PayloadError("The payload's 'headers' must be an object of strings.")
    # The operation's key wins over one in the payload (set it at enqueue instead).
    headers = {str(k): str(v) for k, v in raw.items() if str(k).lower() != "idempotency-key"}
    for name, value in headers.items():
        problem = header_problem(name, value)
        if problem is not None:
            raise PayloadError(f"{problem} It was not sent.")
    headers[IDEMPOTENCY_HEADER] = context.idempotency_key
    lowered = {k.lower() for k in headers}
    token_name = context.settings.credentials.api_token
    if token_name and "authorization" not in lowered and is_under(url, context.api_base_url):
        token = context.credential(token_name)
        if not token:
            raise missing_secret(token_name, "credentials.api_token")
        headers["Authorization"] = f"Bearer {token}"
    return headers


def check_token_needed(
    response: httpx.Response, payload: Mapping[str, Any], context: HandlerContext, url: str
) -> None:
    """``MissingSettingError`` when the API refused a request for want of a token none is set
    for: a 401 from ``sync.api_base_url`` to a request without ``Authorization``, with no
    ``credentials.api_token``. Nothing was applied, so the operation can wait for one."""
    if response.status_code != 401 or context.settings.credentials.api_token:
        return
    headers = payload.get("headers")
    if isinstance(headers, Mapping) and any(str(k).lower() == "authorization" for k in headers):
        return
    if is_under(url, context.api_base_url):
        raise MissingSettingError(
            # Worded so that the masking of "credential: <value>" leaves it whole.
            f"Waiting until an API token is set, as {host_of(url)} answered 401 Unauthorized;"
            " name one in credentials.api_token and enter its secret in File → Settings, and"
            " it is sent then.",
            "credentials.api_token",
        )


def missing_secret(name: str, setting: str) -> MissingSettingError:
    """The error for a secret that settings name but the credential store does not hold."""
    return MissingSettingError(
        f"Waiting for the secret {name!r} ({setting}): it is not in the credential store;"
        " enter it in File → Settings, and it is sent then.",
        setting,
    )


def server_message(response: httpx.Response) -> str:
    """The server's own explanation, short: a JSON ``detail``/``message``/``error``, or text."""
    text = ""
    try:
        body = response.json()
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        for key in ("detail", "message", "error", "error_message", "title"):
            if body.get(key):
                value = body[key]
                text = value if isinstance(value, str) else json.dumps(value)
                break
    if not text:
        try:
            text = response.text.strip()
        except UnicodeDecodeError:
            text = ""
    # Whatever the Content-Type said (text/plain, JSON, nothing): an HTML page in an error
    # must read as its words, not render as a heading where it is shown.
    text = plain_text(text)
    if len(text) > _MESSAGE_LIMIT:
        text = text[:_MESSAGE_LIMIT] + "…"
    return text


# Markup, and the parts of a page that are not its message (head, scripts, styles); a tag
# starts with a letter, so "a < b > c" is left alone.
_MARKUP = re.compile(
    r"<(head|script|style)\b.*?</\1\s*>|<!--.*?-->|<![^>]*>|</?[A-Za-z][^>]*>",
    re.IGNORECASE | re.DOTALL,
)


def plain_text(text: str) -> str:
    """The words of ``text`` without markup (an HTML error page, tags in a JSON message),
    for a history the user reads; text without tags is returned as it is."""
    if not _MARKUP.search(text):
        return text
    return " ".join(html.unescape(_MARKUP.sub(" ", text)).split())


def describe(response: httpx.Response) -> str:
    reason = response.reason_phrase or ""
    message = server_message(response)
    head = f"The server answered {response.status_code} {reason}".rstrip()
    return f"{head}: {message}" if message else f"{head}."


def is_retryable_status(status: int) -> bool:
    return status in _RETRYABLE or status >= 500


def classify_response(response: httpx.Response) -> Outcome:
    """Done for 2xx, retry for 408/425/429/5xx (with Retry-After), else a permanent failure."""
    status = response.status_code
    details: dict[str, Any] = {"status": status}
    if 200 <= status < 300:
        body = small_json(response)
        if body is not None:
            details["response"] = body
        return Outcome.done(details)
    message = describe(response)
    details["message"] = server_message(response)
    if is_retryable_status(status):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            details["retry_after"] = retry_after
        return Outcome.retry(message, retry_after=retry_after, details=details)
    if 300 <= status < 400:
        where = response.headers.get("Location", "")
        message = f"The server redirected ({status}) to {where or 'another address'}; not followed."
    return Outcome.failed(message, details=details)


def transport_failure(exc: httpx.HTTPError, url: str) -> Outcome:
    """A network error: the request may or may not have arrived; retry (idempotently)."""
    kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
    text = str(exc) or type(exc).__name__
    message = f"The request to {host_of(url)} {kind}: {text}."
    details = {"error": type(exc).__name__}
    if never_reached(exc):
        return Outcome.unreachable(message, details=details)
    return Outcome.retry(message, details=details)


def never_reached(exc: httpx.HTTPError) -> bool:
    """True when no byte of the request can have reached the server (no connection made)."""
    return isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)


def small_json(response: httpx.Response, limit: int = 4096) -> Any:
    """The response's JSON body when it is small, for the attempt history."""
    if len(response.content) > limit:
        return None
    try:
        return response.json()
    except (ValueError, UnicodeDecodeError):
        return None
