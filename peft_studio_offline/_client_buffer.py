"""The buffered client's operations on their way: committed in groups, off the caller's thread.

A buffered call returns once its operation is checked and held here; a background thread
commits whatever is held at least every ``window`` seconds, all of it in one transaction.
What is held is written at ``close()``, at interpreter exit and on SIGTERM; a process killed
outright (SIGKILL, power loss) loses at most the last ``window`` seconds of calls.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from peft_studio_offline._client_backlog import HeldOperation

log = logging.getLogger("peft_studio_offline.client")

Deliver = Callable[[list[HeldOperation]], None]


class Buffer:
    """Holds operations and hands them to ``deliver`` in groups from its own thread."""

    def __init__(self, deliver: Deliver, window: float) -> None:
        self.window = window
        self._deliver = deliver
        self._held: list[HeldOperation] = []
        self._condition = threading.Condition()
        self._delivered = 0  # groups handed over so far; ``flush`` waits on this count
        self._taken = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        self._urgent = False  # a flush waits: deliver now, not at the end of the window
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self._held)

    def add(self, operation: HeldOperation) -> None:
        with self._condition:
            if self._pid != os.getpid():
                self._held = []  # a forked child: what the parent holds is the parent's
                self._thread = None
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

    def close(self) -> None:
        self.flush()
        with self._condition:
            self._closed = True
            self._condition.notify_all()
        _BUFFERS.discard(self)

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
            try:
                self._deliver(group)
            except Exception:  # the deliverer keeps what it could not store; never die here
                log.exception("Queuing buffered operations failed")
            with self._condition:
                self._delivered += 1
                self._condition.notify_all()


_BUFFERS: set[Buffer] = set()
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
