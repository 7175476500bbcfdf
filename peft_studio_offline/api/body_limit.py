"""A ceiling on request bodies, counted on the bytes that arrive.

A ``Content-Length`` header is only a claim: a chunked body has none, and nothing obliges a
client to send what it announced. The body is therefore read here, counted as it comes,
and handed to the app only when it stays within the limit; a larger one gets 413 and the
app never sees it, so nothing is written.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def size_text(size: int) -> str:
    """``32 MiB``, ``64 KiB`` or ``1000 bytes``: the unit that states the size exactly."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size:,} bytes"


class BodyLimitMiddleware:
    """Answer 413 to any request whose body is larger than ``max_bytes``.

    The refused body is read on and thrown away (up to ``DRAIN_BYTES`` more, or
    ``max_bytes`` if that is larger) before the answer goes out: a client that is still
    sending reads the 413 instead of a reset connection. Beyond that the connection is
    closed.
    """

    DRAIN_BYTES = 64 * 1024 * 1024

    def __init__(
        self, app: ASGIApp, max_bytes: int, streamed_prefixes: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths whose routes stream the body to disk themselves (MLflow artifacts, adapter
        # weights often larger than the limit): passed through, never held in memory here.
        self.streamed_prefixes = streamed_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or (
            self.streamed_prefixes and str(scope.get("path", "")).startswith(self.streamed_prefixes)
        ):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(receive, send, more=True)
            return
        chunks: list[bytes] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away before its body was complete
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(receive, send, more=message.get("more_body", False))
                return
            if chunk:
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        await self.app(scope, _replay(body, receive), send)

    async def _refuse(self, receive: Receive, send: Send, *, more: bool) -> None:
        if more:
            await _discard(receive, max(self.max_bytes, self.DRAIN_BYTES))
        detail = (
            f"The request body is larger than the limit of {size_text(self.max_bytes)}"
            " (api.max_request_bytes in settings.toml)."
        )
        payload = json.dumps({"detail": detail, "field": None}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})


async def _discard(receive: Receive, budget: int) -> None:
    """Read and drop the rest of a body, at most about ``budget`` bytes of it."""
    dropped = 0
    while dropped <= budget:
        message = await receive()
        if message["type"] != "http.request":
            return
        dropped += len(message.get("body", b""))
        if not message.get("more_body", False):
            return


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that gives the buffered body first, then what the server says next."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
