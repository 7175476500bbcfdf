"""The task keeper on the window's loop: draining ends, as quitting needs it to."""

from __future__ import annotations

import asyncio

import pytest

from peft_studio_offline.gui.tasks import TaskKeeper


async def _at_once() -> int:
    return 1


# A drain that never yields cannot be stopped by the loop's own timeouts; this one can.
@pytest.mark.timeout(20)
async def test_drain_ends_when_the_tasks_have_ended_but_are_not_yet_let_go() -> None:
    keeper = TaskKeeper()
    task = keeper.start(_at_once(), "finish at once")
    assert task is not None
    while not task.done():
        await asyncio.sleep(0)
    # The done callback that lets the task go waits for the loop's next turn: this is the
    # moment when quitting cancels everything and drains.
    assert keeper.pending == 1
    keeper.cancel_all()
    await keeper.drain()
    assert keeper.pending == 0
