"""Every way in goes through one submit path: the same input, the same row or sentence.

The Python submit path (``Runtime.submit``), the local HTTP API (a real server on
127.0.0.1), the command line (a real subprocess) and the training client (through the API,
and straight into the database) each take the inputs of ``tests/support/submit_cases``
into one real queue file. The window does the same in ``tests/gui/test_submit_window.py``.
"""

from __future__ import annotations

import asyncio
import json
import math
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from peft_studio_offline.api.server import ApiServer
from peft_studio_offline.client import ClientError, OfflineClient
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings
from tests.support import submit_cases as cases


@dataclass
class App:
    runtime: Runtime
    server: ApiServer
    loop: asyncio.AbstractEventLoop
    uploads: Path

    def call(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return future.result(60)

    def rows(self) -> list[tuple[str, dict[str, Any], int]]:
        queue: OfflineQueueManager = self.runtime.queue
        return [
            (str(op.operation_type), op.payload, op.priority)
            for op in self.call(queue.list_operations())
        ]


@pytest.fixture
def app(isolated_home: Path, tmp_path: Path) -> Iterator[App]:
    """The app serving its API in a thread, over the default queue the CLI and client use."""
    uploads = cases.make_files(tmp_path)
    config = isolated_home / "config"
    config.mkdir(parents=True)
    (config / "settings.toml").write_text(cases.settings_toml(uploads))
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        runtime = Runtime(Settings.load())
        await runtime.queue.open()
        server = ApiServer(runtime, port=0)
        await server.start()
        holder.update(server=server, runtime=runtime)
        started.set()
        await server.wait_closed()
        await runtime.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield App(holder["runtime"], holder["server"], loop, uploads)
    finally:
        asyncio.run_coroutine_threadsafe(holder["server"].stop(), loop).result(30)
        thread.join(30)
        loop.close()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


Way = Callable[[str, dict[str, Any]], Any]


@pytest.fixture
def ways(app: App) -> Iterator[dict[str, Way]]:
    """Each way in, as a function of (type, payload) that stores it or raises/answers."""
    url = app.server.url
    with (
        OfflineClient(api_url=url, token=app.server.token, retry_api_after=0) as via_api,
        OfflineClient(use_api=False) as direct,
    ):
        yield front_ends(app, via_api, direct)


def front_ends(app: App, via_api: OfflineClient, direct: OfflineClient) -> dict[str, Way]:
    url = app.server.url

    def python(kind: str, payload: dict[str, Any]) -> Any:
        return app.call(app.runtime.submit(kind, payload))

    def http(kind: str, payload: dict[str, Any]) -> httpx.Response:
        headers = {"Authorization": f"Bearer {app.server.token}"}
        body = {"operation_type": kind, "payload": payload}
        return httpx.post(f"{url}/api/offline/queue", json=body, headers=headers, timeout=30)

    def command_line(kind: str, payload: dict[str, Any]) -> subprocess.CompletedProcess[str]:
        return cli("enqueue", kind, json.dumps(payload))

    return {
        "python": python,
        "api": http,
        "cli": command_line,
        "client via the API": lambda kind, payload: via_api.enqueue(kind, payload),
        "client into the database": lambda kind, payload: direct.enqueue(kind, payload),
    }


def test_the_same_input_through_each_front_end_stores_the_same_row(
    app: App, ways: dict[str, Way]
) -> None:
    good = cases.good(app.uploads)
    for name, way in ways.items():
        for kind, payload in good:
            answer = way(kind, payload)
            if isinstance(answer, httpx.Response):
                assert answer.status_code == 201, (name, answer.text)
            elif isinstance(answer, subprocess.CompletedProcess):
                assert answer.returncode == 0, (name, answer.stderr)
            else:
                assert isinstance(answer, int), name
    rows = app.rows()
    assert len(rows) == len(good) * len(ways)
    first = rows[: len(good)]
    for index, name in enumerate(ways):
        assert rows[index * len(good) : (index + 1) * len(good)] == first, name
    # What the submit path made of them: prepared, and the same for all.
    assert first[3][1]["metrics"][0]["value"] == "NaN"
    assert first[3][1]["metrics"][1]["value"] == "-Infinity"
    assert first[5][1]["size"] == 10 and len(first[5][1]["sha256"]) == 64
    assert first[6][1]["artifact_path"] == "adapter"


def test_each_bad_input_is_refused_by_each_front_end_with_the_same_sentence(
    app: App, ways: dict[str, Way]
) -> None:
    for case in cases.bad(app.uploads):
        for name, way in ways.items():
            where = f"{name}: {case.operation_type} {case.payload}"
            try:
                answer = way(case.operation_type, case.payload)
            except ClientError as exc:
                assert name.startswith("client"), where
                assert str(exc) == case.sentence, where
                continue
            except ValueError as exc:
                assert name == "python", where
                assert str(exc) == case.sentence, where
                assert getattr(exc, "field", None) == case.field, where
                continue
            if isinstance(answer, httpx.Response):
                assert answer.status_code == case.status, (where, answer.text)
                assert answer.json() == {"detail": case.sentence, "field": case.field}, where
            else:
                assert isinstance(answer, subprocess.CompletedProcess), where
                assert answer.returncode == 2, (where, answer.stderr)
                said = case.sentence.rstrip(".")
                hint = " (see 'peft-studio-offline enqueue --help')."
                assert answer.stderr == f"peft-studio-offline: {said}{hint}\n", where
    assert app.rows() == []  # nothing was written by any of them


def test_python_floats_that_are_not_finite_follow_the_same_rule(app: App) -> None:
    payload = {"run_id": "r", "metrics": {"a": math.nan, "b": math.inf}, "step": 1}
    app.call(app.runtime.submit("metric_log", payload))
    with OfflineClient(use_api=False) as client:
        client.log_metrics("r", {"a": float("nan"), "b": float("inf")}, step=1, timestamp=1.0)
    stored = [[(m["key"], m["value"]) for m in row[1]["metrics"]] for row in app.rows()]
    assert stored == [[("a", "NaN"), ("b", "Infinity")]] * 2


def test_uploads_over_the_api_need_listed_folders_but_the_user_does_not(
    app: App, ways: dict[str, Way], isolated_home: Path
) -> None:
    """One policy: a program holding the API token reads only listed folders; with none
    listed, no upload at all. The user's own ways in (Python, CLI) allow any path then."""
    (isolated_home / "config" / "settings.toml").write_text("[sync]\nauto_sync = false\n")
    app.call(app.runtime.reload_settings())
    assert app.runtime.settings.sync.upload_roots == ()
    payload = {"path": str(app.uploads.parent / "secret.txt"), "url": "http://127.0.0.1:9/u"}
    answer = ways["api"]("file_upload", payload)
    assert answer.status_code == 403
    assert answer.json()["detail"] == (
        "Uploads through the API are off: list the folders they may read in"
        " sync.upload_roots in settings.toml."
    )
    assert isinstance(app.call(app.runtime.submit("file_upload", payload)), int)
    relative = cli("enqueue", "file_upload", json.dumps({**payload, "path": "secret.txt"}))
    assert relative.returncode == 2  # relative to the CLI's folder, where there is none
    assert "does not exist" in relative.stderr
