"""The storage budget seen from every way in: the HTTP API, the command line, the client."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from peft_studio_offline import client as client_module
from peft_studio_offline.api.server import ApiServer
from peft_studio_offline.client import OfflineClient
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import STORAGE_MAX_BYTES_VARIABLE, Settings

BUDGET = 400_000
SENTENCE = "The storage budget has no room for this"
BODY = "x" * 5000
DAY = 86_400.0
MANY_METRICS = {f"metric_{i}": float(i) for i in range(100)}  # a payload of some kilobytes


def count_rows(db: Path) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM offline_operations").fetchone()[0])
    finally:
        conn.close()


def cli(*args: str, budget: int | None = None) -> subprocess.CompletedProcess[str]:
    import os

    env = dict(os.environ)
    if budget is not None:
        env[STORAGE_MAX_BYTES_VARIABLE] = str(budget)
    return subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


@dataclass
class App:
    server: ApiServer
    db_path: Path


@pytest.fixture
def app(isolated_home: Path, tmp_path: Path) -> Iterator[App]:
    """The app's API (uvicorn on 127.0.0.1) in a thread, its storage budget small."""
    paths = AppPaths.from_environment({"PEFT_STUDIO_OFFLINE_HOME": str(isolated_home)})
    base = Settings.load(paths)
    settings = dataclasses.replace(
        base,
        sync=dataclasses.replace(base.sync, auto_sync=False),
        storage=dataclasses.replace(base.storage, max_bytes=BUDGET),
    )
    db_path = tmp_path / "app.db"
    loop = asyncio.new_event_loop()
    started = threading.Event()
    holder: dict[str, Any] = {}

    async def serve() -> None:
        runtime = Runtime(settings, db_path=db_path)
        await runtime.queue.open()
        server = ApiServer(runtime, port=0)
        await server.start()
        holder.update(server=server)
        started.set()
        await server.wait_closed()
        await runtime.close()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert started.wait(30)
    try:
        yield App(holder["server"], db_path)
    finally:
        asyncio.run_coroutine_threadsafe(holder["server"].stop(), loop).result(30)
        thread.join(30)
        loop.close()


@pytest.fixture(autouse=True)
def fresh_default_client() -> Iterator[None]:
    yield
    if client_module._default is not None:
        client_module._default.close()
        client_module._default = None


def test_the_http_api_answers_507_with_the_sentence_and_writes_nothing(app: App) -> None:
    headers = {"Authorization": f"Bearer {app.server.token}"}
    stored = 0
    with httpx.Client(base_url=app.server.url, headers=headers, timeout=30) as http:
        for n in range(500):
            payload = {"url": "http://h/", "b": BODY + str(n)}
            body = {"operation_type": "api_call", "payload": payload}
            answer = http.post("/api/offline/queue", json=body)
            if answer.status_code == 507:
                break
            assert answer.status_code == 201, answer.text
            stored += 1
        else:
            pytest.fail("the budget never refused")
        detail = answer.json()["detail"]
        assert detail.startswith(SENTENCE) and "storage.max_bytes" in detail
        assert 0 < stored < 100
        stats = http.get("/api/offline/queue/stats")
        assert stats.status_code == 200
        assert stats.json()["total"] == stored
    assert count_rows(app.db_path) == stored


def test_a_client_warns_and_keeps_what_the_apps_budget_refused(
    app: App, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="peft_studio_offline")
    refused_at = None
    for step in range(500):
        if client_module.log_metrics("run-1", MANY_METRICS, step=step) is None:
            refused_at = step
            break
    assert refused_at is not None, "the budget never refused"
    assert client_module.log_metrics("run-1", {"loss": 0.5}, step=refused_at + 1) is None
    client = client_module.get_client()
    assert client.held_in_memory == 2
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    client_warnings = [w for w in warnings if "kept in memory" in w]
    assert len(client_warnings) == 1, warnings
    assert SENTENCE in client_warnings[0]
    assert count_rows(app.db_path) == refused_at


