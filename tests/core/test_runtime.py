"""The composition root and the contract's process-wide accessors."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import ConflictResolution
from peft_studio_offline.core.runtime import (
    Runtime,
    get_network_monitor,
    get_queue_manager,
    get_runtime,
    get_sync_engine,
    set_runtime,
)
from peft_studio_offline.core.settings import Settings


@pytest.fixture(autouse=True)
async def no_default_runtime() -> AsyncIterator[None]:
    set_runtime(None)
    yield
    previous = set_runtime(None)
    if previous is not None:
        await previous.close()


async def test_accessors_share_one_runtime_made_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "elsewhere"
    monkeypatch.setenv("PEFT_STUDIO_OFFLINE_HOME", str(home))  # read now, not at import
    queue = get_queue_manager()
    assert get_queue_manager() is queue
    assert queue.db_path == home / "data" / "queue.db"
    monitor = get_network_monitor()
    engine = get_sync_engine()
    assert get_network_monitor() is monitor
    assert get_sync_engine() is engine
    assert engine.queue is queue
    assert engine.monitor is monitor
    op_id = await queue.enqueue("api_call", {"endpoint": "/a"})
    assert (await queue.get_operation(op_id)) is not None
    assert (home / "data" / "queue.db").exists()


async def test_an_installed_runtime_is_the_default(tmp_path: Path) -> None:
    runtime = Runtime(db_path=tmp_path / "mine.db")
    set_runtime(runtime)
    assert get_runtime() is runtime
    assert get_queue_manager() is runtime.queue
    assert get_sync_engine() is runtime.engine


async def test_settings_reach_the_services(tmp_path: Path, isolated_home: Path) -> None:
    settings = Settings.load()
    settings = dataclasses.replace(
        settings,
        queue=dataclasses.replace(settings.queue, max_attempts=2),
        network=dataclasses.replace(settings.network, check_interval=7.0, endpoints=()),
        sync=dataclasses.replace(
            settings.sync, conflict_strategy=ConflictResolution.REMOTE_WINS, auto_sync=False
        ),
    )
    async with Runtime(settings, db_path=tmp_path / "q.db") as runtime:
        assert runtime.queue.max_attempts == 2
        assert runtime.monitor.check_interval == 7.0
        assert runtime.engine.conflict_strategy.value == "remote_wins"
        await runtime.start()
        assert runtime.monitor.monitoring
        assert not runtime.engine.auto_sync_enabled
    assert not runtime.monitor.monitoring


async def test_start_with_auto_sync_and_close_twice(tmp_path: Path, isolated_home: Path) -> None:
    runtime = Runtime(db_path=tmp_path / "q.db")
    await runtime.start(monitoring=False, auto_sync=True)
    assert runtime.engine.auto_sync_enabled
    await runtime.close()
    assert not runtime.engine.auto_sync_enabled
    assert not runtime.queue.is_open
    await runtime.close()


def test_building_touches_no_file(tmp_path: Path) -> None:
    runtime = Runtime(db_path=tmp_path / "q.db")
    assert not (tmp_path / "q.db").exists()
    assert runtime.settings.paths.data_dir.name == "data"
