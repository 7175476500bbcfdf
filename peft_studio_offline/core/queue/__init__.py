"""The durable operation queue (SQLite through aiosqlite)."""

from peft_studio_offline.core.queue._direct import CallerThreadWriter
from peft_studio_offline.core.queue._inserts import EnqueueOptions
from peft_studio_offline.core.queue._manager import OfflineQueueManager
from peft_studio_offline.core.queue._recovery import move_aside_corrupt_database

__all__ = [
    "CallerThreadWriter",
    "EnqueueOptions",
    "OfflineQueueManager",
    "move_aside_corrupt_database",
]
