"""The API serves on the window's qasync loop, next to Qt, with no thread of its own."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.api.server import ApiServer
from peft_studio_offline.core.runtime import Runtime

qasync = pytest.importorskip("qasync")
QtWidgets = pytest.importorskip("PySide6.QtWidgets")


def test_api_on_a_qasync_loop(isolated_home: Path) -> None:
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)

    async def scenario() -> tuple[int, int, str]:
        runtime = Runtime()
        await runtime.queue.open()
        server = ApiServer(runtime, port=0)
        url = await server.start()
        try:
            headers = {"Authorization": f"Bearer {server.token}"}
            async with httpx.AsyncClient(base_url=url, headers=headers, timeout=10) as client:
                created = await client.post(
                    "/api/offline/queue",
                    json={"operation_type": "api_call", "payload": {"endpoint": "/m"}},
                )
                stats = await client.get("/api/offline/queue/stats")
        finally:
            await server.stop()
            await runtime.close()
        return created.status_code, stats.json()["pending"], url

    try:
        created, pending, url = loop.run_until_complete(scenario())
    finally:
        loop.close()
        gc.collect()
    assert created == 201
    assert pending == 1
    assert url.startswith("http://127.0.0.1:")
