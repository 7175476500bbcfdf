"""The server-sent event stream: queue changes, stats, network status, sync progress."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from tests.api.conftest import LiveApi


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    kind, data = "message", ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            kind = line.split(":", 1)[1].strip()
        elif line.startswith("data:"):
            data += line.split(":", 1)[1].strip()
        elif line == "" and data:
            yield kind, json.loads(data)
            kind, data = "message", ""


async def _until(stream: AsyncIterator[tuple[str, Any]], kind: str) -> Any:
    async with asyncio.timeout(10):
        async for got, data in stream:
            if got == kind:
                return data
    raise AssertionError(f"the stream ended before a {kind!r} event")


async def test_stream_reports_queue_network_and_sync(live_api: LiveApi) -> None:
    async with live_api.client.stream("GET", "/api/offline/events") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = _events(response)
        ready = await _until(stream, "ready")
        assert ready["stats"]["total"] == 0
        assert ready["network"]["status"] == "unknown"

        created = await live_api.client.post(
            "/api/offline/queue",
            json={"operation_type": "api_call", "payload": {"endpoint": "/m"}},
        )
        op_id = created.json()["id"]
        change = await _until(stream, "queue")
        assert change == {"kind": "added", "ids": [op_id]}
        stats = await _until(stream, "stats")
        assert stats["pending"] == 1

        await live_api.client.post("/api/offline/check-connectivity")
        network = await _until(stream, "network")
        assert network == {"old": "unknown", "new": "online"}

        await live_api.client.post("/api/offline/sync")
        progress = await _until(stream, "sync")
        assert progress["kind"] in ("started", "progress", "finished")
        finished = progress
        while finished["kind"] != "finished":
            finished = await _until(stream, "sync")
        assert finished["result"]["completed"] == 1


async def test_stream_needs_the_token(live_api: LiveApi) -> None:
    response = await live_api.anonymous.get("/api/offline/events")
    assert response.status_code == 401


async def test_open_streams_end_when_the_server_stops(live_api: LiveApi) -> None:
    async with live_api.client.stream("GET", "/api/offline/events") as response:
        stream = _events(response)
        await _until(stream, "ready")
        assert len(live_api.runtime.queue.changes) >= 1
        await asyncio.wait_for(live_api.server.stop(), 10)
        async with asyncio.timeout(10):
            async for _ in stream:
                pass
    assert not live_api.server.running
