"""A slow and broken server: every way an answer can go wrong once, then a good answer.

Each operation POSTs to a path that misbehaves on its first delivery only: an answer later
than the request timeout, a connection reset in the middle of the body, 429 and 503 with
``Retry-After``, a 500 with an HTML page. The server applies the effect before it
misbehaves (the worst case: the work was done, the client cannot know), so a second
effect would show up as a duplicate.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.e2e import harness
from tests.support.asgi import AsgiServer
from tests.support.sync_apps import DroppedConnectionError, Receive, Scope, Send, reply

REQUEST_TIMEOUT = 1.0
HTML_PAGE = (
    "<!DOCTYPE html><html><head><title>500 Internal Server Error</title></head>"
    "<body><h1>Internal Server Error</h1><p>The upstream database is unavailable.</p>"
    "</body></html>"
)


class MisbehavingApp:
    """Misbehaves on the first delivery of each key, per its path; answers 201 after that.

    Like a real service, it applies a request once per ``Idempotency-Key``. ``effects``
    counts the applications per operation (the body's ``p``): an operation sent again
    under a second key would be applied twice and show as a duplicate. ``deliveries``
    counts every request per key, so a resend after a good answer shows too.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.deliveries: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        key = headers.get("idempotency-key", "")
        path: str = scope["path"]
        with self.lock:
            self.deliveries[key] += 1
            first = self.deliveries[key] == 1
            if first:  # a new key: the service applies it
                self.effects[json.loads(body)["p"]] += 1
        if not first:
            await reply(send, 201, {"ok": True})
        elif path == "/slow":
            await asyncio.sleep(REQUEST_TIMEOUT * 3)
            await reply(send, 201, {"ok": True})
        elif path == "/reset":
            await send({"type": "http.response.start", "status": 201,
                        "headers": [(b"content-length", b"1000")]})  # fmt: skip
            await send({"type": "http.response.body", "body": b'{"ok": tr', "more_body": True})
            raise DroppedConnectionError("connection reset mid-body on purpose")
        elif path == "/busy":
            await reply(send, 429, {"detail": "Slow down."}, {"Retry-After": "1"})
        elif path == "/unavailable":
            await reply(send, 503, {"message": "Down for maintenance."}, {"Retry-After": "2"})
        elif path == "/crash":
            data = HTML_PAGE.encode()
            await send({"type": "http.response.start", "status": 500,
                        "headers": [(b"content-type", b"text/html; charset=utf-8"),
                                    (b"content-length", str(len(data)).encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": data})
        else:
            await reply(send, 404, {"detail": "No such path."})


CASES = {
    "/slow": ("timed out", None),
    "/reset": ("failed", None),
    "/busy": ("429", 1.0),
    "/unavailable": ("503", 2.0),
    "/crash": ("500", None),
}


async def test_each_misbehaviour_is_retried_and_explained(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    app = MisbehavingApp()
    settings = Settings.load()
    settings = _with_timeout(settings, REQUEST_TIMEOUT)
    with AsgiServer(app, graceful_timeout=0.2) as server:
        async with OfflineQueueManager(db, backoff_base=0.2, backoff_cap=0.5) as q:
            ids = {
                path: await q.enqueue(
                    "api_call", {"url": server.url(path), "method": "POST", "data": {"p": path}}
                )
                for path in CASES
            }
            engine = SyncEngine(q, None, settings=settings, credentials=lambda _n: None)
            async with engine:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    await engine.sync()
                    stats = await q.get_queue_stats()
                    if stats["completed"] == len(CASES) or stats["failed"]:
                        break
                    await asyncio.sleep(0.1)
            histories = {path: await q.get_attempts(op_id) for path, op_id in ids.items()}
            final = {path: await q.get_operation(op_id) for path, op_id in ids.items()}

    problems: list[str] = []
    for path, (words, retry_after) in CASES.items():
        op, history = final[path], histories[path]
        assert op is not None
        tries = [a for a in history if a.outcome in ("retry", "failed", "completed")]
        if op.status.value != "completed":
            problems.append(f"{path}: {op.status.value} ({op.error_message})")
            continue
        first = tries[0]
        if first.outcome != "retry" or words not in (first.error or ""):
            problems.append(f"{path}: first attempt {first.outcome}: {first.error!r}")
        if "<" in (first.error or "") or len(first.error or "") > 600:
            problems.append(f"{path}: the error is not readable: {first.error!r}")
        if retry_after is not None:
            waited = (tries[1].at - first.at).total_seconds()
            if waited < retry_after - 0.05:
                problems.append(f"{path}: retried after {waited:.2f} s, not {retry_after} s")
    effects = dict(app.effects)
    harness.report_figures(
        tmp_path,
        "slow and broken server",
        operations=len(CASES),
        faults=len(CASES),
        fault="answer past the timeout, reset mid-body, 429 and 503 with Retry-After,"
        " 500 with an HTML page",
        lost=sum(1 for op in final.values() if op is None or op.status.value != "completed"),
        duplicated=sum(c - 1 for c in effects.values()),
        deliveries=sum(app.deliveries.values()),
        first_errors={p: (h[0].error if h else None) for p, h in histories.items()},
    )
    assert not problems, "\n".join(problems)
    assert effects == dict.fromkeys(CASES, 1), "an operation was applied twice"
    # One misbehaving delivery and one good one per operation: nothing sent after success.
    assert sorted(app.deliveries.values()) == [2] * len(CASES), app.deliveries
    assert json.dumps(_plain(histories))  # the history is plain data, ready for the window


def _with_timeout(settings: Settings, seconds: float) -> Settings:
    import dataclasses

    return dataclasses.replace(
        settings, sync=dataclasses.replace(settings.sync, request_timeout=seconds)
    )


def _plain(histories: dict[str, Any]) -> Any:
    return {
        path: [
            {**a.to_dict(), "at": a.at.isoformat() if isinstance(a.at, datetime) else a.at}
            for a in attempts
        ]
        for path, attempts in histories.items()
    }
