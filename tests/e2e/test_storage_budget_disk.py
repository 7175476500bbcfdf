"""On a real small filesystem, the automatic storage budget stops the queue before the disk
fills: the user hears "the storage budget has no room" while the disk still has room for the
rest of the machine (and for the queue to be read, sent and cleaned)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from peft_studio_offline.core.errors import StorageBudgetError
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import STORAGE_MAX_BYTES_VARIABLE, Settings
from tests.support.small_disk import SmallDisk, mounted_small_disk, needs_root

pytestmark = [needs_root, pytest.mark.slow]

MIB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[SmallDisk]:
    with mounted_small_disk(tmp_path) as disk:
        yield disk


async def test_the_automatic_budget_stops_the_queue_before_the_disk_is_full(
    small_disk: SmallDisk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(STORAGE_MAX_BYTES_VARIABLE, raising=False)
    settings = Settings.load(AppPaths.under(small_disk.path), {})
    assert settings.storage.max_bytes == 0  # automatic: half of the free space
    free_at_start = small_disk.free_bytes()
    runtime = Runtime(settings)
    stored = 0
    try:
        with pytest.raises(StorageBudgetError, match="The storage budget has no room for this"):
            for n in range(10_000):
                body = {"url": "http://127.0.0.1:9/", "blob": os.urandom(3000).hex() + str(n)}
                await runtime.submit("api_call", body)
                stored += 1
        assert stored > 50, "the budget stopped the queue too early to prove anything"
        # The disk never refused: a good share of it is still free.
        assert small_disk.free_bytes() > free_at_start * 0.3
        assert (await runtime.queue.get_queue_stats())["total"] == stored
    finally:
        await runtime.close()


def test_the_command_line_meets_the_budget_not_the_full_disk(small_disk: SmallDisk) -> None:
    db = small_disk.path / "queue.db"
    env = dict(os.environ, **{STORAGE_MAX_BYTES_VARIABLE: str(3 * MIB)})
    payload = '{"url": "http://127.0.0.1:9/", "blob": "' + "z" * 100_000 + '"}'
    for _ in range(40):
        done = subprocess.run(
            [sys.executable, "-m", "peft_studio_offline", "enqueue", "api_call", payload,
             "--db", str(db)],
            capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        if done.returncode != 0:
            break
    else:
        pytest.fail("neither the budget nor the disk refused")
    assert done.returncode == 1
    assert "The storage budget has no room for this" in done.stderr, done.stderr
    assert small_disk.free_bytes() > 3 * MIB
