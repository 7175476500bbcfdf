"""Plain SQLite connections for tests that look into a queue file from outside the queue."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def connected(path: Path | str, **options: Any) -> Iterator[sqlite3.Connection]:
    """Commit what the block wrote (roll back on an error), then close the connection.

    ``with sqlite3.connect(...)`` only commits: the connection stays open until it is
    collected, which Python 3.13 reports as a ResourceWarning.
    """
    conn = sqlite3.connect(path, **options)
    try:
        with conn:
            yield conn
    finally:
        conn.close()
