"""A real API server on 127.0.0.1 (uvicorn on the test's event loop) over a real queue file."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.api.server import ApiServer
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from tests.support.servers import HttpServer, Reply


@dataclass
class LiveApi:
    server: ApiServer
    runtime: Runtime
    client: httpx.AsyncClient  # carries the token
    anonymous: httpx.AsyncClient  # carries none
    base: str  # http://127.0.0.1:PORT/api/offline
    upload_root: Path
    target: HttpServer  # the service operations are synced to (API base URL, health check)


def make_settings(home: Path, upload_root: Path, target: HttpServer) -> Settings:
    settings = Settings.load(AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(home)}))
    return dataclasses.replace(
        settings,
        sync=dataclasses.replace(
            settings.sync,
            upload_roots=(str(upload_root),),
            auto_sync=False,
            api_base_url=target.url("/"),
        ),
        network=dataclasses.replace(
            settings.network, endpoints=(target.url("/health"),), failure_threshold=1
        ),
    )


@pytest.fixture
def target() -> Iterator[HttpServer]:
    with HttpServer(Reply(200, b'{"ok": true}', {"Content-Type": "application/json"})) as server:
        yield server


@pytest.fixture
async def live_api(
    isolated_home: Path, tmp_path: Path, target: HttpServer
) -> AsyncIterator[LiveApi]:
    upload_root = tmp_path / "uploads"
    upload_root.mkdir()
    runtime = Runtime(make_settings(isolated_home, upload_root, target))
    await runtime.queue.open()
    server = ApiServer(runtime, port=0)
    url = await server.start()
    headers = {"Authorization": f"Bearer {server.token}"}
    async with (
        httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client,
        httpx.AsyncClient(base_url=url, timeout=10) as anonymous,
    ):
        yield LiveApi(server, runtime, client, anonymous, f"{url}/api/offline", upload_root, target)
    await server.stop()
    await runtime.close()
