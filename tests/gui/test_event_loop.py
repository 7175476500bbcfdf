"""The app's event loop: asyncio's scheduling on Qt, without qasync's dead timers.

These tests run on the loop itself (the GUI tests' loop factory makes a ``GuiEventLoop``).
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import AsyncIterator

import pytest
from PySide6.QtCore import QTimer

from peft_studio_offline.gui import event_loop
from peft_studio_offline.gui.event_loop import GuiEventLoop


def _loop() -> GuiEventLoop:
    loop = asyncio.get_running_loop()
    assert isinstance(loop, GuiEventLoop)
    return loop


async def test_cancelled_timers_are_forgotten_at_once() -> None:
    loop = _loop()
    before = loop.scheduled_count
    ran: list[int] = []
    handles = [loop.call_later(60, ran.append, n) for n in range(1000)]
    assert loop.scheduled_count == before + 1000
    for handle in handles:
        handle.cancel()
    # qasync keeps each cancelled handle (and its Qt timer) until its delay runs out.
    assert loop.scheduled_count == before
    await asyncio.sleep(0.05)
    assert ran == []


async def test_timeouts_that_do_not_fire_leave_nothing_behind() -> None:
    loop = _loop()
    before = loop.scheduled_count
    for _ in range(200):
        await asyncio.wait_for(asyncio.sleep(0), timeout=30)
        async with asyncio.timeout(30):
            await asyncio.sleep(0)
    await asyncio.sleep(0)
    assert loop.scheduled_count <= before + 5  # qasync: 400 more, for 30 s


async def test_delays_longer_than_a_qt_timer_are_accepted() -> None:
    loop = _loop()
    before = loop.scheduled_count
    handle = loop.call_later(100 * 86400, print, "in a hundred days")  # Qt: at most 24 days
    assert loop.scheduled_count == before + 1
    assert handle.when() > loop.time() + 99 * 86400
    handle.cancel()
    assert loop.scheduled_count == before


async def test_a_callback_never_runs_before_its_time(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = _loop()
    monkeypatch.setattr(event_loop, "LONGEST_TIMER_MS", 100)  # as if 0.1 s were 24 days
    done = loop.create_future()
    started = loop.time()
    loop.call_later(0.35, lambda: done.set_result(loop.time() - started))
    assert await done >= 0.345  # not at the first timer's 0.1 s


async def test_timed_callbacks_run_in_time_order() -> None:
    loop = _loop()
    ran: list[str] = []
    done = loop.create_future()
    loop.call_later(0.06, lambda: (ran.append("last"), done.set_result(None)))
    loop.call_later(0.02, ran.append, "first")
    loop.call_at(loop.time() + 0.04, ran.append, "second")
    started = time.monotonic()
    await done
    assert ran == ["first", "second", "last"]
    assert time.monotonic() - started >= 0.05


async def test_ready_callbacks_run_in_order_and_later_ones_wait_a_turn() -> None:
    loop = _loop()
    ran: list[str] = []
    qt_turns: list[int] = []
    done = loop.create_future()

    def chain(n: int) -> None:
        ran.append(f"chain {n}")
        if n < 30:
            loop.call_soon(chain, n + 1)
        else:
            done.set_result(None)

    loop.call_soon(chain, 0)
    for n in range(3):
        loop.call_soon(ran.append, f"soon {n}")
    QTimer.singleShot(0, lambda: qt_turns.append(len(ran)))
    await done
    assert ran[:4] == ["chain 0", "soon 0", "soon 1", "soon 2"]
    assert ran[4:] == [f"chain {n}" for n in range(1, 31)]
    # Qt ran its own timer between two turns, long before the chain of 31 ended.
    assert qt_turns and qt_turns[0] < len(ran)


async def test_a_long_turn_lets_qt_in_before_it_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    loop = _loop()
    monkeypatch.setattr(event_loop, "TURN_BUDGET", 0.005)
    ran: list[int] = []
    seen_by_qt: list[int] = []
    done = loop.create_future()

    def busy(n: int) -> None:
        if n == 0:  # due at Qt's next turn: after all 50, were the turn not cut short
            QTimer.singleShot(0, lambda: seen_by_qt.append(len(ran)))
        time.sleep(0.002)
        ran.append(n)
        if n == 49:
            done.set_result(None)

    for n in range(50):
        loop.call_soon(busy, n)
    await done
    assert ran == list(range(50))  # in order, none lost
    assert seen_by_qt and seen_by_qt[0] < 50  # 100 ms of work did not hold Qt off


async def test_a_failing_callback_is_reported_and_the_loop_goes_on() -> None:
    loop = _loop()
    reported: list[str] = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context["message"]))
    try:
        after = loop.create_future()
        loop.call_soon(lambda: 1 / 0)
        loop.call_soon(after.set_result, "still running")
        assert await after == "still running"
        assert reported and "Exception in callback" in reported[0]
    finally:
        loop.set_exception_handler(None)


async def test_coroutines_are_refused_as_callbacks() -> None:
    loop = _loop()

    async def coroutine() -> None:
        pass

    with pytest.raises(TypeError):
        loop.call_soon(coroutine)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        loop.call_later(1, "not callable")  # type: ignore[arg-type]


async def test_threads_and_executors_still_hand_results_back() -> None:
    assert await asyncio.to_thread(lambda: 41 + 1) == 42
    loop = _loop()
    future = loop.create_future()

    def from_thread() -> None:
        loop.call_soon_threadsafe(future.set_result, "from a thread")

    await asyncio.to_thread(from_thread)
    assert await asyncio.wait_for(future, 5) == "from a thread"


async def test_an_abandoned_async_generator_is_closed_on_the_loop() -> None:
    """As asyncio's own loop does: an HTTP response stream dropped half-read is closed by a
    task on the loop, never by the garbage collector out of it (which printed "async
    generator ignored GeneratorExit" tracebacks from httpcore)."""
    closed: list[bool] = []

    async def stream() -> AsyncIterator[int]:
        try:
            yield 1
            yield 2
        finally:
            await asyncio.sleep(0)  # closing needs the loop, as a connection's does
            closed.append(True)

    unraisable: list[object] = []
    previous = sys.unraisablehook
    sys.unraisablehook = unraisable.append
    try:
        reader = stream()
        assert await reader.__anext__() == 1
        del reader
        gc.collect()
        for _ in range(50):
            if closed:
                break
            await asyncio.sleep(0.01)
    finally:
        sys.unraisablehook = previous
    assert unraisable == []
    assert closed == [True]
