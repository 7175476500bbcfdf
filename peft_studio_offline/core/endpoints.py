"""What the network monitor probes, and what a healthy answer from it looks like.

The one reading of an endpoint: the settings check their ``connectivity.endpoints`` with it
and the monitor builds its probes with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from peft_studio_offline.core.errors import PeftStudioOfflineError

ENDPOINT_KEYS = frozenset({"url", "expected_status", "expected_body"})

EndpointSpec = str | Mapping[str, Any]
"""A URL, or ``{"url": ..., "expected_status": 200, "expected_body": "..."}``."""


class NetworkConfigError(PeftStudioOfflineError, ValueError):
    """The network monitor was given an endpoint or a setting it cannot use."""


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One URL to probe.

    Healthy means: the HTTP status is one of ``expected_statuses`` and, when
    ``expected_body`` is set, the body contains that text. A 200 without the text means
    something else answered for the service (a captive portal or a proxy). Without
    ``expected_body`` only a redirect or an HTTP 511 gives a portal away, so give one
    wherever the service's answer has a known text (MLflow's ``/health`` answers ``OK``).
    """

    url: str
    expected_statuses: tuple[int, ...] = (200,)
    expected_body: str | None = None

    @property
    def expected_status(self) -> int | list[int]:
        """The expected status as it is written in settings (one code, or a list)."""
        if len(self.expected_statuses) == 1:
            return self.expected_statuses[0]
        return list(self.expected_statuses)


def parse_endpoint(spec: EndpointSpec | Endpoint) -> Endpoint:
    """Validate one endpoint given as a URL, a mapping, or an ``Endpoint``."""
    if isinstance(spec, Endpoint):
        return spec
    if isinstance(spec, str):
        return Endpoint(_check_url(spec))
    if not isinstance(spec, Mapping):
        raise NetworkConfigError(
            f"A connectivity endpoint must be a URL or a mapping with a 'url', not {spec!r}."
        )
    unknown = sorted(str(key) for key in spec if key not in ENDPOINT_KEYS)
    if unknown:
        known = ", ".join(sorted(ENDPOINT_KEYS))
        raise NetworkConfigError(
            f"Unknown connectivity endpoint key '{unknown[0]}'; expected some of: {known}."
        )
    if "url" not in spec:
        raise NetworkConfigError(f"The connectivity endpoint {dict(spec)!r} has no 'url'.")
    url = _check_url(spec["url"])
    statuses = _check_statuses(url, spec.get("expected_status", 200))
    body = spec.get("expected_body")
    if body is not None and not isinstance(body, str):
        raise NetworkConfigError(f"The expected_body of {url} must be text, not {body!r}.")
    return Endpoint(url, statuses, body or None)  # "" is in every body: no condition


def parse_endpoints(specs: Iterable[EndpointSpec | Endpoint]) -> tuple[Endpoint, ...]:
    """Validate a list of endpoints; the same URL twice is probed once."""
    if isinstance(specs, str | Mapping):
        raise NetworkConfigError("Connectivity endpoints must be given as a list.")
    seen: dict[str, Endpoint] = {}
    for spec in specs:
        endpoint = parse_endpoint(spec)
        seen.setdefault(endpoint.url, endpoint)
    return tuple(seen.values())


def _check_url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise NetworkConfigError(
            f"A connectivity endpoint URL must be a non-empty string, not {value!r}."
        )
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise NetworkConfigError(
            f"The connectivity endpoint {url!r} is not an http(s) URL with a host."
        )
    return url


def _check_statuses(url: str, value: object) -> tuple[int, ...]:
    codes = value if isinstance(value, list | tuple) else [value]
    if not codes:
        raise NetworkConfigError(f"The expected_status of {url} lists no status code.")
    for code in codes:
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            raise NetworkConfigError(
                f"The expected_status of {url} must be an HTTP status code (100-599), not {code!r}."
            )
    return tuple(codes)
