"""Bearer-token check on every request, before any route (unknown paths included)."""

from __future__ import annotations

import hmac
import json

from starlette.types import ASGIApp, Receive, Scope, Send


class TokenMiddleware:
    """Answer 401 unless ``Authorization: Bearer <token>`` matches (constant-time compare).

    The scheme is case-insensitive (``bearer`` works too), as HTTP says.
    """

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self._expected = token.encode("ascii")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        supplied = headers.get(b"authorization", b"")
        scheme, _, credentials = supplied.strip().partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(
            credentials.strip(), self._expected
        ):
            detail = (
                "This request needs the header 'Authorization: Bearer <token>'; the token is"
                " in the file api-token in the data directory."
                if not supplied
                else "The bearer token is not valid."
            )
            await _answer(send, 401, detail, [(b"www-authenticate", b'Bearer realm="peft-studio"')])
            return
        await self.app(scope, receive, send)


async def _answer(send: Send, status: int, detail: str, extra: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"detail": detail, "field": None}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *extra,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
