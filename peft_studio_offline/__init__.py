"""PEFT Studio Offline: an offline-first queue, sync engine and desktop app for PEFT work.

The names below are the public API (the README's "From Python"). The network monitor, the
sync engine and the process-wide accessors are loaded on first use, so that importing the
package for the queue alone (the command line, a training script) does not load the HTTP
stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from peft_studio_offline.core.enums import (
    ConflictResolution,
    NetworkStatus,
    OperationStatus,
    OperationType,
)
from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.queue import OfflineQueueManager

if TYPE_CHECKING:
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.runtime import (
        get_network_monitor,
        get_queue_manager,
        get_sync_engine,
    )
    from peft_studio_offline.core.sync.engine import SyncEngine

__version__ = "0.1.0"

_LAZY = {
    "NetworkMonitor": "peft_studio_offline.core.network",
    "SyncEngine": "peft_studio_offline.core.sync.engine",
    "get_queue_manager": "peft_studio_offline.core.runtime",
    "get_network_monitor": "peft_studio_offline.core.runtime",
    "get_sync_engine": "peft_studio_offline.core.runtime",
}

__all__ = [
    "ConflictResolution",
    "NetworkMonitor",
    "NetworkStatus",
    "OfflineQueueManager",
    "Operation",
    "OperationStatus",
    "OperationType",
    "PeftStudioOfflineError",
    "SyncEngine",
    "__version__",
    "get_network_monitor",
    "get_queue_manager",
    "get_sync_engine",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'peft_studio_offline' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
