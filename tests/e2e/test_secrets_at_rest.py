"""From outside the app: no queued secret is in its files, and each reaches its service intact.

The app serves its API in a child process (``serve``); operations carrying secrets come in
through each front-end: the HTTP API, the command line, the Python client (through the API
and straight into the database) and the core's Python submit path, each in a process of its
own. This test then reads the raw bytes of every file in the app's folders (the database,
its WAL, the logs) while the app still runs, rotates the key, restarts the app and syncs to
a server on 127.0.0.1 that keeps what it receives.

It runs twice: with the key in the user-only credentials file, and with the key in a real
Secret Service (GNOME Keyring on a private D-Bus session).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.asgi import AsgiServer
from tests.support.recorder import RecorderApp
from tests.support.secret_service import secret_service, unavailable_reason

ROOT = Path(__file__).resolve().parents[2]
FRONT_ENDS = ("api", "cli", "client-api", "client-db", "python")
API = "/api/offline"


def secrets_of(name: str) -> dict[str, str]:
    tag = name.replace("-", "")
    return {
        "bearer": f"bearer{tag}7c1f0e",
        "api_key": f"apikey{tag}52d8b3",
        "cookie": f"cookie{tag}9e4a71",
        "query": f"query{tag}8f1a4e",
        "token": f"token{tag}6d2e9c",
        "password": f"password{tag}1a7f3b",
        "url_password": f"urlpass{tag}3b6c2d",
    }


def all_secrets() -> list[str]:
    found = [value for name in FRONT_ENDS for value in secrets_of(name).values()]
    for name in FRONT_ENDS:  # the URL password is also sent as Basic authentication
        pair = f"bob:{secrets_of(name)['url_password']}".encode()
        found.append(base64.b64encode(pair).decode())
    return found


def payloads(name: str, base_url: str) -> list[dict[str, Any]]:
    s = secrets_of(name)
    host = base_url.removeprefix("http://").rstrip("/")
    return [
        {
            "url": f"{base_url}/{name}?api_key={s['query']}&page=2",
            "method": "POST",
            "headers": {
                "Authorization": f"Bearer {s['bearer']}",
                "X-Api-Key": s["api_key"],
                "Cookie": f"session={s['cookie']}",
                "X-Team": "nlp",
            },
            "data": {"token": s["token"], "password": s["password"], "name": name},
        },
        {"url": f"http://bob:{s['url_password']}@{host}/{name}/basic", "method": "GET"},
    ]


def check_received(app: RecorderApp) -> None:
    received = {request.path: request for request in app.received()}
    assert len(received) == 2 * len(FRONT_ENDS), sorted(received)
    for name in FRONT_ENDS:
        s = secrets_of(name)
        request = received[f"/{name}"]
        assert request.query == f"api_key={s['query']}&page=2"
        assert request.headers["authorization"] == f"Bearer {s['bearer']}"
        assert request.headers["x-api-key"] == s["api_key"]
        assert request.headers["cookie"] == f"session={s['cookie']}"
        body = json.loads(request.body)
        assert body == {"token": s["token"], "password": s["password"], "name": name}
        basic = received[f"/{name}/basic"].headers["authorization"]
        assert basic == "Basic " + base64.b64encode(f"bob:{s['url_password']}".encode()).decode()


def assert_no_secret_in_files(*folders: Path) -> None:
    files = [p for folder in folders for p in sorted(folder.rglob("*")) if p.is_file()]
    for path in files:
        data = path.read_bytes()
        for secret in all_secrets():
            assert secret.encode() not in data, f"{secret} in {path}"


def assert_no_secret_in_text(text: str) -> None:
    for secret in all_secrets():
        assert secret not in text, secret


class App:
    """``peft-studio-offline serve`` in a child process."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "peft_studio_offline", "serve", "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        assert self.proc.stdout is not None
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise AssertionError(f"serve did not start: {self.proc.stderr}")
        home = Path(env["PEFT_STUDIO_OFFLINE_HOME"])
        self.token = (home / "data" / "api-token").read_text().strip()
        self.http = httpx.Client(
            base_url=self.url + API, headers={"Authorization": f"Bearer {self.token}"}, timeout=60
        )

    def stop(self) -> None:
        if hasattr(self, "http"):
            self.http.close()
        self.proc.terminate()
        self.proc.communicate(timeout=60)


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, cwd=ROOT, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


