"""Secrets go only to their service, and never come back out in what the app records."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from peft_studio_offline.core.handlers.httputil import is_under
from peft_studio_offline.core.logs import forget_secrets
from peft_studio_offline.core.masking import MASK, mask_secrets, mask_text, payload_secrets
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.asgi import AsgiServer
from tests.support.echo import EchoApp
from tests.support.sync_apps import EffectsApp

CREDENTIAL = "stored-credential-0c1d2e"
KEY = "payload-key-3f4a5b"


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    async with OfflineQueueManager(tmp_path / "q.db", backoff_base=0.01) as q:
        yield q


@pytest.fixture
def effects() -> Iterator[tuple[EffectsApp, AsgiServer]]:
    app = EffectsApp()
    with AsgiServer(app) as server:
        yield app, server


@pytest.fixture(autouse=True)
def no_registered_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


def with_api(base_url: str) -> Settings:
    loaded = Settings.load()
    return dataclasses.replace(
        loaded,
        sync=dataclasses.replace(loaded.sync, api_base_url=base_url),
        credentials=dataclasses.replace(loaded.credentials, api_token="studio"),
    )


# --------------------------------------------------------------- the API credential


@pytest.mark.parametrize(
    ("url", "gets_it"),
    [
        ("http://h:8/api", True),
        ("http://h:8/api/", True),
        ("http://h:8/api/runs/1?x=1", True),
        ("http://H:8/api/x", True),
        ("http://h:8/api2/x", False),
        ("http://h:8/apiX/x", False),
        ("http://h:8/api/../admin", False),
        ("http://h:8/api/%2e%2e/admin", False),
        ("http://h:9/api/x", False),
        ("https://h:8/api/x", False),
        ("http://other:8/api/x", False),
        ("http://u:p@h:8/api/x", False),
        ("http://h:8/", False),
    ],
)
def test_the_credential_goes_to_the_base_path_or_below_only(url: str, gets_it: bool) -> None:
    assert is_under(url, "http://h:8/api") is gets_it
    assert is_under(url, "http://h:8/api/") is gets_it


def test_default_ports_are_the_same_origin() -> None:
    assert is_under("http://h:80/api/x", "http://h/api")
    assert is_under("https://h/api/x", "https://h:443/api")
    assert is_under("http://h/anything", "http://h")


async def test_sibling_paths_of_the_api_get_no_credential(
    queue: OfflineQueueManager, effects: tuple[EffectsApp, AsgiServer]
) -> None:
    app, server = effects
    settings = with_api(server.url("/api"))
    for path in ("/api2/x", "/apiX/x", "/api/x", "/api"):
        await queue.enqueue("api_call", {"url": server.url(path), "method": "POST"})
    async with SyncEngine(
        queue, None, settings=settings, credentials=lambda name: CREDENTIAL
    ) as engine:
        assert (await engine.sync())["completed"] == 4
    sent = {seen.path: seen.headers.get("authorization") for seen in app.seen}
    assert sent == {
        "/api2/x": None,
        "/apiX/x": None,
        "/api/x": f"Bearer {CREDENTIAL}",
        "/api": f"Bearer {CREDENTIAL}",
    }


# ----------------------------------------------------------------- what is recorded


async def test_an_echoed_credential_never_reaches_the_error_history_or_result(
    queue: OfflineQueueManager,
) -> None:
    with AsgiServer(EchoApp()) as echo:
        settings = with_api(echo.url("/api"))
        failing = await queue.enqueue(
            "api_call", {"endpoint": "fail", "method": "POST", "headers": {"X-Api-Key": KEY}}
        )
        passing = await queue.enqueue(
            "api_call", {"endpoint": "ok", "method": "POST", "headers": {"X-Api-Key": KEY}}
        )
        broken = await queue.enqueue(
            "api_call", {"endpoint": "fail", "headers": {"X-Api-Key": f"a\r\n{KEY}"}}
        )
        async with SyncEngine(
            queue, None, settings=settings, credentials=lambda name: CREDENTIAL
        ) as engine:
            result = await engine.sync()
    assert result["failed"] == 2 and result["completed"] == 1
    recorded = [repr(result)]
    for op_id in (failing, passing, broken):
        op = await queue.get_operation(op_id)
        assert op is not None
        recorded.append(op.error_message or "")
        recorded.extend(repr(a.to_dict()) for a in await queue.get_attempts(op_id))
    text = "\n".join(recorded)
    assert CREDENTIAL not in text and KEY not in text
    failed = await queue.get_operation(failing)
    assert failed is not None and "authorization: Bearer ***" in (failed.error_message or "")
    assert "values: " in (failed.error_message or "")  # the rest of the answer is kept
    refused = await queue.get_operation(broken)
    assert refused is not None and "header 'X-Api-Key'" in (refused.error_message or "")


# ------------------------------------------------------------------- the masking


def test_every_string_is_masked_as_a_log_line_is() -> None:
    shown = mask_secrets(
        {
            "url": "https://h/x?api_key=k1k1k1&access_token=t2t2t2&page=2",
            "note": "sent with Authorization: Bearer b3b3b3b3",
            "list": ["password=p4p4p4", "https://me:p5p5p5@h/x"],
        }
    )
    assert shown == {
        "url": f"https://h/x?api_key={MASK}&access_token={MASK}&page=2",
        "note": f"sent with Authorization: Bearer {MASK}",
        "list": [f"password={MASK}", f"https://me:{MASK}@h/x"],
    }


def test_an_operations_own_secrets_mask_free_text_about_it() -> None:
    payload = {
        "headers": {"Authorization": "Bearer tok-123456", "X-Api-Key": 987654321},
        "url": "https://me:hunter22@h/x",
        "data": {"max_tokens": 4096},
    }
    secrets = payload_secrets(payload)
    assert {"Bearer tok-123456", "tok-123456", "987654321", "hunter22"} <= secrets
    assert "4096" not in secrets
    text = "bad key 987654321 for tok-123456; basic bWU6aHVudGVyMjI= from hunter22"
    assert mask_text(text, secrets) == f"bad key {MASK} for {MASK}; basic {MASK} from {MASK}"


_LONG_TEXTS = (
    '"a" * 200_000',
    '"a." * 100_000',
    '"token" * 40_000',
    '"https://" + "a:" * 100_000',
    '"x" * 100_000 + "=1"',
)


def test_masking_a_long_text_takes_linear_time() -> None:
    """Masking runs on every shown string, payloads included: no pattern may backtrack.

    (The name pattern of the log filter once took 15 s for 10,000 letters and grew with
    the cube of the length: a large payload shown through the API would never return.)
    A separate process, because a regular expression holds the interpreter until it ends.
    """
    script = (
        "from peft_studio_offline.core.logs import mask_log_text\n"
        f"for text in ({', '.join(_LONG_TEXTS)}):\n"
        "    mask_log_text(text)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], timeout=120, check=False)
    assert result.returncode == 0
