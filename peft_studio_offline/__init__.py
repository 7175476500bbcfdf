"""PEFT Studio Offline: an offline-first queue, sync engine and desktop app for PEFT work.

The names below are the public API (the README's "From Python"). The network monitor, the
sync engine and the process-wide accessors are loaded on first use, so that importing the
package for the queue alone (the command line, a training script) does not load the HTTP
stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from peft_studio_offline._lazy import lazy_names
from peft_studio_offline._version import __version__
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


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
