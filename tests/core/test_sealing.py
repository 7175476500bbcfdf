"""Secrets inside queued payloads are encrypted at rest and sent as they were given.

Real queue files, the real credential file (user-only) holding the key, and a real server
on 127.0.0.1 that keeps what it receives. The Secret Service (GNOME Keyring) runs in
``tests/e2e/test_secrets_at_rest.py``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from keyring.backends import fail

from peft_studio_offline.core.credentials import CredentialStore
from peft_studio_offline.core.enums import OperationStatus
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.logs import forget_secrets
from peft_studio_offline.core.masking import (
    SEALED,
    mask_secrets,
    restore_masked,
    shown_payload_text,
)
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.sealing import KEY_NAME, PayloadSealer, SecretsUnavailableError
from peft_studio_offline.core.settings import Settings
from tests.support.asgi import AsgiServer
from tests.support.recorder import RecorderApp
from tests.support.sqlite_files import connected

BEARER = "bearer-7c1f0e9a55"
API_KEY = "apikey-52d8b3c4"
COOKIE = "cookie-9e4a71d2"
URL_PASSWORD = "urlpass-3b6c2d8e"
QUERY_KEY = "querykey-8f1a4e0b"
BODY_TOKEN = "bodytoken-6d2e9c13"
BODY_PASSWORD = "bodypass-1a7f3b42"
SECRETS = (BEARER, API_KEY, COOKIE, URL_PASSWORD, QUERY_KEY, BODY_TOKEN, BODY_PASSWORD)


def secret_payload(base_url: str) -> dict[str, Any]:
    return {
        "url": f"{base_url.rstrip('/')}/runs?api_key={QUERY_KEY}&page=2",
        "method": "POST",
        "headers": {
            "Authorization": f"Bearer {BEARER}",
            "X-Api-Key": API_KEY,
            "Cookie": f"session={COOKIE}",
            "X-Team": "nlp-team",
        },
        "data": {"token": BODY_TOKEN, "password": BODY_PASSWORD, "name": "keep-me-visible"},
    }


def password_payload(base_url: str) -> dict[str, Any]:
    """A password in the URL: sent as Basic authentication."""
    host = base_url.removeprefix("http://").rstrip("/")
    return {"url": f"http://bob:{URL_PASSWORD}@{host}/basic", "method": "GET"}


def check_received(recorder: RecorderApp, *, with_password: bool = False) -> None:
    """Every request carried every secret as given."""
    received = recorder.received()
    assert len(received) == (2 if with_password else 1)
    (request,) = [r for r in received if r.path == "/runs"]
    assert request.query == f"api_key={QUERY_KEY}&page=2"
    assert request.headers["authorization"] == f"Bearer {BEARER}"
    assert request.headers["x-api-key"] == API_KEY
    assert request.headers["cookie"] == f"session={COOKIE}"
    assert request.headers["x-team"] == "nlp-team"
    body = json.loads(request.body)
    assert body == {"token": BODY_TOKEN, "password": BODY_PASSWORD, "name": "keep-me-visible"}
    if with_password:
        (basic,) = [r for r in received if r.path == "/basic"]
        pair = base64.b64encode(f"bob:{URL_PASSWORD}".encode()).decode()
        assert basic.headers["authorization"] == f"Basic {pair}"


def raw_files(folder: Path) -> bytes:
    """Every byte of every file under ``folder`` (the database, its WAL, the logs)."""
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def assert_no_secret_in(data: bytes) -> None:
    for secret in SECRETS:
        assert secret.encode() not in data, secret
    basic = base64.b64encode(f"bob:{URL_PASSWORD}".encode())
    assert basic not in data


@pytest.fixture(autouse=True)
def no_registered_secrets() -> Iterator[None]:
    forget_secrets()
    yield
    forget_secrets()


@pytest.fixture
def recorder() -> Iterator[tuple[RecorderApp, AsgiServer]]:
    app = RecorderApp()
    with AsgiServer(app) as server:
        yield app, server


def home_settings(home: Path) -> Settings:
    """The settings of an app folder whose secrets live in its user-only file."""
    (home / "config").mkdir(parents=True, exist_ok=True)
    (home / "config" / "settings.toml").write_text(
        '[sync]\nauto_sync = false\n\n[credentials]\nstore = "file"\n'
    )
    return Settings.load(AppPaths.under(home))


async def stored_rows(db: Path) -> list[tuple[str, bytes | None]]:
    def read() -> list[tuple[str, bytes | None]]:
        with connected(db) as conn:
            return list(conn.execute("SELECT payload, payload_blob FROM offline_operations"))

    return await asyncio.to_thread(read)


# ------------------------------------------------------------------ what is stored


async def test_secret_parts_are_encrypted_and_the_rest_stays_readable(
    isolated_home: Path, recorder: tuple[RecorderApp, AsgiServer]
) -> None:
    _, server = recorder
    payload = secret_payload(server.url())
    async with Runtime(home_settings(isolated_home)) as runtime:
        op_id = await runtime.submit("api_call", payload)
        stored = await runtime.queue.get_operation(op_id)
        assert stored is not None
        # Shown (and searched) exactly as before: the masked form of the original.
        assert mask_secrets(stored.payload) == mask_secrets(payload)
        assert shown_payload_text(stored.payload) == shown_payload_text(payload)
        assert [op.id for op in await runtime.queue.list_operations(search="keep-me")] == [op_id]
        assert [op.id for op in await runtime.queue.list_operations(search="nlp-team")] == [op_id]
        assert await runtime.queue.list_operations(search=BODY_TOKEN) == []
        ((text, blob),) = await stored_rows(runtime.db_path)
    assert blob is None
    assert_no_secret_in(text.encode())
    row = json.loads(text)
    assert row["method"] == "POST" and row["headers"]["X-Team"] == "nlp-team"
    assert row["data"]["name"] == "keep-me-visible"
    assert SEALED in row["headers"]["Authorization"] and SEALED in row["data"]["token"]
    assert row["url"]["shown"].endswith("/runs?api_key=***&page=2")
    assert_no_secret_in(raw_files(isolated_home))
    # The key is outside the database, in the user-only credentials file.
    assert KEY_NAME in (isolated_home / "config" / "credentials.toml").read_text()


async def test_a_payload_without_secrets_is_stored_as_given_and_makes_no_key(
    isolated_home: Path,
) -> None:
    payload = {"run_id": "r1", "metrics": [{"key": "tokens_per_second", "value": 1.5}]}
    async with Runtime(home_settings(isolated_home)) as runtime:
        op_id = await runtime.queue.enqueue("metric_log", payload)
        stored = await runtime.queue.get_operation(op_id)
    assert stored is not None and stored.payload == payload
    ((text, _),) = await stored_rows(runtime.db_path)
    assert json.loads(text) == payload
    assert not (isolated_home / "config" / "credentials.toml").exists()


async def test_a_payload_may_not_bring_an_envelope_of_its_own(isolated_home: Path) -> None:
    forged = {"endpoint": "/x", "data": {"note": {SEALED: "v1.00000000.AAAA"}}}
    async with Runtime(home_settings(isolated_home)) as runtime:
        with pytest.raises(InvalidOperationError, match=r"\$sealed"):
            await runtime.submit("api_call", forged)
        assert await runtime.queue.count_operations() == 0


async def test_a_compressed_payload_is_encrypted_before_it_is_compressed(
    isolated_home: Path,
) -> None:
    settings = home_settings(isolated_home)
    payload = {"endpoint": "/big", "headers": {"Authorization": f"Bearer {BEARER}"}}
    payload["data"] = {"filler": "x" * 4096, "token": BODY_TOKEN}
    runtime = Runtime(settings)
    runtime.queue.compress_threshold = 1024
    async with runtime:
        op_id = await runtime.submit("api_call", payload)
        (claimed,) = await runtime.queue.claim(1)
    assert claimed.id == op_id and claimed.payload["data"]["token"] == BODY_TOKEN
    ((_, blob),) = await stored_rows(runtime.db_path)
    assert blob is not None
    assert_no_secret_in(zlib.decompress(blob))


# ------------------------------------------------------------------- what is sent


async def test_the_sent_request_carries_the_original_values(
    isolated_home: Path, recorder: tuple[RecorderApp, AsgiServer]
) -> None:
    app, server = recorder
    settings = home_settings(isolated_home)
    async with Runtime(settings) as runtime:
        op_id = await runtime.submit("api_call", secret_payload(server.url()))
        await runtime.submit("api_call", password_payload(server.url()))
        ((text, _), (password_text, _)) = await stored_rows(runtime.db_path)
        assert "bob:***@" in password_text
        assert_no_secret_in(text.encode() + password_text.encode())
    # A restart of the app: the key is read again from where it is kept.
    async with Runtime(home_settings(isolated_home)) as runtime:
        result = await runtime.engine.sync()
        assert result["completed"] == 2, result
        done = await runtime.queue.get_operation(op_id)
    assert done is not None and done.status is OperationStatus.COMPLETED
    check_received(app, with_password=True)
    assert_no_secret_in(raw_files(isolated_home / "data"))


async def test_plain_payloads_written_by_older_versions_are_sent_as_they_are(
    isolated_home: Path, recorder: tuple[RecorderApp, AsgiServer]
) -> None:
    app, server = recorder
    settings = home_settings(isolated_home)
    async with OfflineQueueManager(settings.paths.database) as older:  # no encryption
        await older.enqueue("api_call", secret_payload(server.url()))
    async with Runtime(settings) as runtime:
        (op,) = await runtime.queue.list_operations()
        assert op.payload == secret_payload(server.url())
        assert (await runtime.engine.sync())["completed"] == 1
    check_received(app)


async def test_a_queue_copied_without_its_key_lists_its_operations_and_they_wait(
    tmp_path: Path, recorder: tuple[RecorderApp, AsgiServer]
) -> None:
    app, server = recorder
    here, there = tmp_path / "laptop", tmp_path / "elsewhere"
    async with Runtime(home_settings(here)) as runtime:
        op_id = await runtime.submit("api_call", secret_payload(server.url()))
    settings = home_settings(there)
    settings.paths.data_dir.mkdir(parents=True)
    shutil.copy(here / "data" / "queue.db", settings.paths.database)
    async with Runtime(settings) as runtime:
        (listed,) = await runtime.queue.list_operations()
        assert listed.id == op_id
        assert mask_secrets(listed.payload) == mask_secrets(secret_payload(server.url()))
        result = await runtime.engine.sync()
        assert result["completed"] == 0 and result["failed"] == 0, result
        assert result["waiting"] == 1 and result["waiting_for"] == ["credentials.store"], result
        waiting = await runtime.queue.get_operation(op_id)
        assert waiting is not None
        assert waiting.status is OperationStatus.PENDING and waiting.retry_count == 0
        assert waiting.error_message is not None
        assert "key" in waiting.error_message and "does not have" in waiting.error_message
        assert KEY_NAME in waiting.error_message
        reason = await runtime.queue.wait_reason(op_id)
        assert reason is not None and KEY_NAME in str(reason)
        assert app.received() == []  # never sent without its credentials
        # The key comes back (the credentials file restored): the operation goes.
        shutil.copy(here / "config" / "credentials.toml", settings.paths.credentials_file)
        await runtime.engine.wake_waiting()
        assert (await runtime.engine.sync())["completed"] == 1
    check_received(app)


async def test_rotation_seals_everything_with_a_new_key_and_removes_the_old_one(
    isolated_home: Path, recorder: tuple[RecorderApp, AsgiServer]
) -> None:
    app, server = recorder
    settings = home_settings(isolated_home)
    async with Runtime(settings) as runtime:
        await runtime.submit("api_call", secret_payload(server.url()))
        sealer = runtime.queue.sealer
        assert sealer is not None
        old = sealer.current_key_id
        before = (await stored_rows(runtime.db_path))[0][0]
        new = await runtime.rotate_payload_key(settle=0)
        after = (await stored_rows(runtime.db_path))[0][0]
    assert old and new != old
    assert f"v1.{old}." in before and f"v1.{old}." not in after and f"v1.{new}." in after
    keys = json.loads(CredentialStore(settings.paths, "file").get(KEY_NAME) or "{}")
    assert set(keys["keys"]) == {new} and keys["current"] == new
    assert_no_secret_in(after.encode())
    async with Runtime(home_settings(isolated_home)) as runtime:
        assert (await runtime.engine.sync())["completed"] == 1
    check_received(app)


async def test_a_changed_envelope_is_refused_not_sent(isolated_home: Path) -> None:
    settings = home_settings(isolated_home)
    sealer = PayloadSealer.from_settings(settings)
    sealed = sealer.seal({"headers": {"Authorization": f"Bearer {BEARER}"}})
    assert sealer.unseal(sealed) == {"headers": {"Authorization": f"Bearer {BEARER}"}}
    envelope = sealed["headers"]["Authorization"][SEALED]
    flipped = envelope[:-2] + ("A" if envelope[-2] != "A" else "B") + envelope[-1]
    with pytest.raises(SecretsUnavailableError, match="cannot be decrypted"):
        sealer.unseal({"headers": {"Authorization": {SEALED: flipped}}})


async def test_without_a_usable_keyring_a_secret_is_refused_and_nothing_is_written(
    isolated_home: Path,
) -> None:
    paths = AppPaths.under(isolated_home)
    store = CredentialStore(paths, "keyring", keyring_backend=fail.Keyring())
    async with OfflineQueueManager(paths.database, sealer=PayloadSealer(store)) as queue:
        with pytest.raises(SecretsUnavailableError, match="cannot be encrypted"):
            await queue.enqueue("api_call", {"endpoint": "/x", "headers": {"X-Api-Key": API_KEY}})
        assert await queue.count_operations() == 0
        # A payload without secrets needs no key.
        await queue.enqueue("metric_log", {"run_id": "r", "metrics": {"loss": 1.0}})
        assert await queue.count_operations() == 1
    assert not paths.credentials_file.exists()


async def test_a_secret_nested_deeper_than_the_screen_shows_is_encrypted_too(
    isolated_home: Path,
) -> None:
    deep: dict[str, Any] = {"token": BODY_TOKEN}
    for _ in range(70):
        deep = {"level": deep}
    payload = {"endpoint": "/deep", "data": deep}
    async with Runtime(home_settings(isolated_home)) as runtime:
        await runtime.submit("api_call", payload)
        ((text, _),) = await stored_rows(runtime.db_path)
        (claimed,) = await runtime.queue.claim(1)
    assert BODY_TOKEN not in text and SEALED in text
    assert claimed.payload == payload


async def test_the_local_side_of_a_conflict_is_kept_encrypted(isolated_home: Path) -> None:
    local = {"token": BODY_TOKEN, "name": "keep-me-visible"}
    async with Runtime(home_settings(isolated_home)) as runtime:
        op_id = await runtime.submit("api_call", {"endpoint": "/x", "method": "PUT", "data": local})
        (claimed,) = await runtime.queue.claim(1)
        assert claimed.payload["data"] == local  # opened for sending
        await runtime.queue.mark_conflict(op_id, local=claimed.payload["data"], remote={})
        await runtime.queue.record_event(op_id, "note", None, {"local": claimed.payload["data"]})
        record = await runtime.queue.get_conflict(op_id)
        history = await runtime.queue.get_attempts(op_id)
    assert record is not None and SEALED in json.dumps(record.local)
    assert mask_secrets(record.local) == mask_secrets(local)
    assert SEALED in json.dumps(history[-1].details)
    assert_no_secret_in(raw_files(isolated_home / "data"))


SEAL_IN_A_PROCESS = """
import json, sys
from pathlib import Path
from peft_studio_offline.core.credentials import CredentialStore
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.sealing import PayloadSealer

