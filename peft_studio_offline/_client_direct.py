"""The client's way into the queue database when no app serves: commits on the caller's thread."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.errors import StorageBudgetError
from peft_studio_offline.core.queue import CallerThreadWriter, OfflineQueueManager
from peft_studio_offline.core.queue._direct import writing
from peft_studio_offline.core.submit import prepare_sync

if TYPE_CHECKING:
    from peft_studio_offline.core.settings import Settings


class DirectQueue:
    """The queue file, written by the calling thread itself.

    The file is opened once by the queue manager (which creates or updates its schema and
    puts back work that stopped processes held), on a thread with its own event loop: the
    caller may be inside a running loop, a notebook's. Every call then runs the core's
    checks (``core.submit.prepare_sync``, the queue's own) and commits on the caller's
    thread, so that it costs about one durable commit.
    """

    def __init__(self, db_path: Path | None) -> None:
        from peft_studio_offline.core.runtime import Runtime

        runtime = Runtime(db_path=db_path)
        _open_once(runtime.queue)
        self._settings: Settings = runtime.settings
        self._queue = runtime.queue
        self._writer = CallerThreadWriter(runtime.queue)

    def enqueue(
        self, kind: OperationType, payload: Mapping[str, Any], priority: int, dedup_key: str | None
    ) -> int:
        prepared = prepare_sync(kind, payload, settings=self._settings)
        try:
            return self._insert(kind, prepared, priority, dedup_key)
        except StorageBudgetError:
            if not self._budget_raised():
                raise
            return self._insert(kind, prepared, priority, dedup_key)

    def _insert(
        self, kind: OperationType, prepared: Mapping[str, Any], priority: int, dedup_key: str | None
    ) -> int:
        if dedup_key is None:  # no option at all: the queue's quickest insert
            return self._writer.enqueue(kind, prepared, priority)
        return self._writer.enqueue(kind, prepared, priority, dedup_key=dedup_key)

    def enqueue_many(
        self, operations: Iterable[tuple[OperationType, Mapping[str, Any], int]]
    ) -> list[int]:
        """Several in one commit, all of them or none; their payloads already prepared
        (``prepare``), as a buffered client holds them."""
        items = [
            {"operation_type": kind, "payload": payload, "priority": priority}
            for kind, payload, priority in operations
        ]
        try:
            return self._writer.enqueue_many(items)
        except StorageBudgetError:
            if not self._budget_raised():
                raise
            return self._writer.enqueue_many(items)

    def _budget_raised(self) -> bool:
        """After a refusal for want of room: the settings file may have raised the budget
        since this client started (the app's Settings dialog); take its figure. True when
        it changed, so that what waits in memory is tried again at once."""
        from peft_studio_offline.core.settings import Settings

        fresh = Settings.load(self._settings.paths)
        budget = self._queue.storage_budget
        if budget is None or fresh.storage.max_bytes == self._settings.storage.max_bytes:
            return False
        budget.set_limit(fresh.storage.max_bytes)
        self._settings = fresh
        return True

    def close(self) -> None:
        """Close the connections; the client calls it once its writer thread has ended."""
        self._writer.close()


def _open_once(queue: OfflineQueueManager) -> None:
    failure: list[BaseException] = []

    async def open_and_close() -> None:
        async with queue:
            pass

    def run() -> None:
        try:
            with writing():  # the opening writes (schema, recovery): no fork meanwhile
                asyncio.run(open_and_close())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=run, name="peft-studio-offline open", daemon=True)
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
