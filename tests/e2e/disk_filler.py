"""Fills a queue on a small disk from its own process, as a real user's process would.

Prints ``acked N`` for every operation whose enqueue returned (so it is durable), then
``full`` when the disk refused one. In ``checkpoint`` mode it then runs WAL checkpoints
over and over (printing ``checkpointing`` first) until it is killed: a kill -9 lands in the
middle of one, on a disk that has no room to finish it.

    python disk_filler.py DB [fill|checkpoint]
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import sys
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from peft_studio_offline.core.errors import StorageFullError
from peft_studio_offline.core.queue import OfflineQueueManager

FILLER = "y" * 3000  # under the compression threshold: each row takes most of a page


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def fill(db: Path) -> None:
    async with OfflineQueueManager(db) as queue:
        for n in range(100_000):  # bounded: an 8 MiB disk is full after about a thousand
            try:
                op_id = await queue.enqueue(
                    "api_call", {"url": f"http://127.0.0.1:9/{n}", "n": n, "c": FILLER}
                )
            except StorageFullError:
                say("full")
                return
            say(f"acked {op_id}")


def checkpoint_forever(db: Path) -> None:
    conn = sqlite3.connect(db, isolation_level=None)
    say("checkpointing")
    while True:
        # A full disk refuses the checkpoint; it is tried again at once.
        with contextlib.suppress(sqlite3.Error):
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def main() -> None:
    db = Path(sys.argv[1])
    mode = sys.argv[2] if len(sys.argv) > 2 else "fill"
    asyncio.run(fill(db))
    if mode == "checkpoint":
        checkpoint_forever(db)


if __name__ == "__main__":
    main()
