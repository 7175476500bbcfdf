"""The window's asyncio loop: qasync's loop, with callbacks scheduled the way asyncio does.

qasync gives every callback a Qt timer of its own: ``call_soon`` starts a zero timer per
callback, and a cancelled ``call_later`` keeps its timer (and the handle, its context and
arguments) until the delay runs out. A sync wraps every request in timeouts that are
cancelled a moment later, so tens of thousands of dead timers pile up: each new Qt timer is
sorted into that long list, and the garbage collector walks every dead handle, long
pauses of the GUI thread that the user feels as a frozen window.

``GuiEventLoop`` keeps qasync's loop (sockets, executors, running inside Qt's event loop)
and schedules like asyncio's own loop:

- ``call_soon`` appends to a ready queue that one zero timer drains. Each turn runs the
  callbacks that were ready when it began; what they schedule waits for the next turn, so
  Qt paints and reads input between turns, as it did between qasync's timers.
- ``call_later``/``call_at`` return an ``asyncio.TimerHandle`` whose ``cancel()`` stops its
  Qt timer and forgets the handle at once. A callback never runs before its time: a delay
  longer than a Qt timer can wait, or a timer that fires early, is waited for again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import sys
import time
from collections.abc import Callable
from contextvars import Context
from typing import Any

import qasync
from PySide6.QtCore import QObject, QTimerEvent
from PySide6.QtWidgets import QApplication

log = logging.getLogger(__name__)

# Seconds of ready callbacks run in one turn before Qt gets its turn (painting, input).
TURN_BUDGET = 0.008
# The longest a Qt timer can wait (a signed 32-bit count of ms, about 24 days).
LONGEST_TIMER_MS = 2**31 - 1


class _Scheduler(QObject):
    """Runs the loop's ready queue and its timed callbacks from Qt timer events."""

    def __init__(self, loop: GuiEventLoop) -> None:
        super().__init__()
        self._loop = loop
        self.ready: collections.deque[asyncio.Handle] = collections.deque()
        self.timed: dict[int, asyncio.TimerHandle] = {}  # Qt timer id -> handle
        self._timer_of: dict[asyncio.TimerHandle, int] = {}
        self._ready_timer = 0  # the zero timer that drains ``ready``; 0 when stopped
        self._stopped = False
        self.debug = False

    # -------------------------------------------------------------------- ready

    def add_ready(self, handle: asyncio.Handle) -> None:
        if self._stopped:
            return
        self.ready.append(handle)
        if not self._ready_timer:
            self._ready_timer = self.startTimer(0)

    def _run_ready(self) -> None:
        ready = self.ready
        # Only what was ready when this turn began: callbacks scheduled now run next turn.
        # A long turn is cut short (the rest runs first next turn) so that Qt can paint.
        todo = len(ready)
        deadline = time.perf_counter() + TURN_BUDGET
        while todo:
            todo -= 1
            handle = ready.popleft()
            if not handle._cancelled:
                self._run(handle)
            if time.perf_counter() > deadline:
                break
        if not ready and self._ready_timer:
            self.killTimer(self._ready_timer)
            self._ready_timer = 0

    # -------------------------------------------------------------------- timed

    def add_timed(self, handle: asyncio.TimerHandle, delay: float) -> None:
        if self._stopped:
            return
        timer_id = self.startTimer(min(int(max(0.0, delay) * 1000), LONGEST_TIMER_MS))
        self.timed[timer_id] = handle
        self._timer_of[handle] = timer_id

    def cancel_timed(self, handle: asyncio.TimerHandle) -> None:
        timer_id = self._timer_of.pop(handle, None)
        if timer_id is not None:
            del self.timed[timer_id]
            self.killTimer(timer_id)

    def _run_timed(self, timer_id: int) -> None:
        self.killTimer(timer_id)
        handle = self.timed.pop(timer_id, None)
        if handle is None:
            return
        del self._timer_of[handle]
        if handle._cancelled:
            return
        remaining = handle.when() - self._loop.time()
        if remaining > 0.002:  # longer than one Qt timer can wait, or a coarse timer's early
            self.add_timed(handle, remaining)
            return
        self._run(handle)

    # ------------------------------------------------------------------- common

    def timerEvent(self, event: QTimerEvent) -> None:  # noqa: N802
        timer_id = event.timerId()
        if self._stopped:
            self.killTimer(timer_id)
        elif timer_id == self._ready_timer:
            self._run_ready()
        else:
            self._run_timed(timer_id)

    def _run(self, handle: asyncio.Handle) -> None:
        if not self.debug:
            handle._run()
            return
        started = time.monotonic()
        try:
            handle._run()
        finally:
            took = time.monotonic() - started
            if took >= self._loop.slow_callback_duration:
                log.warning("Executing %s took %.3f seconds", handle, took)

    def stop(self) -> None:
        """Drop everything still scheduled (the loop is closing)."""
        self._stopped = True
        for timer_id in [*self.timed, self._ready_timer]:
            if timer_id:
                self.killTimer(timer_id)
        self._ready_timer = 0
        self.timed.clear()
        self._timer_of.clear()
        self.ready.clear()

    def set_debug(self, enabled: bool) -> None:
        self.debug = enabled


