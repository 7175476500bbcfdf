"""The API's limits: request bodies counted as they arrive, and connections without Nagle."""

from __future__ import annotations

import dataclasses
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.api.server import ApiServer
from peft_studio_offline.core.errors import SettingsError
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from tests.api.conftest import LiveApi

LIMIT = 64 * 1024


@pytest.fixture
async def small_limit_api(
    isolated_home: Path,
) -> AsyncIterator[tuple[ApiServer, httpx.AsyncClient]]:
    settings = Settings.load(
        AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(isolated_home)})
    )
    settings = dataclasses.replace(
        settings,
        api=dataclasses.replace(settings.api, max_request_bytes=LIMIT),
        sync=dataclasses.replace(settings.sync, auto_sync=False),
        network=dataclasses.replace(settings.network, endpoints=()),
    )
    runtime = Runtime(settings)
    server = ApiServer(runtime, port=0)
    url = await server.start()
    headers = {"Authorization": f"Bearer {server.token}"}
    async with httpx.AsyncClient(
        base_url=url + "/api/offline", headers=headers, timeout=30
    ) as client:
        yield server, client
    await server.stop()
    await runtime.close()


def _enqueue_body(size: int) -> bytes:
    """A valid enqueue request of exactly ``size`` bytes."""
    body = {"operation_type": "api_call", "payload": {"url": "http://h/x", "data": ""}}
    body["payload"]["data"] = "x" * (size - len(json.dumps(body)))
    return json.dumps(body).encode()


async def _chunks(body: bytes, size: int = 16 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(body), size):
        yield body[start : start + size]


async def test_a_chunked_body_over_the_limit_is_refused_and_nothing_is_written(
    small_limit_api: tuple[ApiServer, httpx.AsyncClient],
) -> None:
    server, client = small_limit_api
    body = _enqueue_body(4 * LIMIT)
    response = await client.post(
        "/queue", content=_chunks(body), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "The request body is larger than the limit of 64 KiB"
        " (api.max_request_bytes in settings.toml)."
    )
    assert (await server.runtime.queue.get_queue_stats())["total"] == 0


async def test_a_body_announced_over_the_limit_is_refused(
    small_limit_api: tuple[ApiServer, httpx.AsyncClient],
) -> None:
    server, client = small_limit_api
    response = await client.post(
        "/queue", content=_enqueue_body(LIMIT + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert "64 KiB" in response.json()["detail"]
    assert (await server.runtime.queue.get_queue_stats())["total"] == 0


async def test_bodies_within_the_limit_are_taken_chunked_or_not(
    small_limit_api: tuple[ApiServer, httpx.AsyncClient],
) -> None:
    server, client = small_limit_api
    body = _enqueue_body(LIMIT)
    headers = {"Content-Type": "application/json"}
    assert (await client.post("/queue", content=body, headers=headers)).status_code == 201
    chunked = await client.post("/queue", content=_chunks(body), headers=headers)
    assert chunked.status_code == 201, chunked.text
    operation = (await client.get(f"/queue/{chunked.json()['id']}")).json()
    assert operation["payload"] == json.loads(body)["payload"]
    assert (await server.runtime.queue.get_queue_stats())["total"] == 2
    # The connection is still good after a refusal.
    refused = await client.post(
        "/queue", content=_chunks(_enqueue_body(2 * LIMIT)), headers=headers
    )
    assert refused.status_code == 413
    assert (await client.get("/queue/stats")).status_code == 200


def test_the_default_limit_is_at_most_32_mib_and_must_be_positive(tmp_path: Path) -> None:
    paths = AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(tmp_path)})
    assert 0 < Settings(paths).api.max_request_bytes <= 32 * 1024 * 1024
    with pytest.raises(SettingsError, match=r"api\.max_request_bytes"):
        Settings.from_mapping(paths, {"api": {"max_request_bytes": 0}})


async def test_accepted_connections_send_without_delay(live_api: LiveApi) -> None:
    """Nagle's algorithm held every kept-alive request ~40 ms behind a delayed ACK."""
    response = await live_api.client.get("/api/offline/queue/stats")
    assert response.status_code == 200
    assert live_api.server._server is not None
    connections = live_api.server._server.server_state.connections
    assert connections
    for protocol in connections:
        sock = protocol.transport.get_extra_info("socket")  # type: ignore[attr-defined]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
