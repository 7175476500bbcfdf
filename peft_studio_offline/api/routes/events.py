"""A live stream of queue, network and sync changes, as server-sent events.

Events: ``ready`` (the current stats and network status, first), ``queue`` (``kind`` and
``ids`` of changed operations), ``stats`` (after each burst of queue changes), ``network``
(``old`` and ``new`` status), ``sync`` (the engine's progress, when it reports any),
``transfer`` (how far a bundle's export or import is: ``phase``, ``done_bytes``,
``total_bytes``, ``operations``, ``total_operations``; a few a second at most), and
``overflow`` when the reader fell too far behind and should reload what it shows.

Everything sent is masked as every other answer of the API is (``mask_secrets``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.sse import EventSourceResponse, ServerSentEvent

from peft_studio_offline.api.deps import runtime_of
from peft_studio_offline.core.events import QueueChange
from peft_studio_offline.core.masking import mask_secrets
from peft_studio_offline.core.runtime import Runtime

log = logging.getLogger(__name__)

router = APIRouter(tags=["events"])

_INBOX_SIZE = 1000
_MAX_IDS = 1000
_CLOSE = ("close", None)


class EventHub:
    """The open streams of one app; ``close()`` ends them all (at server shutdown)."""

    def __init__(self) -> None:
        self.inboxes: set[asyncio.Queue[tuple[str, Any]]] = set()

    def close(self) -> None:
        for inbox in list(self.inboxes):
            with contextlib.suppress(asyncio.QueueFull):
                inbox.put_nowait(_CLOSE)


@router.get("/events", response_class=EventSourceResponse)
async def events(request: Request) -> AsyncIterator[ServerSentEvent]:
    """Server-sent events of queue changes, queue stats, network status and sync progress."""
    runtime = runtime_of(request)
    hub: EventHub = request.app.state.event_hub
    inbox: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(_INBOX_SIZE)
    overflowed = False

    def put(kind: str, data: Any) -> None:
        nonlocal overflowed
        try:
            inbox.put_nowait((kind, data if kind == "queue" else mask_secrets(data)))
        except asyncio.QueueFull:
            overflowed = True

    hub.inboxes.add(inbox)
    unsubscribers = _subscribe(runtime, put)
    try:
        yield ServerSentEvent(event="ready", data=mask_secrets(await _snapshot(runtime)))
        while True:
            kind, data = await inbox.get()
            if (kind, data) == _CLOSE:
                return
            queue_changed = False
            batch = [(kind, data)]
            while not inbox.empty():
                batch.append(inbox.get_nowait())
            for kind, data in batch:
                if (kind, data) == _CLOSE:
                    return
                queue_changed |= kind == "queue"
                yield ServerSentEvent(event=kind, data=data)
            if overflowed:
                overflowed = False
                yield ServerSentEvent(event="overflow", data={"reload": True})
            if queue_changed:
                yield ServerSentEvent(event="stats", data=await runtime.queue.get_queue_stats())
    finally:
        hub.inboxes.discard(inbox)
        for unsubscribe in unsubscribers:
            unsubscribe()


def _subscribe(runtime: Runtime, put: Callable[[str, Any], None]) -> list[Callable[[], None]]:
    def on_queue(change: QueueChange) -> None:
        put("queue", {"kind": change.kind, "ids": list(change.ids[:_MAX_IDS])})

    unsubscribers = [runtime.queue.changes.subscribe(on_queue)]
    with contextlib.suppress(ImportError):
        monitor = runtime.monitor

        def on_network(old: Any, new: Any) -> None:
            put(
                "network",
                {"old": str(getattr(old, "value", old)), "new": str(getattr(new, "value", new))},
            )

        monitor.add_callback(on_network)
        unsubscribers.append(lambda: monitor.remove_callback(on_network))
    unsubscribers.append(
        runtime.transfer_progress.subscribe(
            lambda step: put("transfer", jsonable_encoder(dataclasses.asdict(step)))
        )
    )
    with contextlib.suppress(ImportError):
        engine = runtime.engine
        unsubscribers.append(engine.add_progress_listener(lambda e: put("sync", _plain(e))))
    return unsubscribers


async def _snapshot(runtime: Runtime) -> dict[str, Any]:
    network: dict[str, Any] = {"status": "unknown"}
    with contextlib.suppress(ImportError):
        network = {"status": runtime.monitor.status.value}
    return {"stats": await runtime.queue.get_queue_stats(), "network": network}


def _plain(event: Any) -> Any:
    if hasattr(event, "to_dict"):
        return event.to_dict()
    with contextlib.suppress(TypeError):
        return jsonable_encoder(dataclasses.asdict(event))
    return jsonable_encoder(event)
