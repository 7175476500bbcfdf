"""One HTTP probe of one endpoint, and how the probes of one check add up to a status."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import httpx

from peft_studio_offline.core.endpoints import Endpoint
from peft_studio_offline.core.enums import NetworkStatus

# Enough of a body to find a marker near its start; a portal's page is not read to the end.
MAX_BODY_BYTES = 64 * 1024

# Ask caches along the way to pass the request on: a cached 200 proves nothing.
PROBE_HEADERS = {"Cache-Control": "no-cache", "Pragma": "no-cache"}

# RFC 6585: the status a captive portal is meant to answer with.
NETWORK_AUTHENTICATION_REQUIRED = 511


class ProbeOutcome(StrEnum):
    """What one probe found."""

    HEALTHY = "healthy"  # the service answered as expected
    INTERCEPTED = "intercepted"  # something else answered for it: a captive portal or proxy
    FAILED = "failed"  # no answer, or an answer saying the service is not well


@dataclass(frozen=True, slots=True)
class ProbeResult:
    url: str
    outcome: ProbeOutcome
    checked_at: datetime
    http_status: int | None = None
    latency_ms: float | None = None  # until the response headers arrived
    error: str | None = None
    attempts: int = 1  # probes the check made of this endpoint before this verdict

    @property
    def ok(self) -> bool:
        return self.outcome is ProbeOutcome.HEALTHY

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "ok": self.ok,
            "outcome": self.outcome.value,
            "http_status": self.http_status,
            "latency_ms": self.latency_ms,
            "error": self.error,
            "checked_at": self.checked_at.isoformat(),
            "attempts": self.attempts,
        }


async def probe(client: httpx.AsyncClient, endpoint: Endpoint, time_limit: float) -> ProbeResult:
    """GET ``endpoint.url`` once and judge the answer; never raises for a network failure.

    ``time_limit`` (seconds) bounds the whole probe: connecting, the headers and the part of
    the body that is read. A server that accepts and never answers costs at most that long.
    """
    checked_at = datetime.now(UTC)
    started = time.perf_counter()
    http_status: int | None = None
    latency_ms: float | None = None
    try:
        async with (
            asyncio.timeout(time_limit),
            client.stream(
                "GET", endpoint.url, headers=PROBE_HEADERS, timeout=time_limit
            ) as response,
        ):
            http_status = response.status_code
            latency_ms = round((time.perf_counter() - started) * 1000, 1)
            outcome, error = await _judge(response, endpoint)
    except (TimeoutError, httpx.TimeoutException):
        outcome, error = ProbeOutcome.FAILED, f"No answer within {time_limit:g} s."
    except httpx.ConnectError as exc:
        outcome, error = ProbeOutcome.FAILED, f"Cannot connect ({_describe(exc)})."
    except (httpx.HTTPError, OSError) as exc:
        outcome, error = ProbeOutcome.FAILED, f"The request failed ({_describe(exc)})."
    return ProbeResult(endpoint.url, outcome, checked_at, http_status, latency_ms, error)


async def _judge(response: httpx.Response, endpoint: Endpoint) -> tuple[ProbeOutcome, str | None]:
    status = response.status_code
    if status in endpoint.expected_statuses:
        if endpoint.expected_body is None or await _body_contains(response, endpoint.expected_body):
            return ProbeOutcome.HEALTHY, None
        return ProbeOutcome.INTERCEPTED, (
            f"HTTP {status} without the expected text: a captive portal or proxy answered."
        )
    if status == NETWORK_AUTHENTICATION_REQUIRED:
        return ProbeOutcome.INTERCEPTED, "The network asks for a sign-in (HTTP 511)."
    if response.is_redirect:
        target = response.headers.get("location", "elsewhere")
        return ProbeOutcome.INTERCEPTED, (
            f"Redirected to {target}: a captive portal or proxy answered."
        )
    expected = " or ".join(str(code) for code in endpoint.expected_statuses)
    return ProbeOutcome.FAILED, f"Expected HTTP {expected}, got {status}."


async def _body_contains(response: httpx.Response, text: str) -> bool:
    needle = text.encode("utf-8")
    seen = b""
    async for chunk in response.aiter_bytes():
        # Keep only what a match could still span, plus what has not been searched yet.
        seen = seen[-(len(needle) - 1) :] + chunk if len(needle) > 1 else chunk
        if needle in seen:
            return True
        if response.num_bytes_downloaded >= MAX_BODY_BYTES:
            return False
    return False


def _describe(exc: BaseException) -> str:
    """The most specific reason in the chain ("Connection refused"), else the message."""
    cause: BaseException | None = exc
    for _ in range(10):  # the chain is short; the bound guards against a cycle
        if cause is None:
            break
        if isinstance(cause, OSError) and cause.errno is not None:
            # asyncio words its own message; the errno's is the plain one
            if cause.errno > 0:
                return os.strerror(cause.errno)
            return cause.strerror or str(cause)  # name resolution errors are negative
        cause = cause.__cause__ or cause.__context__
    return str(exc) or type(exc).__name__


def combine(results: Sequence[ProbeResult]) -> NetworkStatus:
    """The status one check supports.

    Limited as soon as one endpoint was answered by something else (a captive portal or
    proxy): a portal answers for every host, so another endpoint that looked healthy proves
    nothing (a probe that accepts any answer passes a portal's page too), and work synced
    through it would be lost into the portal. Otherwise online when any endpoint answered as
    expected: the status gates syncing, and each operation's own request decides for its
    target. Offline when nothing answered as it should. No endpoints prove nothing: unknown.
    """
    if not results:
        return NetworkStatus.UNKNOWN
    outcomes = {result.outcome for result in results}
    if ProbeOutcome.INTERCEPTED in outcomes:
        return NetworkStatus.LIMITED
    if ProbeOutcome.HEALTHY in outcomes:
        return NetworkStatus.ONLINE
    return NetworkStatus.OFFLINE
