"""A service that keeps every request it gets, whole: what a sent operation carried.

Each request is kept as (method, path, query string, headers, body) and answered 200 with
an empty JSON object; ``/health`` answers without being kept.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tests.support.sync_apps import Receive, Scope, Send, reply


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


class RecorderApp:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[Request] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["path"] != "/health":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            query = scope.get("query_string", b"").decode()
            with self.lock:
                self.requests.append(Request(scope["method"], scope["path"], query, headers, body))
        await reply(send, 200, {})

    def received(self) -> list[Request]:
        with self.lock:
            return list(self.requests)
