"""Work that would pause the GUI thread in the middle of a sync is done elsewhere."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.gui.conftest import Core
from tests.support.servers import HttpServer, Reply


@pytest.fixture
def server() -> Iterator[HttpServer]:
    with HttpServer(Reply(200, "{}", {"Content-Type": "application/json"})) as running:
        yield running


async def test_the_first_sync_reads_the_certificate_store_off_the_gui_thread(
    core: Core, server: HttpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    make_context = httpx.create_ssl_context

    def recorded(*args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread())
        return make_context(*args, **kwargs)

    monkeypatch.setattr(httpx, "create_ssl_context", recorded)
    await core.queue.enqueue("api_call", {"url": server.url("/x")})
    result = await core.engine.sync()
    assert result["completed"] == 1
    assert threads and threading.main_thread() not in threads  # 10-20 ms not on the loop
