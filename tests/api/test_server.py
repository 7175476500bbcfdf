"""Serving: loopback only, a clear message for a taken port, the discovery file."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import sys
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.api.discovery import read_server_info, server_file
from peft_studio_offline.api.server import ApiServer, PortInUseError, ServerError, start_api
from peft_studio_offline.core.runtime import Runtime
from tests.api.conftest import LiveApi
from tests.support.netns import Link, link, needs_namespaces

__all__ = ["link"]  # the fixture


async def test_discovery_file_names_the_server_while_it_runs(live_api: LiveApi) -> None:
    path = server_file(live_api.runtime.settings.paths.data_dir)
    info = read_server_info(path)
    assert info is not None
    assert info.url == live_api.server.url
    assert info.pid == os.getpid()
    assert "token" not in path.read_text()
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    await live_api.server.stop()
    assert not path.exists()


def test_a_file_left_by_a_dead_process_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "api-server.json"
    path.write_text(json.dumps({"url": "http://127.0.0.1:1", "pid": 2**22 + 12345}))
    assert read_server_info(path) is None
    path.write_text("not json")
    assert read_server_info(path) is None


async def test_a_taken_port_is_reported_clearly(live_api: LiveApi) -> None:
    port = httpx.URL(live_api.server.url).port
    assert port is not None
    second = ApiServer(live_api.runtime, port=port, token=live_api.server.token)
    with pytest.raises(PortInUseError, match=rf"Port {port} .* already in use.*--port.*api\.port"):
        await second.start()
    # The first server is unharmed.
    assert (await live_api.client.get("/api/offline/queue/stats")).status_code == 200


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "example.com", "::"])
def test_only_loopback_without_the_explicit_flag(host: str) -> None:
    runtime = Runtime()
    with pytest.raises(ServerError, match="--allow-remote"):
        ApiServer(runtime, host=host, port=0)


# A request from another machine: a process in a network namespace of the test's own,
# reaching the host over a veth pair (the server is never reachable from outside).
REMOTE_REQUEST = """
import sys, httpx
url, token = sys.argv[1], sys.argv[2]
with httpx.Client(trust_env=False, timeout=10) as http:
    denied = http.get(url + "/api/offline/queue/stats").status_code
    allowed = http.get(url + "/api/offline/queue/stats",
                       headers={"Authorization": "Bearer " + token}).status_code
print(denied, allowed)
"""


@needs_namespaces
async def test_remote_host_with_the_flag(isolated_home: Path, link: Link) -> None:
    """Listening on an address that is not loopback, it answers another machine there, and
    only with the token."""
    runtime = Runtime()
    server = ApiServer(runtime, host=link.host_address, port=0, allow_remote=True)
    url = await server.start()
    try:
        assert httpx.URL(url).host == link.host_address
        remote = await asyncio.create_subprocess_exec(
            *link.exec_prefix(), sys.executable, "-c", REMOTE_REQUEST, url, server.token,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(remote.communicate(), 60)
        assert remote.returncode == 0, err.decode()
        assert out.decode().split() == ["401", "200"]
        with pytest.raises(OSError):  # not on loopback: only where it was told to listen
            socket.create_connection(("127.0.0.1", httpx.URL(url).port), timeout=5).close()
    finally:
        await server.stop()
        await runtime.close()


async def test_same_token_across_restarts(isolated_home: Path) -> None:
    runtime = Runtime()
    first = ApiServer(runtime, port=0)
    second = ApiServer(runtime, port=0)
    assert first.token == second.token
    await runtime.close()


async def test_openapi_document(live_api: LiveApi) -> None:
    response = await live_api.client.get("/api/offline/openapi.json")
    assert response.status_code == 200
    document = response.json()
    paths = document["paths"]
    for path, method in [
        ("/api/offline/network-status", "get"),
        ("/api/offline/check-connectivity", "post"),
        ("/api/offline/queue", "post"),
        ("/api/offline/queue", "get"),
        ("/api/offline/queue/{operation_id}", "get"),
        ("/api/offline/queue/{operation_id}", "delete"),
        ("/api/offline/queue/stats", "get"),
        ("/api/offline/queue/clear-completed", "post"),
        ("/api/offline/sync", "post"),
        ("/api/offline/sync/status", "get"),
        ("/api/offline/sync/start-auto", "post"),
        ("/api/offline/sync/stop-auto", "post"),
        ("/api/offline/sync/conflict-strategy", "post"),
    ]:
        assert method in paths[path], (path, method)
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert document["security"] == [{"bearerAuth": []}]


async def test_start_api_for_the_window_survives_a_taken_port(live_api: LiveApi) -> None:
    port = httpx.URL(live_api.server.url).port
    assert await start_api(live_api.runtime, port=port) is None
    server = await start_api(live_api.runtime, port=0)
    assert server is not None
    try:
        assert server.running
    finally:
        await server.stop()
