"""The built-in ``API_CALL`` handler: one HTTP request, conditional when asked.

Payload: ``endpoint`` (relative to the API base URL) or ``url``; ``method`` (default GET);
``headers``; ``data`` (a JSON body) or ``form`` (a form body); ``params``. Conflict
detection, either:

- ``etag``: sent as ``If-Match``; a 412 (or 409) means the remote changed, or
- ``base``: the remote value the change was made from; the handler reads the remote first
  and reports a conflict when it differs.

On a conflict, the remote value and ETag are read back (GET on the same URL) for the
strategy to decide.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from peft_studio_offline.core.handlers.base import HandlerContext, MissingSettingError, Outcome
from peft_studio_offline.core.handlers.httputil import (
    PayloadError,
    check_token_needed,
    classify_response,
    host_of,
    request_headers,
    resolve_url,
    small_json,
    transport_failure,
)
from peft_studio_offline.core.operation import Operation

_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
_CONFLICT_STATUSES = frozenset({409, 412})
_UNORDERED_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST"})


class ApiCallHandler:
    """Sends ``api_call`` operations with the engine's long-lived client."""

    def target(self, operation: Operation, context: HandlerContext) -> str | None:
        try:
            return host_of(resolve_url(operation.payload, context.api_base_url))
        except (PayloadError, MissingSettingError):
            return None

    def resource_key(self, payload: Mapping[str, Any]) -> str | None:
        """Changes to one URL keep their order; reads need none, and neither do POSTs.

        A POST to a collection (``/api/metrics``) makes a resource of its own, so many POSTs
        to one URL go in parallel; a shared ``resource_key`` orders them when that matters.
        """
        method = str(payload.get("method") or "GET").upper()
        where = payload.get("url") or payload.get("endpoint")
        if method in _UNORDERED_METHODS or not isinstance(where, str):
            return None
        return f"api:{where.strip()}"

    async def handle(self, operation: Operation, context: HandlerContext) -> Outcome:
        payload = operation.payload
        try:
            url = resolve_url(payload, context.api_base_url)
            method = str(payload.get("method") or "GET").upper()
            if method not in _METHODS:
                raise PayloadError(f"Unknown HTTP method {method!r}.")
            headers = request_headers(payload, context, url)
            params = payload.get("params")
            if params is not None and not isinstance(params, Mapping):
                raise PayloadError("The payload's 'params' must be an object.")
        except PayloadError as exc:
            return Outcome.failed(str(exc))
        etag = payload.get("etag") or payload.get("if_match")
        try:
            if etag is None and "base" in payload:
                remote, version = await _read_remote(context, url, headers)
                if remote != payload["base"]:
                    return _conflict(
                        payload, remote, version, "its value differs from the queued base"
                    )
                etag = version
            if etag is not None:
                headers["If-Match"] = str(etag)
            body: dict[str, Any] = {}
            if "data" in payload:
                body["json"] = payload["data"]
            elif "form" in payload:
                body["data"] = payload["form"]
            response = await context.client.request(
                method, url, headers=headers, params=params, timeout=context.timeout, **body
            )
            if etag is not None and response.status_code in _CONFLICT_STATUSES:
                remote, version = await _read_remote(context, url, headers)
                reason = f"the server answered {response.status_code} to a conditional request"
                return _conflict(payload, remote, version, reason, response.status_code)
        except httpx.HTTPError as exc:
            return transport_failure(exc, url)
        except _RemoteUnreadableError as exc:
            return exc.outcome
        check_token_needed(response, payload, context, url)
        return classify_response(response)


class _RemoteUnreadableError(Exception):
    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.message)
        self.outcome = outcome


async def _read_remote(
    context: HandlerContext, url: str, headers: Mapping[str, str]
) -> tuple[Any, str | None]:
    """The remote's current value and version, for conflict detection and resolution."""
    read_headers = {k: v for k, v in headers.items() if k.lower() not in ("if-match",)}
    response = await context.client.get(url, headers=read_headers, timeout=context.timeout)
    if response.status_code == 404:
        return None, None
    if not 200 <= response.status_code < 300:
        outcome = classify_response(response)
        raise _RemoteUnreadableError(
            Outcome(
                outcome.kind,
                f"Reading the remote state failed. {outcome.message}",
                retry_after=outcome.retry_after,
                details=outcome.details,
            )
        )
    body = small_json(response, limit=1 << 20)
    return body, response.headers.get("ETag")


def _conflict(
    payload: Mapping[str, Any],
    remote: Any,
    version: str | None,
    reason: str,
    status: int | None = None,
) -> Outcome:
    details: dict[str, Any] = {"remote_version": version}
    if status is not None:
        details["status"] = status
    return Outcome.conflict(
        f"The remote changed since this operation was queued ({reason}).",
        remote=remote,
        base=payload.get("base"),
        local=payload.get("data"),
        remote_version=version,
        details=details,
    )
