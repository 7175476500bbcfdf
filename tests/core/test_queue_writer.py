"""The writer thread on its own: whatever a merged job does, every caller hears back."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

from peft_studio_offline.core.events import EventSource, QueueChange
from peft_studio_offline.core.queue._database import connect_writer
from peft_studio_offline.core.queue._writer import Job, WriteJob, Writer


async def _writer(path: Path, merger: Any) -> Writer:
    writer = Writer(path, lambda: 0.0, EventSource[QueueChange]("changes"), merger=merger)
    await writer.open(partial(connect_writer, path, 5.0))
    return writer


async def test_a_merger_that_answers_too_few_fails_every_caller(tmp_path: Path) -> None:
    def short_merger(jobs: list[WriteJob]) -> Job:
        return lambda conn, now: ([job.data for job in jobs[:-1]], None)

    writer = await _writer(tmp_path / "short.db", short_merger)
    futures = [writer.submit_merged("key", n) for n in range(3)]
    done, waiting = await asyncio.wait(futures, timeout=10)
    await writer.stop()
    assert not waiting
    assert all(isinstance(future.exception(), ValueError) for future in done)


async def test_merged_jobs_each_get_their_own_answer(tmp_path: Path) -> None:
    def echo_merger(jobs: list[WriteJob]) -> Job:
        return lambda conn, now: ([job.data * 10 for job in jobs], None)

    writer = await _writer(tmp_path / "echo.db", echo_merger)
    answers = await asyncio.gather(*(writer.submit_merged("key", n) for n in range(5)))
    await writer.stop()
    assert answers == [0, 10, 20, 30, 40]
