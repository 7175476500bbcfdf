"""PEFT Studio Offline: an offline-first queue, sync engine and desktop app for PEFT work."""

from peft_studio_offline.core.enums import (
    ConflictResolution,
    NetworkStatus,
    OperationStatus,
    OperationType,
)
from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.queue import OfflineQueueManager

__version__ = "0.1.0"

__all__ = [
    "ConflictResolution",
    "NetworkStatus",
    "OfflineQueueManager",
    "Operation",
    "OperationStatus",
    "OperationType",
    "PeftStudioOfflineError",
    "__version__",
]