CLIENT = """
import json, sys
from peft_studio_offline.client import OfflineClient
use_api, items = sys.argv[1] == "api", json.loads(sys.argv[2])
with OfflineClient(use_api=use_api, retry_api_after=0) as client:
    for item in items:
        url = item.pop("url")
        assert client.call_api(url, item.pop("method"), **item) is not None
"""

PYTHON = """
import asyncio, json, sys
from peft_studio_offline.core.runtime import Runtime

async def main():
    async with Runtime() as runtime:
        for payload in json.loads(sys.argv[1]):
            await runtime.submit("api_call", payload)

asyncio.run(main())
"""


def queue_through(name: str, app: App, base_url: str) -> None:
    items = payloads(name, base_url)
    if name == "api":
        for payload in items:
            body = {"operation_type": "api_call", "payload": payload}
            assert app.http.post("/queue", json=body).status_code == 201
    elif name == "cli":
        for payload in items:
            run(app.env, "-m", "peft_studio_offline", "enqueue", "api_call", json.dumps(payload))
    elif name.startswith("client"):
        calls = [{k: v for k, v in p.items() if k != "data"} | _data(p) for p in items]
        run(app.env, "-c", CLIENT, name.removeprefix("client-"), json.dumps(calls))
    else:
        run(app.env, "-c", PYTHON, json.dumps(items))


def _data(payload: dict[str, Any]) -> dict[str, Any]:
    return {"data": payload["data"]} if "data" in payload else {}


@pytest.fixture(params=["credentials file", "secret service"])
def environment(
    request: pytest.FixtureRequest, isolated_home: Path, tmp_path: Path
) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBUS_")}
    env.pop("PYTHON_KEYRING_BACKEND", None)  # the child finds the keyring as the app would
    env["PEFT_STUDIO_OFFLINE_HOME"] = str(isolated_home)
    env["PYTHONPATH"] = str(ROOT)
    store = "file" if request.param == "credentials file" else "keyring"
    (isolated_home / "config").mkdir(parents=True)
    (isolated_home / "config" / "settings.toml").write_text(
        f'[sync]\nauto_sync = false\n\n[credentials]\nstore = "{store}"\n\n'
        '[logging]\nlevel = "DEBUG"\n'
    )
    if store == "file":
        yield env
        return
    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    with secret_service(tmp_path / "desktop") as session:
        yield {**env, **session}


@pytest.mark.slow
def test_queued_secrets_are_never_in_the_files_and_arrive_intact(
    environment: dict[str, str], isolated_home: Path
) -> None:
    recorder = RecorderApp()
    with AsgiServer(recorder) as server:
        base_url = server.url().rstrip("/")
        app = App(environment)
        try:
            for name in FRONT_ENDS:
                queue_through(name, app, base_url)
            listing = app.http.get("/queue").json()
            assert listing["total"] == 2 * len(FRONT_ENDS)
            assert_no_secret_in_text(json.dumps(listing))
            for item in listing["operations"]:
                assert_no_secret_in_text(app.http.get(f"/queue/{item['id']}").text)
            # The app runs: its database has a WAL, which is read too.
            assert (isolated_home / "data" / "queue.db-wal").stat().st_size > 0
            assert_no_secret_in_files(isolated_home / "data", isolated_home / "logs")
        finally:
            app.stop()
        shown = run(environment, "-m", "peft_studio_offline", "list", "--json")
        assert_no_secret_in_text(shown)
        rotated = run(environment, "-m", "peft_studio_offline", "rotate-key", "--json")
        assert json.loads(rotated)["key"]
        # A restart of the app reads the key again from where it is kept, and sends.
        app = App(environment)
        try:
            result = app.http.post("/sync").json()
            assert result["completed"] == 2 * len(FRONT_ENDS), result
        finally:
            app.stop()
    check_received(recorder)
    assert_no_secret_in_files(isolated_home)
    credentials = isolated_home / "config" / "credentials.toml"
    if "DBUS_SESSION_BUS_ADDRESS" in environment:
        assert not credentials.exists()  # the key is in the Secret Service
    else:
        assert "queue-payload-keys" in credentials.read_text()
