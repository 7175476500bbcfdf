"""A service that echoes what it was sent: no secret comes back out of the API or its stream."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from peft_studio_offline.api.server import ApiServer
from peft_studio_offline.core.credentials import CredentialStore
from peft_studio_offline.core.logs import forget_secrets
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from tests.support.asgi import AsgiServer
from tests.support.echo import EchoApp

TOKEN = "studio-credential-9f8e7d"  # the stored API credential
KEY = "payload-api-key-4c3b2a"  # a header value of one payload
QUERY_KEY, QUERY_TOKEN = "query-key-1a2b", "query-token-3c4d"
PASSWORD = "url-pa55word-5e6f"
BROKEN = "broken-header-secret-7a8b"
SECRETS = (
    TOKEN,
    KEY,
    QUERY_KEY,
    QUERY_TOKEN,
    PASSWORD,
    base64.b64encode(f"me:{PASSWORD}".encode()).decode(),
    BROKEN,
)


@pytest.fixture
def echo() -> Iterator[AsgiServer]:
    with AsgiServer(EchoApp()) as server:
        yield server


def echo_settings(home: Path, echo: AsgiServer) -> Settings:
    settings = Settings.load(AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(home)}))
    return dataclasses.replace(
        settings,
        sync=dataclasses.replace(settings.sync, auto_sync=False, api_base_url=echo.url("/api")),
        network=dataclasses.replace(settings.network, endpoints=(echo.url("/health"),)),
        credentials=dataclasses.replace(settings.credentials, api_token="studio", store="file"),
    )


def echoing_payloads(echo: AsgiServer) -> list[dict[str, Any]]:
    netloc = echo.url("/").split("//", 1)[1].rstrip("/")
    return [
        {"endpoint": "fail/a", "method": "POST", "headers": {"X-Api-Key": KEY}},
        {"endpoint": "ok/b", "method": "POST", "headers": {"X-Api-Key": KEY}},
        {
            "url": echo.url(f"/api/fail/c?api_key={QUERY_KEY}&access_token={QUERY_TOKEN}"),
            "method": "GET",
        },
        {"url": f"http://me:{PASSWORD}@{netloc}/fail/d", "method": "POST"},
    ]


# A header HTTP refuses is refused when queued, by name, never quoting its value.
BROKEN_HEADER = {"endpoint": "fail/e", "method": "POST", "headers": {"X-Api-Key": f"x\n{BROKEN}"}}


def leaked(text: str) -> list[str]:
    return [secret for secret in SECRETS if secret in text]


@pytest.fixture
async def api(isolated_home: Path, echo: AsgiServer) -> AsyncIterator[tuple[Runtime, str, str]]:
    settings = echo_settings(isolated_home, echo)
    CredentialStore.from_settings(settings).set("studio", TOKEN)
    forget_secrets()  # as in a new process: the secret is known once it is read to be sent
    runtime = Runtime(settings)
    await runtime.queue.open()
    server = ApiServer(runtime, port=0)
    url = await server.start()
    yield runtime, url, server.token
    await server.stop()
    await runtime.close()
    forget_secrets()


async def _stream_text(client: httpx.AsyncClient, done: asyncio.Event, into: list[str]) -> None:
    async with client.stream("GET", "/api/offline/events") as response:
        async for line in response.aiter_lines():
            into.append(line)
            if '"kind":"finished"' in line.replace(" ", ""):
                done.set()
                return


async def test_nothing_echoed_reaches_the_answers_or_the_event_stream(
    api: tuple[Runtime, str, str], echo: AsgiServer
) -> None:
    _runtime, url, token = api
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=20) as client:
        refused = await client.post(
            "/api/offline/queue", json={"operation_type": "api_call", "payload": BROKEN_HEADER}
        )
        assert refused.status_code == 422 and "header 'X-Api-Key'" in refused.text
        assert leaked(refused.text) == []
        ids = []
        for payload in echoing_payloads(echo):
            created = await client.post(
                "/api/offline/queue", json={"operation_type": "api_call", "payload": payload}
            )
            assert created.status_code == 201, created.text
            assert leaked(created.text) == []
            ids.append(created.json()["id"])
        lines: list[str] = []
        finished = asyncio.Event()
        reader = asyncio.create_task(_stream_text(client, finished, lines))
        await asyncio.sleep(0.3)  # the stream is open before the run starts
        synced = await client.post("/api/offline/sync")
        assert synced.status_code == 200
        await asyncio.wait_for(finished.wait(), 20)
        await reader
        result = synced.json()
        assert result["completed"] == 1 and result["failed"] == 3, result
        answers = [synced.text, "\n".join(lines)]
        listed = await client.get("/api/offline/queue")
        answers.append(listed.text)
        for op_id in ids:
            answers.append((await client.get(f"/api/offline/queue/{op_id}")).text)
        answers.append((await client.get("/api/offline/sync/status")).text)
    everything = "\n".join(answers)
    assert leaked(everything) == []
    details = [json.loads(text) for text in answers[3:7]]
    # What the service said is still there, with the secrets masked.
    assert "x-api-key: ***" in details[0]["error_message"]
    assert details[1]["attempts"][-1]["details"]["response"]["headers"]["x-api-key"] == "***"
    assert "api_key=***" in details[2]["payload"]["url"]
