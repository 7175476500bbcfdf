"""The local API answers only this machine's names, any case of 'Bearer', and bounded clients."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from peft_studio_offline.api import server as api_server
from peft_studio_offline.api.app import create_app
from peft_studio_offline.api.server import remote_warning
from tests.api.conftest import LiveApi


def _port(live_api: LiveApi) -> int:
    return int(live_api.server.url.rsplit(":", 1)[1])


@pytest.mark.parametrize("scheme", ["bearer", "BEARER", "Bearer", "bEaReR"])
async def test_the_bearer_scheme_is_case_insensitive(live_api: LiveApi, scheme: str) -> None:
    answer = await live_api.anonymous.get(
        "/api/offline/queue/stats",
        headers={"Authorization": f"{scheme} {live_api.server.token}"},
    )
    assert answer.status_code == 200


@pytest.mark.parametrize("value", ["Basic {t}", "Bearer", "{t}", "Bearer {t}x", "Bearerx {t}"])
async def test_other_schemes_and_wrong_tokens_are_refused(live_api: LiveApi, value: str) -> None:
    answer = await live_api.anonymous.get(
        "/api/offline/queue/stats",
        headers={"Authorization": value.format(t=live_api.server.token)},
    )
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("host", "status"),
    [
        ("127.0.0.1:{port}", 200),
        ("localhost:{port}", 200),
        ("LOCALHOST", 200),
        ("[::1]:{port}", 200),
        ("evil.example:{port}", 400),
        ("evil.example", 400),
        ("127.0.0.1.evil.example", 400),
        ("192.168.1.20:{port}", 400),
    ],
)
async def test_only_requests_addressed_to_this_machine_are_answered(
    live_api: LiveApi, host: str, status: int
) -> None:
    answer = await live_api.client.get(
        "/api/offline/queue/stats", headers={"Host": host.format(port=_port(live_api))}
    )
    assert answer.status_code == status, answer.text
    if status == 400:
        assert "Host header" in answer.json()["detail"]


async def test_listening_on_every_address_accepts_addresses_but_not_foreign_names(
    live_api: LiveApi,
) -> None:
    app = create_app(live_api.runtime, "t" * 32, bind_host="0.0.0.0")
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {'t' * 32}"}
    async with httpx.AsyncClient(transport=transport, headers=headers) as client:
        for host, status in (
            ("http://192.168.1.20:8765", 200),
            (f"http://{socket.gethostname()}:8765", 200),
            ("http://evil.example:8765", 400),
        ):
            answer = await client.get(f"{host}/api/offline/queue/stats")
            assert answer.status_code == status, host


@pytest.fixture
def short_header_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(api_server, "HEADER_TIMEOUT", 0.5, raising=False)


@contextlib.contextmanager
def raw_connection(port: int) -> Iterator[socket.socket]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        yield sock
    finally:
        sock.close()


async def test_headers_that_never_end_do_not_hold_a_connection(
    short_header_timeout: None, live_api: LiveApi
) -> None:
    with raw_connection(_port(live_api)) as sock:
        sock.sendall(b"GET /api/offline/queue/stats HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        started = time.monotonic()

        def read() -> bytes:
            try:
                return sock.recv(1024)
            except TimeoutError:
                return b"still open"

        assert await asyncio.to_thread(read) == b""  # closed by the server
        assert time.monotonic() - started < 4


async def test_a_kept_alive_connection_gets_a_new_deadline_per_request(
    short_header_timeout: None, live_api: LiveApi
) -> None:
    """An answer that takes longer than the deadline is not cut: only the headers are timed."""
    async with httpx.AsyncClient(base_url=live_api.server.url) as client:
        headers = {"Authorization": f"Bearer {live_api.server.token}"}
        for _ in range(3):
            answer = await client.get("/api/offline/queue/stats", headers=headers)
            assert answer.status_code == 200
            await asyncio.sleep(0.2)


async def test_connections_beyond_the_limit_get_503(
    monkeypatch: pytest.MonkeyPatch, live_api: LiveApi
) -> None:
    await live_api.server.stop()
    monkeypatch.setattr(api_server, "MAX_CONNECTIONS", 3)
    await live_api.server.start()
    port = _port(live_api)
    with contextlib.ExitStack() as stack:
        for _ in range(3):
            stack.enter_context(raw_connection(port))
        await asyncio.sleep(0.2)
        headers = {"Authorization": f"Bearer {live_api.server.token}"}
        async with httpx.AsyncClient(base_url=live_api.server.url) as client:
            answer = await client.get("/api/offline/queue/stats", headers=headers)
    assert answer.status_code == 503


def test_the_remote_warning_names_the_risk_and_the_safe_ways() -> None:
    text = remote_warning("0.0.0.0", 8765)
    assert "plain HTTP" in text and "read the token" in text
    assert "ssh -N -L 8765:127.0.0.1:8765" in text and "TLS reverse proxy" in text


async def test_a_long_answer_is_not_cut_by_the_header_deadline(
    short_header_timeout: None, live_api: LiveApi
) -> None:
    async with live_api.client.stream("GET", "/api/offline/events") as response:
        lines = response.aiter_lines()
        async with asyncio.timeout(10):
            while not (await anext(lines)).startswith("event: ready"):
                pass
        await asyncio.sleep(1.5)  # three deadlines pass while the stream is open
        await live_api.runtime.queue.enqueue("api_call", {"endpoint": "/m"})
        async with asyncio.timeout(10):
            while not (await anext(lines)).startswith("event: queue"):
                pass
