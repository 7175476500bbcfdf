"""The one place where core events become Qt signals.

The queue, the network monitor and the sync engine publish plain Python events on the
asyncio loop (which, under qasync, is the GUI thread). Widgets never subscribe to the core
themselves: they connect to this object's signals. The bridge also keeps the few derived
facts every widget wants (queue counts, the network status, whether a sync is running), so
that the indicator, the tray and the details panel agree. Counts are re-read from the
queue's counters after a change event, coalesced; nothing polls the database on a timer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.events import QueueChange
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.gui.i18n import QT_TRANSLATE_NOOP
from peft_studio_offline.gui.tasks import TaskKeeper

if TYPE_CHECKING:  # loaded after the first paint (gui/services.py): named here for types only
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.sync.engine import SyncEngine
    from peft_studio_offline.core.sync.progress import SyncEvent

log = logging.getLogger(__name__)


class CoreBridge(QObject):
    """Re-emits the core's events as Qt signals; owns no business rule."""

    queue_changed = Signal(object)  # QueueChange
    stats_changed = Signal(dict)  # the queue's counts per status, and "total"
    network_changed = Signal(str, str)  # old, new NetworkStatus value
    network_checked = Signal(dict)  # the monitor's status info after a check
    sync_started = Signal(int)  # operations due, 0 when not known yet
    sync_progress = Signal(int, int)  # done, total
    sync_finished = Signal(dict)  # the result of SyncEngine.sync()
    auto_sync_changed = Signal(bool)
    error_reported = Signal(str)  # a sentence for the user
    settings_applied = Signal()  # the engine took new settings (targets may have appeared)

    # Counts are re-read this long after the first change of a burst.
    STATS_DELAY_MS = 150
    # A sync reports every operation; the widgets hear of it at most this often.
    PROGRESS_INTERVAL_MS = 100

    def __init__(
        self,
        queue: OfflineQueueManager,
        monitor: NetworkMonitor | None,
        engine: SyncEngine | None,
        tasks: TaskKeeper,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.queue = queue
        self.monitor: NetworkMonitor | None = None  # both None until attach()
        self.engine: SyncEngine | None = None
        self._tasks = tasks
        self.stats: dict[str, int] = {}
        self.network_status = str(NetworkStatus.UNKNOWN)
        self._closed = False
        self.syncing = False
        self._announced = False
        self.sync_done = 0
        self.sync_total = 0
        self.sync_held = 0  # operations of the run held back by a paused host
        self.last_sync: dict[str, Any] | None = None
        self.last_sync_at: float | None = None
        self._unsubscribe: list[Callable[[], None]] = []
        self._stats_timer = QTimer(self)
        self._stats_timer.setSingleShot(True)
        self._stats_timer.setInterval(self.STATS_DELAY_MS)
        self._stats_timer.timeout.connect(self._on_stats_timer_timeout)
        self._progress_timer = QTimer(self)
        self._progress_timer.setSingleShot(True)
        self._progress_timer.setInterval(self.PROGRESS_INTERVAL_MS)
        self._progress_timer.timeout.connect(self._on_progress_timer_timeout)
        self._progress_due = False
        self._unsubscribe.append(self.queue.changes.subscribe(self._on_queue_change))
        if monitor is not None or engine is not None:
            self.attach(monitor, engine)
        self.refresh_stats()

    # ------------------------------------------------------------- subscriptions

    @property
    def attached(self) -> bool:
        """The monitor and the engine are known (the app attaches them after first paint)."""
        return self.monitor is not None or self.engine is not None

    def attach(self, monitor: NetworkMonitor | None, engine: SyncEngine | None) -> bool:
        """Follow ``monitor`` and ``engine`` from now on; False once the bridge is closed."""
        if self._closed:
            return False
        self.monitor, self.engine = monitor, engine
        self.network_status = str(NetworkStatus.UNKNOWN if monitor is None else monitor.status)
        if monitor is not None:
            monitor.add_callback(self._on_network_change)
            self._unsubscribe.append(lambda: monitor.remove_callback(self._on_network_change))
        if engine is not None:
            self._unsubscribe.append(engine.events.subscribe(self._on_engine_event))
            self._unsubscribe.append(
                engine.settings_applied.subscribe(lambda _: self.settings_applied.emit())
            )
        return True

    def close(self) -> None:
        """Stop listening to the core (the window is going away)."""
        self._closed = True
        for undo in self._unsubscribe:
            try:
                undo()
            except Exception:  # the core may already be closed
                log.debug("Unsubscribing failed", exc_info=True)
        self._unsubscribe.clear()
        self._stats_timer.stop()
        self._progress_timer.stop()

    # ------------------------------------------------------------------- queue

    def _on_queue_change(self, change: QueueChange) -> None:
        self.queue_changed.emit(change)
        if not self._stats_timer.isActive():
            self._stats_timer.start()

    def _on_stats_timer_timeout(self) -> None:
        self.refresh_stats()

    def refresh_stats(self) -> None:
        self._tasks.start(self._read_stats(), QT_TRANSLATE_NOOP("Tasks", "read the queue counts"))

    async def _read_stats(self) -> None:
        stats = await self.queue.get_queue_stats()
        if stats != self.stats:
            self.stats = stats
            self.stats_changed.emit(stats)

    # ----------------------------------------------------------------- network

    def _on_network_change(self, old: object, new: object) -> None:
        self.network_status = str(new)
        self.network_changed.emit(str(old), str(new))
        self.announce_network_info()

    def announce_network_info(self) -> None:
        info = self.network_info()
        if info:
            self.network_checked.emit(info)

    @property
    def probes_nothing(self) -> bool:
        """The monitor has no endpoint to check (none set, and no sync target to derive one
        from): its status stays unknown, whatever the network does."""
        endpoints = self.network_info().get("endpoints", None)
        return isinstance(endpoints, list) and not endpoints

    def network_info(self) -> dict[str, Any]:
        if self.monitor is None:
            return {}
        try:
            return dict(self.monitor.get_status_info())
        except Exception:
            log.exception("Reading the network status failed")
            return {}

    # -------------------------------------------------------------------- sync

    def _on_engine_event(self, event: SyncEvent) -> None:
        """Started, progress (done of total) or finished (with the result)."""
        if event.kind == "started":
            # An automatic run shows itself once it sends something: the engine looks for
            # due work after every change, and most looks find none.
            self.note_sync_started(event.total or 0, announce=event.trigger == "manual")
        elif event.kind == "progress":
            self.sync_held = event.held or 0
            self.note_sync_progress(event.done or 0, event.total or 0)
        elif event.kind == "finished":
            self.note_sync_finished(dict(event.result or {}))

    @property
    def sync_visible(self) -> bool:
        """A run is going on that the user should see (manual, or sending something)."""
        return self.syncing and self._announced

    def note_sync_started(self, total: int = 0, *, announce: bool = True) -> None:
        if self.syncing:
            self.sync_total = max(self.sync_total, total)
            if announce and not self._announced:
                self._announced = True
                self.sync_started.emit(self.sync_total)
            return
        self.syncing = True
        self._announced = announce
        self.sync_done = 0
        self.sync_total = total
        self.sync_held = 0
        if announce:
            self.sync_started.emit(total)

    def note_sync_progress(self, done: int, total: int) -> None:
        """Shown at once, then at most every ``PROGRESS_INTERVAL_MS`` (the latest figures):
        repainting the status bar for each of thousands of operations would slow the sync."""
        self.note_sync_started(total)
        self.sync_done = done
        self.sync_total = max(total, done)
        if self._progress_timer.isActive():
            self._progress_due = True
            return
        self._emit_progress()
        self._progress_timer.start()

    def _on_progress_timer_timeout(self) -> None:
        if self._progress_due and self.syncing:
            self._emit_progress()
            self._progress_timer.start()

    def _emit_progress(self) -> None:
        self._progress_due = False
        self.sync_progress.emit(self.sync_done, self.sync_total)

    def note_sync_finished(self, result: Mapping[str, Any]) -> None:
        """A sync ended (engine event, or the window's own call returning)."""
        already = not self.syncing and self.last_sync == dict(result)
        if self._progress_due and self.syncing:
            self._emit_progress()  # the last figures before the end
        self._progress_timer.stop()
        self._progress_due = False
        self.syncing = False
        self._announced = False
        if already:
            return
        if result:
            self.last_sync = dict(result)
            self.last_sync_at = time.time()
        self.sync_finished.emit(dict(result))
        self.refresh_stats()

    def auto_sync_enabled(self) -> bool:
        return bool(self.engine_status().get("auto_sync", False))

    def last_sync_summary(self) -> tuple[dict[str, Any] | None, float | None]:
        """The last run this window saw, else the engine's own last result."""
        if self.last_sync is not None:
            return self.last_sync, self.last_sync_at
        result = self.engine_status().get("last_result")
        if isinstance(result, Mapping):
            from peft_studio_offline.gui.formatting import parse_time

            finished = parse_time(result.get("finished_at"))
            return dict(result), finished.timestamp() if finished else None
        return None, None

    def engine_status(self) -> dict[str, Any]:
        if self.engine is None:
            return {}
        try:
            return dict(self.engine.get_status())
        except Exception:
            log.exception("Reading the sync status failed")
            return {}
