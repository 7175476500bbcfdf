"""Only requests addressed to this API by a name it answers to (DNS rebinding).

A web page can make a browser send requests to ``127.0.0.1`` under a name the attacker
controls (rebinding that name to the loopback address); the ``Host`` header then carries
the attacker's name. The token already stops such a page, but the API also refuses any
``Host`` but a loopback name or address and the host it was configured to listen on;
when it listens on every address (``0.0.0.0``, ``::``), also this machine's own names and
any address literal (an address cannot be rebound).
"""

from __future__ import annotations

import ipaddress
import json
import socket

from starlette.types import ASGIApp, Receive, Scope, Send

_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def allowed_host_names(bind_host: str | None) -> tuple[frozenset[str], bool]:
    """The names accepted in ``Host``, and whether any address literal is accepted."""
    names = {"localhost"}
    host = (bind_host or "127.0.0.1").strip("[]").lower()
    names.add(host)
    wildcard = host in _WILDCARDS
    if wildcard:
        for name in (socket.gethostname(), socket.getfqdn()):
            if name:
                names.add(name.lower())
    return frozenset(names), wildcard


def host_is_allowed(value: str, names: frozenset[str], any_address: bool) -> bool:
    host = _host_part(value.strip().lower())
    if host in names or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any_address or address.is_loopback


def _host_part(value: str) -> str:
    if value.startswith("["):  # [::1]:8765
        return value[1:].partition("]")[0]
    if value.count(":") == 1:
        return value.partition(":")[0]
    return value.rstrip(".")


class HostCheckMiddleware:
    """Answer 400 to a request whose ``Host`` header names another host."""

    def __init__(self, app: ASGIApp, bind_host: str | None = None) -> None:
        self.app = app
        self._names, self._any_address = allowed_host_names(bind_host)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            supplied = [v for k, v in scope.get("headers") or [] if k == b"host"]
            if supplied and not host_is_allowed(
                supplied[0].decode("latin-1"), self._names, self._any_address
            ):
                body = json.dumps(
                    {
                        "detail": "This API answers only to requests addressed to this"
                        " machine (the Host header names another host).",
                        "field": None,
                    }
                ).encode()
                await send(
                    {
                        "type": "http.response.start",
                        "status": 400,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)
