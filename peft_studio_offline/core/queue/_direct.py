"""Storing new operations on the caller's own thread, for callers without an event loop.

A training script logs once or more per step. Handing each call to an event-loop thread and
from there to the writer thread cost two thread hops on top of the commit; here the caller's
thread runs the same insert (the same validation, queue-size and overflow rules, storage cap
and error translation as ``OfflineQueueManager.enqueue``) on a connection of its own, so a
call costs about one durable commit. Each thread of each process has its own connection:
SQLite connections may not cross threads, and one made before a fork is the parent's alone
(data-loader workers are forked). A fork waits for a commit in progress to end: SQLite keeps
what its process holds of a file's locks in memory, and a child that inherited "a write is
under way" could never write to the file.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.queue._database import (
    apply_storage_limit,
    check_readable,
    configure_writer,
    connect_writer,
    translate,
)
from peft_studio_offline.core.queue._inserts import (
    ENQUEUE_OPTIONS,
    InsertBatch,
    NewOperation,
)

if TYPE_CHECKING:
    from peft_studio_offline.core.queue._manager import OfflineQueueManager


class CallerThreadWriter:
    """``enqueue`` for synchronous callers: commits durably before it returns.

    Built from a queue manager whose file has been opened once (so that its schema is
    current); the manager itself need not stay open.
    """

    def __init__(self, queue: OfflineQueueManager) -> None:
        self.db_path = queue.db_path
        self._queue = queue
        self._local = threading.local()
        self._lock = threading.Lock()
        self._connections: list[sqlite3.Connection] = []  # this process's, to close
        self._inherited: list[sqlite3.Connection] = []  # a forked child's from its parent
        self._pid = os.getpid()
        self._generation = 0

    def enqueue(
        self,
        operation_type: object,
        payload: Mapping[str, Any],
        priority: object = 0,
        **options: Any,
    ) -> int:
        """Store one operation; returns its id (an existing one for a known ``dedup_key``)."""
        return self._insert([self._validate(operation_type, payload, priority, options)])[0]

    def enqueue_many(self, items: Iterable[Mapping[str, Any]]) -> list[int]:
        """Store several in one commit, all of them or none; each item holds ``enqueue``'s
        arguments (``operation_type``, ``payload``, ``priority`` and options)."""
        news = []
        for item in items:
            options = {k: v for k, v in item.items() if k in ENQUEUE_OPTIONS}
            news.append(
                self._validate(
                    item["operation_type"], item["payload"], item.get("priority", 0), options
                )
            )
        return self._insert(news) if news else []

    def _validate(
        self, operation_type: object, payload: object, priority: object, options: Mapping[str, Any]
    ) -> NewOperation:
        return self._queue.validate_new(operation_type, payload, priority, options)

    def _insert(self, news: list[NewOperation]) -> list[int]:
        queue = self._queue
        batch = InsertBatch(
            [news], queue.max_size, queue.overflow, queue.max_attempts, queue.storage_budget
        )
        conn = self._connection()
        try:
            with writing():
                conn.execute("BEGIN IMMEDIATE")
                try:
                    results, _change = batch.run(conn, queue.clock())
                    conn.execute("COMMIT")
                except BaseException:
                    # SQLite may have rolled back already (e.g. on SQLITE_FULL).
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
        except sqlite3.Error as exc:
            raise translate(exc, self.db_path) from exc
        (result,) = results
        if isinstance(result, Exception):  # bad input, or no room in the storage budget
            raise result
        return [int(op_id) for op_id in result]

    def close(self) -> None:
        """Close this process's connections, those of other threads too: call it once
        nothing writes through this writer any more. A thread that writes again later
        connects afresh; a forked child leaves its parent's connections alone."""
        with self._lock:
            self._generation += 1
            if os.getpid() != self._pid:
                return  # a forked child that never wrote: the connections are the parent's
            connections, self._connections = self._connections, []
        self._local.held = None
        for conn in connections:
            with contextlib.suppress(sqlite3.Error):
                conn.close()

    def _connection(self) -> sqlite3.Connection:
        held: tuple[int, int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        pid = os.getpid()
        if held is not None and held[:2] == (pid, self._generation):
            return held[2]
        conn = self._connect()
        self._local.held = (pid, self._generation, conn)
        with self._lock:
            if pid != self._pid:
                # Connections inherited from the parent stay referenced, never used nor
                # closed: closing one here could check the parent's log file point or drop
                # the parent's locks.
                self._inherited += self._connections
                self._pid, self._connections = pid, []
            self._connections.append(conn)
        return conn

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = connect_writer(self.db_path, self._queue.busy_timeout, check_same_thread=False)
        except sqlite3.Error as exc:
            raise translate(exc, self.db_path) from exc
        try:
            check_readable(conn, self.db_path)
            configure_writer(conn)
            apply_storage_limit(conn, self._queue.max_db_bytes)
        except (sqlite3.Error, PeftStudioOfflineError) as exc:
            conn.close()
            if isinstance(exc, sqlite3.Error):
                raise translate(exc, self.db_path) from exc
            raise
        return conn


_writing = threading.Lock()


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Hold off a fork of this process while the queue file is written (a commit, or the
    queue's opening): a child must not inherit SQLite's note of a write under way."""
    with _writing:
        yield


def _before_fork() -> None:
    _writing.acquire()


def _after_fork_in_parent() -> None:
    _writing.release()


def _after_fork_in_child() -> None:
    global _writing
    _writing = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_before_fork,
        after_in_parent=_after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )
