"""The buffered client's operations on their way: committed in groups, off the caller's thread.

A buffered call returns once its operation is checked and held here; a background thread
commits whatever is held at least every ``window`` seconds, all of it in one transaction.
What is held is written at ``close()``, at interpreter exit and on SIGTERM; a process killed
outright (SIGKILL, power loss) loses what was logged since the last group was written: at
most about ``window`` seconds of calls, and never more than ``max_held`` calls plus the
group being written, since a caller that runs ahead of the writer waits for it.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

from peft_studio_offline._client_backlog import HeldOperation

log = logging.getLogger("peft_studio_offline.client")

Deliver = Callable[[list[HeldOperation]], None]
MAX_HELD = 1000  # calls held at most before a caller waits for the writer


class Buffer:
    """Holds operations and hands them to ``deliver`` in groups from its own thread."""

    def __init__(self, deliver: Deliver, window: float, max_held: int = MAX_HELD) -> None:
        self.window = window
        self.max_held = max_held
        self._deliver = deliver
        self._held: list[HeldOperation] = []
        self._condition = threading.Condition()
        self._delivered = 0  # groups handed over so far; ``flush`` waits on this count
        self._taken = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._urgent = False  # a flush waits: deliver now, not at the end of the window
        self._pid = os.getpid()
        _EVERY_BUFFER.add(self)

    def __len__(self) -> int:
        return len(self._held)

    def add(self, operation: HeldOperation) -> None:
        with self._condition:
            if len(self._held) >= self.max_held:
                # Running ahead of the writer: wait for it to take a group, so that what a
                # kill can lose stays bounded (and memory with it).
                self._urgent = True
                self._condition.notify_all()
                self._condition.wait_for(lambda: len(self._held) < self.max_held or self._closed)
            self._held.append(operation)
            if self._thread is None:
                self._start()

    def flush(self, timeout: float = 30.0) -> bool:
        """Deliver everything held now; True once it is delivered (or nothing was held)."""
        if self._pid != os.getpid() or self._thread is None:
            return not self._held
        with self._condition:
            wanted = self._taken + (1 if self._held else 0)
            self._urgent = True
            self._condition.notify_all()
            return self._condition.wait_for(lambda: self._delivered >= wanted, timeout)

    def close(self, timeout: float = 30.0) -> None:
        if not self.flush(timeout):
            log.error(
                "%d buffered operations were not stored within %.0f s of closing the client;"
                " they are stored as the writer gets to them, unless the process ends first.",
                len(self._held),
                timeout,
            )
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        thread = self._thread
        if thread is not None and self._pid == os.getpid():
            thread.join(timeout)  # its database connection is closed after it
        _BUFFERS.discard(self)

    def _after_fork_in_child(self) -> None:
        """A forked child starts with nothing held and a lock of its own: the parent's lock
        may have been held by its writer thread, which the child does not have."""
        self._condition = threading.Condition()
        self._held = []
        self._thread = None
        self._pid = os.getpid()
        self._delivered = self._taken = 0
        self._urgent = False

    def _start(self) -> None:
        """On first use, and afresh in a forked child (the parent's thread is not there)."""
        self._pid = os.getpid()
        self._delivered = self._taken = 0
        self._thread = threading.Thread(
            target=self._run, name="peft-studio-offline buffer", daemon=True
        )
        self._thread.start()
        _BUFFERS.add(self)
        _install_exit_hooks()

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._closed or self._urgent, self.window)
                self._urgent = False
                if not self._held:
                    if self._closed:
                        return
                    continue
                group, self._held = self._held, []
                self._taken += 1
                self._condition.notify_all()  # a caller waiting for room may go on
            try:
                self._deliver(group)
            except Exception:  # the deliverer keeps what it could not store; never die here
                log.exception("Queuing buffered operations failed")
            with self._condition:
                self._delivered += 1
                self._condition.notify_all()


_BUFFERS: set[Buffer] = set()  # buffers with a writer thread, flushed at exit
_EVERY_BUFFER: weakref.WeakSet[Buffer] = weakref.WeakSet()


def _reset_in_child() -> None:
    for buffer in list(_EVERY_BUFFER):
        buffer._after_fork_in_child()
    _BUFFERS.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_in_child)
_hooks_installed = False
_previous_sigterm: Any = None


def _flush_all() -> None:
    for buffer in list(_BUFFERS):
        with contextlib.suppress(Exception):
            buffer.flush()


def _install_exit_hooks() -> None:
    """Flush at interpreter exit (a clean end, an uncaught KeyboardInterrupt) and on SIGTERM,
    whose default action ends the process without running exit handlers."""
    global _hooks_installed, _previous_sigterm
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_flush_all)
    if threading.current_thread() is not threading.main_thread():
        return  # signal handlers can only be set from the main thread
    with contextlib.suppress(ValueError, OSError):
        _previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _flush_all()
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    # The default action, as if no handler had been set: end with SIGTERM.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)
