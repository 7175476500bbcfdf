"""Starting coroutines from Qt slots without losing them or their errors.

A slot cannot ``await``; it hands the coroutine to a ``TaskKeeper``, which keeps a reference
until the task ends (a bare ``create_task`` can be collected mid-flight) and turns a failure
into one sentence for the user: known core errors as they are, bugs logged with a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.gui.i18n import translate

log = logging.getLogger(__name__)

T = TypeVar("T")


def describe_error(exc: BaseException, what: str) -> str:
    """A sentence for the user; known errors already carry one."""
    if isinstance(exc, PeftStudioOfflineError | ValueError):
        return str(exc)
    doing = translate("Tasks", what)  # the names of tasks are marked for translation
    if isinstance(exc, OSError):
        return translate("Tasks", "Could not {what}: {reason}.").format(
            what=doing, reason=exc.strerror or exc
        )
    return translate(
        "Tasks", "Could not {what} because of an internal error ({error}); see the log."
    ).format(what=doing, error=type(exc).__name__)


class TaskKeeper:
    """Owns the tasks that widgets start; reports failures through ``on_error``."""

    def __init__(self, on_error: Callable[[str], None] | None = None) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self.on_error = on_error

    def start(
        self,
        coroutine: Coroutine[Any, Any, T],
        what: str,
        on_done: Callable[[T], None] | None = None,
    ) -> asyncio.Task[T] | None:
        """Run ``coroutine``; ``what`` completes "Could not …" in an error message.

        Outside a running loop (a timer firing while the application shuts down) the
        coroutine is dropped: there is nothing left to run it.
        """
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coroutine.close()
            log.debug("Dropped %r: the event loop is not running", what)
            return None
        task = loop.create_task(coroutine, name=what)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._finished(t, what, on_done))
        return task

    def _finished(
        self, task: asyncio.Task[T], what: str, on_done: Callable[[T], None] | None
    ) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is None:
            if on_done is not None:
                on_done(task.result())
            return
        if isinstance(exc, PeftStudioOfflineError | ValueError | OSError):
            log.warning("Could not %s: %s", what, exc)
        else:
            log.error("Could not %s", what, exc_info=exc)
        if self.on_error is not None:
            self.on_error(describe_error(exc, what))

    @property
    def pending(self) -> int:
        return len(self._tasks)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def drain(self) -> None:
        """Wait for the tasks running now (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            # A task leaves the set in its done callback, which runs on a later turn of the
            # loop. From Python 3.12 on, gathering tasks that have all ended returns without
            # yielding: without this turn the callbacks never run and quitting spins forever.
            await asyncio.sleep(0)