def test_a_client_on_its_own_warns_then_queues_once_there_is_room(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv(STORAGE_MAX_BYTES_VARIABLE, str(BUDGET))
    db = isolated_home / "data" / "queue.db"
    caplog.set_level(logging.INFO, logger="peft_studio_offline")
    with OfflineClient(db_path=db, use_api=False) as client:
        client._backlog.retry_after = 0.0
        stored = []
        for step in range(500):
            op_id = client.log_metrics("run-1", MANY_METRICS, step=step)
            if op_id is None:
                break
            stored.append(op_id)
        else:
            pytest.fail("the budget never refused")
        assert client.held_in_memory == 1
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert len([w for w in warnings if "kept in memory" in w]) == 1, warnings

        async def make_room() -> None:
            async with OfflineQueueManager(db) as queue:
                await queue.delete_operations(stored[: len(stored) // 2])
            conn = sqlite3.connect(db)
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                conn.close()

        asyncio.run(make_room())
        assert client.log_metrics("run-1", {"loss": 0.1}, step=999) is not None
        assert client.held_in_memory == 0
    assert count_rows(db) == len(stored) - len(stored) // 2 + 2


def test_a_client_on_its_own_takes_a_budget_raised_in_the_settings_file_meanwhile(
    isolated_home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """As the Settings dialog raises it while the script runs: what waited in memory is
    queued at the next call, nothing is lost at the end."""
    paths = AppPaths.under(isolated_home)
    Settings.from_mapping(paths, {"storage": {"max_bytes": BUDGET}}).save()
    caplog.set_level(logging.INFO, logger="peft_studio_offline")
    with OfflineClient(db_path=paths.database, use_api=False) as client:
        client._backlog.retry_after = 0.0
        stored = 0
        for step in range(500):
            if client.log_metrics("run-1", MANY_METRICS, step=step) is None:
                break
            stored += 1
        else:
            pytest.fail("the budget never refused")
        held = client.held_in_memory
        assert held == 1
        Settings.from_mapping(paths, {"storage": {"max_bytes": BUDGET * 20}}).save()
        assert client.log_metrics("run-1", {"loss": 0.1}, step=999) is not None
        assert client.held_in_memory == 0
    assert count_rows(paths.database) == stored + held + 1
    assert not [r for r in caplog.records if "lost" in r.getMessage()]


def test_the_command_line_refuses_with_exit_1_and_one_sentence(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    payload = json.dumps({"url": "http://127.0.0.1:9/", "b": BODY * 8})
    for _ in range(60):
        done = cli("enqueue", "api_call", payload, "--db", str(db), budget=BUDGET)
        if done.returncode != 0:
            break
    else:
        pytest.fail("the budget never refused")
    assert done.returncode == 1
    assert SENTENCE in done.stderr and "storage.max_bytes" in done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_cleanup_removes_what_retention_lets_go_and_reports_the_storage(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    now = time.time()

    async def fill() -> tuple[int, int]:
        async with OfflineQueueManager(db, clock=lambda: now - 8 * DAY) as queue:
            old = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/"})
            await queue.mark_completed(old)
            waiting = await queue.enqueue("api_call", {"url": "http://127.0.0.1:9/"})
            return old, waiting

    old, waiting = asyncio.run(fill())
    done = cli("cleanup", "--json", "--db", str(db), budget=BUDGET)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["completed_removed"] == 1 and report["ended_removed"] == 0
    assert report["storage_limit"] == BUDGET and 0 < report["storage_used"] < BUDGET
    stats = cli("stats", "--json", "--db", str(db))
    assert json.loads(stats.stdout)["total"] == 1
    assert json.loads(stats.stdout)["completed"] == 0
    listed = cli("list", "--json", "--db", str(db))
    assert [item["id"] for item in json.loads(listed.stdout)] == [waiting]
    assert old != waiting
    status = cli("status", "--json", "--db", str(db), budget=BUDGET)
    assert json.loads(status.stdout)["storage"]["limit"] == BUDGET
    words = cli("cleanup", "--db", str(db), budget=BUDGET)
    assert words.returncode == 0
    assert words.stdout.startswith("Removed 0 completed")
    assert "of their storage budget" in words.stdout
