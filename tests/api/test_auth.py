"""Every request needs the bearer token; the token file is private and stable."""

from __future__ import annotations

import os
import stat

import httpx
import pytest

from tests.api.conftest import LiveApi

ROUTES = [
    ("GET", "/api/offline/network-status"),
    ("POST", "/api/offline/check-connectivity"),
    ("POST", "/api/offline/queue"),
    ("GET", "/api/offline/queue"),
    ("GET", "/api/offline/queue/1"),
    ("DELETE", "/api/offline/queue/1"),
    ("GET", "/api/offline/queue/stats"),
    ("POST", "/api/offline/queue/clear-completed"),
    ("POST", "/api/offline/sync"),
    ("GET", "/api/offline/sync/status"),
    ("POST", "/api/offline/sync/start-auto"),
    ("POST", "/api/offline/sync/stop-auto"),
    ("POST", "/api/offline/sync/conflict-strategy"),
    ("GET", "/api/offline/conflicts"),
    ("GET", "/api/offline/events"),
    ("GET", "/api/offline/openapi.json"),
    ("GET", "/api/offline/no-such-endpoint"),
    ("GET", "/"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_no_token_is_401_everywhere(live_api: LiveApi, method: str, path: str) -> None:
    response = await live_api.anonymous.request(method, path, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in response.json()["detail"]


@pytest.mark.parametrize(
    "header",
    [
        "Bearer wrong",
        "Basic {token}",
        "Bearer {token}x",
        "{token}",
    ],
)
async def test_wrong_token_is_401(live_api: LiveApi, header: str) -> None:
    value = header.format(token=live_api.server.token)
    response = await live_api.anonymous.get(
        "/api/offline/queue/stats", headers={"Authorization": value}
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "The bearer token is not valid.", "field": None}


async def test_nothing_is_written_without_the_token(live_api: LiveApi) -> None:
    response = await live_api.anonymous.post(
        "/api/offline/queue", json={"operation_type": "api_call", "payload": {}}
    )
    assert response.status_code == 401
    assert (await live_api.runtime.queue.get_queue_stats())["total"] == 0


async def test_the_right_token_works(live_api: LiveApi) -> None:
    response = await live_api.client.get("/api/offline/queue/stats")
    assert response.status_code == 200


async def test_token_file_is_private_and_holds_the_token(live_api: LiveApi) -> None:
    path = live_api.runtime.settings.paths.token_file
    assert path.name == "api-token"
    assert path.parent == live_api.runtime.settings.paths.data_dir
    assert path.read_text().strip() == live_api.server.token
    assert len(live_api.server.token) >= 32
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


async def test_listens_on_loopback_only(live_api: LiveApi) -> None:
    url = httpx.URL(live_api.server.url)
    assert url.host == "127.0.0.1"