class GuiEventLoop(qasync.QEventLoop):  # type: ignore[misc]
    """``qasync.QEventLoop`` whose ready callbacks share one Qt timer and whose cancelled
    timers go away at once."""

    def __init__(self, app: QApplication | None = None) -> None:
        super().__init__(app)
        self._scheduler = _Scheduler(self)
        self._timer = self._scheduler  # what qasync's close() and set_debug() call

    def run_forever(self) -> Any:
        """qasync's, with the async-generator hooks asyncio's own ``run_forever`` installs:
        without them a generator dropped half-way (an HTTP response stream a cancelled
        request left) is closed by the garbage collector outside the loop, which fails
        and prints a traceback; with them it is closed by a task on the loop."""
        previous = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(
            firstiter=self._asyncgen_firstiter_hook, finalizer=self._asyncgen_finalizer_hook
        )
        try:
            return super().run_forever()
        finally:
            sys.set_asyncgen_hooks(*previous)

    def call_soon(
        self, callback: Callable[..., object], *args: Any, context: Context | None = None
    ) -> asyncio.Handle:
        _check_callable(callback)
        handle = asyncio.Handle(callback, args, self, context=context)
        self._scheduler.add_ready(handle)
        return handle

    def call_later(
        self,
        delay: float,
        callback: Callable[..., object],
        *args: Any,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        _check_callable(callback)
        handle = asyncio.TimerHandle(self.time() + delay, callback, args, self, context)
        self._scheduler.add_timed(handle, delay)
        return handle

    def call_at(
        self,
        when: float,
        callback: Callable[..., object],
        *args: Any,
        context: Context | None = None,
    ) -> asyncio.TimerHandle:
        return self.call_later(when - self.time(), callback, *args, context=context)

    def _timer_handle_cancelled(self, handle: asyncio.TimerHandle) -> None:
        self._scheduler.cancel_timed(handle)

    @property
    def scheduled_count(self) -> int:
        """Callbacks waiting to run, ready or timed (for tests and diagnostics)."""
        return len(self._scheduler.ready) + len(self._scheduler.timed)


def _check_callable(callback: object) -> None:
    if asyncio.iscoroutinefunction(callback):
        raise TypeError("coroutines cannot be used with call_soon or call_later")
    if not callable(callback):
        raise TypeError(f"a callback must be callable, not {type(callback).__name__}")


def new_event_loop(app: QApplication) -> GuiEventLoop:
    """The loop the window runs on (``asyncio.Runner(loop_factory=...)``)."""
    return GuiEventLoop(app)