store = CredentialStore(AppPaths.under(Path(sys.argv[1])), "file")
print(json.dumps(PayloadSealer(store).seal({"api_key": sys.argv[2]})))
"""


def test_processes_sealing_their_first_secret_at_once_share_one_key(tmp_path: Path) -> None:
    """The app and a training script may queue their first secret at the same moment."""
    home = tmp_path / "app"
    children = [
        subprocess.Popen(
            [sys.executable, "-c", SEAL_IN_A_PROCESS, str(home), f"key-{n}"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
        for n in range(4)
    ]
    sealed = [json.loads(child.communicate(timeout=60)[0]) for child in children]
    assert all(child.returncode == 0 for child in children)
    sealer = PayloadSealer(CredentialStore(AppPaths.under(home), "file"))
    assert [sealer.unseal(s) for s in sealed] == [{"api_key": f"key-{n}"} for n in range(4)]
    assert len({envelope["api_key"][SEALED].split(".")[1] for envelope in sealed}) == 1


async def parked_conflict(runtime: Runtime, base_url: str) -> int:
    """An api_call full of secrets, claimed and parked in conflict with a remote side."""
    op_id = await runtime.submit("api_call", {**secret_payload(base_url), "etag": "v1"})
    (claimed,) = await runtime.queue.claim(1)
    await runtime.queue.mark_conflict(
        op_id, local=claimed.payload["data"], remote={"name": "theirs"}
    )
    return op_id


async def resolve_and_send(runtime: Runtime, op_id: int, *resolution: Any) -> None:
    """Resolve as given; the re-queued payload keeps its secrets encrypted; sync it."""
    await runtime.engine.resolve_conflict(op_id, *resolution)
    ((text, _),) = await stored_rows(runtime.db_path)
    assert_no_secret_in(text.encode())
    assert "etag" not in json.loads(text)  # the re-send is unconditional
    assert (await runtime.engine.sync())["completed"] == 1


async def test_a_conflict_kept_local_is_queued_again_encrypted_and_sent_intact(
    isolated_home: Path, recorder: tuple[RecorderApp, AsgiServer]
) -> None:
    app, server = recorder
    async with Runtime(home_settings(isolated_home)) as runtime:
        op_id = await parked_conflict(runtime, server.url())
        await resolve_and_send(runtime, op_id, "local_wins")
    check_received(app)


async def test_a_merge_edited_as_shown_masked_is_sent_with_the_secrets_intact(
    isolated_home: Path, recorder: tuple[RecorderApp, AsgiServer]
) -> None:
    app, server = recorder
    async with Runtime(home_settings(isolated_home)) as runtime:
        op_id = await parked_conflict(runtime, server.url())
        record = await runtime.queue.get_conflict(op_id)
        assert record is not None
        # What the conflict dialog shows and a person edits: secrets as ***.
        merged = mask_secrets(record.local)
        assert merged["token"] == "***" and merged["password"] == "***"
        await resolve_and_send(runtime, op_id, "merged", merged)
    check_received(app)


def test_restoring_masked_parts_keeps_what_was_edited() -> None:
    original = {
        "token": BODY_TOKEN,
        "url": f"https://bob:{URL_PASSWORD}@example.com/x",
        "items": [{"api_key": API_KEY}, "plain"],
        "name": "mine",
    }
    edited = mask_secrets(original)
    edited["name"] = "merged"
    edited["items"][1] = "changed"
    edited["extra"] = "new"
    restored = restore_masked(edited, original)
    assert restored == {
        "token": BODY_TOKEN,
        "url": original["url"],
        "items": [{"api_key": API_KEY}, "changed"],
        "name": "merged",
        "extra": "new",
    }
    # A secret the person replaced on purpose is sent as they typed it.
    edited["token"] = "a-new-token"
    assert restore_masked(edited, original)["token"] == "a-new-token"
