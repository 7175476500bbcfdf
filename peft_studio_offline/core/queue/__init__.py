"""The durable operation queue (SQLite through aiosqlite)."""

from peft_studio_offline.core.queue._manager import OfflineQueueManager

__all__ = ["OfflineQueueManager"]
