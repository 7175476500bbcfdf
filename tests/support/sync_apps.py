"""ASGI apps that play the remote services in sync tests (run them with ``AsgiServer``).

Plain ASGI callables rather than framework routes: they need to do what frameworks hide,
such as applying a request and then dropping the connection before the answer arrives.
State lives on the app object, so it outlives a server restart like a real database.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import default as email_policy
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class DroppedConnectionError(Exception):
    """Raised inside an app to make uvicorn close the connection mid-response."""


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    key: str | None
    headers: dict[str, str]
    body: bytes
    raw_headers: list[bytes]  # every header name as sent, repeats included


class _App:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[Seen] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client gave up mid-request: nothing arrived
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        names = [k.lower() for k, _ in scope["headers"]]
        request = Seen(
            scope["method"], scope["path"], headers.get("idempotency-key"), headers, body, names
        )
        if request.path == "/health":
            await reply(send, 200, {"ok": True})
            return
        with self.lock:
            self.seen.append(request)
        await self.handle(request, send)

    async def handle(self, request: Seen, send: Send) -> None:
        raise NotImplementedError

    def keys(self) -> list[str | None]:
        with self.lock:
            return [r.key for r in self.seen]


async def reply(send: Send, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    data = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": data})


class EffectsApp(_App):
    """Applies each POST/PUT once per ``Idempotency-Key`` and replays the answer after that.

    Like a real service it applies a key once, so ``effects[key]`` is 1 by construction:
    count duplicates in ``applied``, which lists (path, JSON body) in the order they took
    effect (an operation sent again under another key shows there twice). ``drop_next = n``
    makes the next n new requests take effect and then lose their response (the
    connection is closed mid-answer). ``delay`` slows every request down;
    ``most_in_flight`` is the most requests it was answering at once.
    """

    def __init__(self, *, delay: float = 0.0) -> None:
        super().__init__()
        self.effects: Counter[str | None] = Counter()
        self.applied: list[tuple[str, Any]] = []
        self.answers: dict[str, tuple[int, Any]] = {}
        self.drop_next = 0
        self.delay = delay
        self.in_flight = 0
        self.most_in_flight = 0

    async def handle(self, request: Seen, send: Send) -> None:
        self.in_flight += 1  # one event loop serves every request: no lock needed
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            await self._handle(request, send)
        finally:
            self.in_flight -= 1

    async def _handle(self, request: Seen, send: Send) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        if request.method == "GET":
            await reply(send, 200, {"applied": len(self.applied)})
            return
        with self.lock:
            stored = self.answers.get(request.key) if request.key else None
            drop = False
            if stored is None:
                self.effects[request.key] += 1
                self.applied.append((request.path, json.loads(request.body or b"null")))
                stored = (201, {"applied": len(self.applied)})
                if request.key:
                    self.answers[request.key] = stored
                if self.drop_next > 0:
                    self.drop_next -= 1
                    drop = True
        if drop:
            # The effect is in; the answer never arrives complete.
            await send(
                {
                    "type": "http.response.start",
                    "status": 201,
                    "headers": [(b"content-length", b"1000")],
                }
            )
            raise DroppedConnectionError("response lost on purpose")
        await reply(send, *stored)


class ScriptedApp(_App):
    """Answers from a script of (status, headers, body), then 200 once it runs out."""

    def __init__(self, script: list[tuple[int, dict[str, str], Any]] | None = None) -> None:
        super().__init__()
        self.script = list(script or [])
        self.always: tuple[int, dict[str, str], Any] | None = None

    async def handle(self, request: Seen, send: Send) -> None:
        with self.lock:
            step = self.always or (self.script.pop(0) if self.script else None)
        if step is None:
            await reply(send, 200, {"ok": True})
        else:
            await reply(send, step[0], step[2], step[1])


class DocumentsApp(_App):
    """JSON documents under /docs/NAME with ETags; PUT honours If-Match (412 on mismatch)."""

    def __init__(self) -> None:
        super().__init__()
        self.docs: dict[str, tuple[int, Any]] = {}
        self.effects: Counter[str | None] = Counter()
        self.puts: list[tuple[str, str | None]] = []  # (name, If-Match) of every PUT

    def set(self, name: str, doc: Any) -> str:
        """Change a document on the server side; returns its new ETag."""
        with self.lock:
            version = self.docs.get(name, (0, None))[0] + 1
            self.docs[name] = (version, doc)
        return etag(version)

    def get(self, name: str) -> Any:
        with self.lock:
            return self.docs[name][1]

    async def handle(self, request: Seen, send: Send) -> None:
        name = request.path.removeprefix("/docs/")
        with self.lock:
            version, doc = self.docs.get(name, (0, None))
        if request.method == "GET":
            if not version:
                await reply(send, 404, {"detail": f"No document {name}."})
            else:
                await reply(send, 200, doc, {"ETag": etag(version)})
            return
        if request.method != "PUT":
            await reply(send, 405, {"detail": "Only GET and PUT."})
            return
        condition = request.headers.get("if-match")
        with self.lock:
            self.puts.append((name, condition))
            version, doc = self.docs.get(name, (0, None))
            if condition is not None and condition != etag(version):
                answer: tuple[int, Any, dict[str, str]] = (
                    412,
                    {"detail": "The document changed."},
                    {},
                )
            else:
                self.effects[request.key] += 1
                version += 1
                self.docs[name] = (version, json.loads(request.body))
                answer = (200, {"version": version}, {"ETag": etag(version)})
        await reply(send, answer[0], answer[1], answer[2])


def etag(version: int) -> str:
    return f'"v{version}"'


class UploadsApp(_App):
    """Stores uploads: PUT bodies as they are, POST multipart parts by field name."""

    def __init__(self) -> None:
        super().__init__()
        self.files: dict[str, bytes] = {}
        self.filenames: dict[str, str | None] = {}
        self.fields: dict[str, dict[str, str]] = {}

    async def handle(self, request: Seen, send: Send) -> None:
        if request.method == "PUT":
            self.files[request.path] = request.body
        elif request.method == "POST":
            head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
            message = BytesParser(policy=email_policy).parsebytes(head + request.body)
            fields: dict[str, str] = {}
            for part in message.iter_parts():
                name = part.get_param("name", header="content-disposition")
                data = part.get_payload(decode=True) or b""
                if part.get_filename() is not None:
                    self.files[f"{request.path}#{name}"] = data
                    self.filenames[f"{request.path}#{name}"] = part.get_filename()
                else:
                    fields[str(name)] = data.decode()
            self.fields[request.path] = fields
        await reply(send, 201, {"stored": True})
