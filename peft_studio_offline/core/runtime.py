"""The composition root: one per process, from settings to the running services.

Every entry point (the window, ``serve``, the command line, the training client) builds one
``Runtime``: the immutable ``Settings`` first, then the queue, the network monitor and the
sync engine from them. ``get_queue_manager()`` and its two siblings are thin accessors over
the process's default runtime, made on first call from the user's configuration.

The monitor and the engine are imported when a runtime is built, not at import, so that a
command that only reads the queue stays quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from peft_studio_offline.core.enums import OperationStatus, OperationType
from peft_studio_offline.core.events import EventSource
from peft_studio_offline.core.queue import EnqueueOptions, OfflineQueueManager
from peft_studio_offline.core.sealing import KEY_CACHE_SECONDS, PayloadSealer
from peft_studio_offline.core.settings import Settings
from peft_studio_offline.core.storage_budget import StorageBudget
from peft_studio_offline.core.submit import submit, submit_many

if TYPE_CHECKING:
    from peft_studio_offline.core.mlflow_endpoint import LocalTracking
    from peft_studio_offline.core.transfer import (
        ExportOptions,
        ExportResult,
        ImportResult,
        ReceiptResult,
        TransferProgress,
    )

    ProgressCallback = Callable[[TransferProgress], None]
    from peft_studio_offline.core.network import NetworkMonitor
    from peft_studio_offline.core.retention import RetentionResult
    from peft_studio_offline.core.sync.engine import SyncEngine

log = logging.getLogger(__name__)

# Seconds between looks at the settings file while the services run (a stat call each).
SETTINGS_POLL = 1.0
# Seconds between two transfer progress events (``Runtime.transfer_progress``).
PROGRESS_EVERY = 0.25
# Seconds between two looks at the storage budget (the staged trees walked, warnings told)
# and between two retention runs (``core.retention``) while the services run.
STORAGE_MEASURE_EVERY = 30.0
RETENTION_EVERY = 3600.0


class Runtime:
    """The services of one process, built from one ``Settings``.

    Building is cheap and touches no file; ``start()`` begins what the settings ask for
    (monitoring, automatic sync), ``close()`` stops everything and releases the database.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        db_path: str | Path | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings if settings is not None else Settings.load(environ=environ)
        self.db_path = Path(db_path).expanduser() if db_path else self.settings.paths.database
        self.queue = build_queue(self.settings, self.db_path)
        self._environ = environ
        self._monitor: NetworkMonitor | None = None
        self._engine: SyncEngine | None = None
        self._mlflow: LocalTracking | None = None
        # How far a bundle's export or import is (``TransferProgress``), on the event loop.
        self.transfer_progress: EventSource[TransferProgress] = EventSource("transfer progress")
        self._settings_watch: asyncio.Task[None] | None = None
        self._housekeeping: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def monitor(self) -> NetworkMonitor:
        """The network monitor, built on first use."""
        if self._monitor is None:
            self._monitor = build_network_monitor(self.settings)
            self._monitor.set_work_probe(self.has_hub_work)
        return self._monitor

    async def has_hub_work(self) -> bool:
        """Whether pushes to the Hugging Face Hub wait to be sent (its endpoint is probed
        only then). Any way in counts, another process writing to the queue too."""
        if not self.queue.is_open:
            return False
        from peft_studio_offline.core.handlers.model_push import is_hub_push

        waiting = await self.queue.list_operations(
            status=(OperationStatus.PENDING, OperationStatus.IN_PROGRESS),
            operation_type=OperationType.MODEL_PUSH,
            limit=None,
        )
        return any(is_hub_push(op.payload) for op in waiting)

    @property
    def engine(self) -> SyncEngine:
        """The sync engine, built on first use over this runtime's queue and monitor."""
        if self._engine is None:
            self._engine = build_sync_engine(self.settings, self.queue, self.monitor)
        return self._engine

    @property
    def mlflow(self) -> LocalTracking:
        """MLflow's tracking API over this queue (the local endpoint), built on first use."""
        if self._mlflow is None:
            from peft_studio_offline.core.mlflow_endpoint import LocalTracking

            self._mlflow = LocalTracking(self)
        return self._mlflow

    async def submit(
        self,
        operation_type: OperationType | str,
        payload: Mapping[str, Any],
        priority: int = 0,
        *,
        over_api: bool = False,
        base_dir: Path | None = None,
        **options: Unpack[EnqueueOptions],
    ) -> int:
        """Check, complete and queue one operation (``core.submit``); returns its id."""
        op_id = await submit(
            self.queue,
            operation_type,
            payload,
            priority,
            settings=self.settings,
            over_api=over_api,
            base_dir=base_dir,
            **options,
        )
        if self._monitor is not None and payload.get("target") == "huggingface":
            self._monitor.request_check()  # its endpoint is probed from now on
        return op_id

    async def submit_many(
        self,
        items: Iterable[Mapping[str, Any]],
        *,
        over_api: bool = False,
        base_dir: Path | None = None,
    ) -> list[int]:
        """``submit`` for many, in one transaction: all of them, or none."""
        return await submit_many(
            self.queue, items, settings=self.settings, over_api=over_api, base_dir=base_dir
        )

    # ------------------------------------------------ the air-gapped round trip

    async def export_bundle(
        self,
        path: str | os.PathLike[str],
        options: ExportOptions | None = None,
        *,
        everything: bool = False,
        statuses: Iterable[OperationStatus | str] | None = None,
        operation_types: Iterable[OperationType | str] | None = None,
        part_size: int | None = None,
        recipients: Sequence[str] = (),
        without_secrets: bool = False,
        progress: ProgressCallback | None = None,
    ) -> ExportResult:
        """Write the operations not exported yet (``everything``: those awaiting a receipt
        and failed ones too) with their files into a bundle folder (``core.transfer``),
        encrypted to ``recipients`` (age or SSH public keys) when any are given. Operations
        holding secrets go only in an encrypted bundle; ``without_secrets`` keeps them here
        instead of refusing the export. The options come as an ``ExportOptions`` (what the
        front-ends build) or one by one, not both."""
        from peft_studio_offline.core.transfer import (
            ExportOptions,
            TransferProgress,
            export_bundle,
            export_roots,
        )

        chosen = ExportOptions.of(
            everything=everything,
            statuses=statuses,
            operation_types=operation_types,
            part_size=part_size,
            recipients=recipients,
            without_secrets=without_secrets,
        )
        if options is None:
            options = chosen
        elif chosen != ExportOptions():
            raise TypeError("Give the export's options as an ExportOptions or one by one.")
        roots = export_roots(self.settings, self.db_path)
        result = await export_bundle(
            self.queue, path, options, roots=roots, progress=self._reporter(progress)
        )
        size, count = result.bundle_bytes, result.operations
        self.transfer_progress.emit(TransferProgress("exported", size, size, count, count))
        return result

    async def import_bundle(
        self,
        path: str | os.PathLike[str],
        *,
        identities: Sequence[str] = (),
        progress: ProgressCallback | None = None,
    ) -> ImportResult:
        """Check a bundle whole, then queue what this queue lacks; files are staged under
        the data directory (``core.transfer``). ``identities``: age secret keys, or files
        holding them, for an encrypted bundle."""
        from peft_studio_offline.core.transfer import (
            TransferProgress,
            import_bundle,
            transfers_root,
        )

        await self._check_room_for(Path(path))
        result = await import_bundle(
            self.queue,
            path,
            staging_root=transfers_root(self.settings.paths),
            identities=identities,
            progress=self._reporter(progress),
        )
        done = TransferProgress("imported", 0, None, result.operations, result.operations)
        self.transfer_progress.emit(done)
        await self.queue.storage_usage()  # the staged files counted (and warned of) at once
        return result

    async def _check_room_for(self, bundle: Path) -> None:
        """Refuse a bundle whose files would take the queue past its storage budget, before
        anything is staged (``StorageBudgetError``)."""
        from peft_studio_offline.core.errors import StorageBudgetError
        from peft_studio_offline.core.storage_budget import budget_full_message

        usage = await self.queue.storage_usage()
        if usage is None:
            return
        size = await asyncio.to_thread(_bundle_bytes, bundle)
        if usage.used + size > usage.limit:
            raise StorageBudgetError(budget_full_message(usage.used, size, usage.limit))

    def _reporter(self, progress: ProgressCallback | None) -> ProgressCallback:
        """Hand a transfer's progress (from its worker thread) to ``progress`` and, on the
        event loop, to ``transfer_progress``: at most every ``PROGRESS_EVERY`` seconds there,
        so that a stream of them stays small whatever the bundle's size."""
        loop = asyncio.get_running_loop()
        last = [0.0]

        def report(step: TransferProgress) -> None:
            if progress is not None:
                progress(step)
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY:
                last[0] = now
                loop.call_soon_threadsafe(self.transfer_progress.emit, step)

        return report

    async def export_receipt(
        self, path: str | os.PathLike[str], *, everything: bool = False
    ) -> ReceiptResult:
        """Write what was delivered of the imported work (``everything``: all completed)."""
        from peft_studio_offline.core.transfer import export_receipt, transfers_root

        staging = transfers_root(self.settings.paths)
        return await export_receipt(self.queue, path, everything=everything, staging_root=staging)

    async def import_receipt(self, path: str | os.PathLike[str]) -> ReceiptResult:
        """Complete the operations a receipt names; others are left as they are."""
        from peft_studio_offline.core.transfer import import_receipt, transfers_root

        staging = transfers_root(self.settings.paths)
        return await import_receipt(self.queue, path, staging_root=staging)

    async def rotate_payload_key(self, *, settle: float | None = None) -> str:
        """Seal every secret of the queue with a new key and remove the keys no longer used.

        Returns the new key's id. A key that envelopes of this queue still need (made by
        another process during the rotation, or not openable here) is kept.
        """
        sealer = self.queue.sealer
        if sealer is None:  # pragma: no cover - every runtime's queue has one
            raise RuntimeError("This queue does not encrypt secrets.")
        kid = await asyncio.to_thread(sealer.rotate)
        await self.queue.reseal()
        # Another process sees the new key within KEY_CACHE_SECONDS: what it sealed with the
        # old one meanwhile is sealed again by a second pass before any key is removed.
        await asyncio.sleep(KEY_CACHE_SECONDS if settle is None else settle)
        in_use = await self.queue.reseal()
        await asyncio.to_thread(sealer.retire, in_use)
        return kid

    async def start(self, *, monitoring: bool = True, auto_sync: bool | None = None) -> None:
        """Open the queue; start monitoring and (as the settings say) automatic sync."""
        await self.queue.open()
        if monitoring:
            await self.monitor.start_monitoring()
        if self.settings.sync.auto_sync if auto_sync is None else auto_sync:
            await self.engine.start_auto_sync()
        if self._settings_watch is None:
            self._settings_watch = asyncio.get_running_loop().create_task(
                self._watch_settings(), name="settings-watch"
            )
        if self._housekeeping is None:
            from peft_studio_offline.core.retention import retention_loop

            self._housekeeping = asyncio.get_running_loop().create_task(
                retention_loop(
                    self.queue,
                    lambda: self.settings,
                    every=RETENTION_EVERY,
                    measure_every=STORAGE_MEASURE_EVERY,
                ),
                name="storage-housekeeping",
            )

    async def apply_retention(self) -> RetentionResult:
        """Remove the finished operations and staged files the retention periods let go."""
        from peft_studio_offline.core.retention import run_retention

        return await run_retention(self.queue, self.settings)

    async def reload_settings(self) -> bool:
        """Read the settings file (and environment) again and give the engine what changed.

        Work that waited for a setting (a target, a credential) goes as soon as it is there,
        without a restart. A file that became invalid (a save half-way) changes nothing.
        True when the settings changed.
        """
        new = await asyncio.to_thread(Settings.load, self.settings.paths, self._environ)
        if new.problems and not self.settings.problems:
            log.warning("The settings file is not valid now; the settings in use are kept.")
            return False
        if new == self.settings:
            return False
        budget = self.queue.storage_budget
        if budget is not None and new.storage.max_bytes != self.settings.storage.max_bytes:
            budget.set_limit(new.storage.max_bytes)  # from the next insert on
        self.settings = new
        if self._engine is not None:
            await self._engine.apply_settings(new)
        if self._monitor is not None:  # a new target is probed, so auto sync sees it online
            self._monitor.apply_settings(new)
        return True

    async def _watch_settings(self) -> None:
        """Reload the settings when their file changes (the Settings dialog, an editor)."""
        stamp = _stamp(self.settings.paths.settings_file)
        while True:
            await asyncio.sleep(SETTINGS_POLL)
            now = _stamp(self.settings.paths.settings_file)
            if now != stamp:
                stamp = now
                with _logged("reloading the settings"):
                    await self.reload_settings()

    async def close(self) -> None:
        """Stop sync and monitoring, then release the database; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        for task in (self._settings_watch, self._housekeeping):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._engine is not None:
            with _logged("stopping automatic sync"):
                await self._engine.stop_auto_sync()
            with _logged("closing the sync engine"):
                await self._engine.close()
        if self._monitor is not None:
            with _logged("stopping network monitoring"):
                await self._monitor.stop_monitoring()
            with _logged("closing the network monitor"):
                await self._monitor.aclose()
        if self._mlflow is not None:
            self._mlflow.close()
        await self.queue.close()

    async def __aenter__(self) -> Runtime:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


def build_queue(settings: Settings, db_path: Path) -> OfflineQueueManager:
    q = settings.queue
    return OfflineQueueManager(
        db_path,
        max_attempts=q.max_attempts,
        max_size=q.max_size,
        overflow=q.overflow,
        compress_threshold=q.compress_threshold,
        lease_seconds=q.lease_seconds,
        busy_timeout=q.busy_timeout,
        # Secrets inside payloads are encrypted with a key from the credential store.
        sealer=PayloadSealer.from_settings(settings),
        storage_budget=StorageBudget.for_queue(
            settings.storage.max_bytes, db_path, settings.paths.data_dir, settings.paths.log_dir
        ),
    )


def build_network_monitor(settings: Settings) -> NetworkMonitor:
    from peft_studio_offline.core.network import NetworkMonitor

    return NetworkMonitor.from_settings(settings)


def build_sync_engine(
    settings: Settings, queue: OfflineQueueManager, monitor: NetworkMonitor
) -> SyncEngine:
    from peft_studio_offline.core.sync.engine import SyncEngine

    return SyncEngine(queue, monitor, settings=settings)


def _bundle_bytes(bundle: Path) -> int:
    """What a bundle (a folder of parts, or one file) holds; 0 when it cannot be read (the
    import then says what is wrong with it)."""
    from peft_studio_offline.core.storage_budget import tree_bytes

    path = bundle.expanduser()
    try:
        return path.stat().st_size if path.is_file() else tree_bytes(path)
    except OSError:
        return 0


def _stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is written or replaced (None: there is none)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size, info.st_ino


@contextlib.contextmanager
def _logged(what: str) -> Iterator[None]:
    try:
        yield
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("Failed while %s.", what)


# ----------------------------------------------------------- the process-wide default

_default: Runtime | None = None
_default_lock = threading.Lock()


def get_runtime() -> Runtime:
    """The process's runtime: the one an entry point installed, or one made from settings."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Runtime()
        return _default


def set_runtime(runtime: Runtime | None) -> Runtime | None:
    """Install ``runtime`` as the process default (None forgets it); returns the previous one."""
    global _default
    with _default_lock:
        previous, _default = _default, runtime
        return previous


def get_queue_manager() -> OfflineQueueManager:
    """The default queue (the file in the user's data directory unless configured)."""
    return get_runtime().queue


def get_network_monitor() -> NetworkMonitor:
    """The default network monitor, built from the user's settings."""
    return get_runtime().monitor


def get_sync_engine() -> SyncEngine:
    """The default sync engine over the default queue and monitor."""
    return get_runtime().engine
