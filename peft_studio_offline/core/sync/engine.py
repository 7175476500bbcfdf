"""``SyncEngine``: drains the queue through handlers, whatever the network does meanwhile."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import ssl
import time
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

import httpx

from peft_studio_offline.core.describe import Targets, describe_operation
from peft_studio_offline.core.enums import (
    ConflictResolution,
    NetworkStatus,
    OperationStatus,
    OperationType,
    parse_conflict_resolution,
    parse_operation_type,
)
from peft_studio_offline.core.errors import (
    InvalidOperationError,
    InvalidStateError,
    OperationNotFoundError,
    QueueClosedError,
)
from peft_studio_offline.core.events import EventSource, QueueChange
from peft_studio_offline.core.handlers.base import (
    CredentialLookup,
    HandlerContext,
    OperationHandler,
    as_handler,
)
from peft_studio_offline.core.masking import restore_masked
from peft_studio_offline.core.operation import Operation, iso, utc_now
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sealing import SecretsUnavailableError
from peft_studio_offline.core.settings import Settings, apply_environment
from peft_studio_offline.core.sync._runner import Runner
from peft_studio_offline.core.sync._state import RunState
from peft_studio_offline.core.sync.breaker import CircuitBreaker
from peft_studio_offline.core.sync.conflicts import (
    drop_local_change,
    parse_user_resolution,
    queue_resolution,
    resend_payload,
)
from peft_studio_offline.core.sync.progress import RunTally, SyncEvent, SyncTrigger
from peft_studio_offline.core.waiting import Moment

log = logging.getLogger(__name__)

# Seconds between two looks for imported copies that nothing needs any more.
TIDY_EVERY = 30.0

_OPTIONS = frozenset(
    {
        "batch_size",
        "concurrency",
        "settings",
        "conflict_strategy",
        "credentials",
        "breaker_threshold",
        "breaker_cooldown",
        "history_size",
        "idle_poll",
        "gather",
    }
)

# An automatic run that new work woke waits this long (seconds) from the first addition
# before it claims: a training loop logging live is sent in batches of what it logged
# meanwhile, not one request per call (a 2,000-step loop made ~1,000 requests).
GATHER_SECONDS = 0.5


class NetworkMonitorLike(Protocol):
    """What the engine needs of a ``NetworkMonitor``."""

    @property
    def status(self) -> NetworkStatus: ...

    def add_callback(self, callback: Callable[[NetworkStatus, NetworkStatus], Any]) -> None: ...

    def remove_callback(self, callback: Callable[[NetworkStatus, NetworkStatus], Any]) -> None: ...


class SyncEngine:
    """Sends queued operations to their services through handlers.

    Options: ``batch_size`` and ``concurrency`` (default from settings), ``settings`` (an
    immutable ``Settings``; environment variables are applied on top when the engine is
    created), ``conflict_strategy``, ``credentials`` (a ``name -> secret`` lookup; the
    system keyring by default), ``breaker_threshold``/``breaker_cooldown`` (the per-host
    circuit breaker), ``history_size`` (runs kept), ``idle_poll`` (seconds between
    checks when work is due but cannot be taken, e.g. it waits on a dependency) and
    ``gather`` (seconds an automatic run that new work woke waits for more of it).

    ``events`` publishes ``SyncEvent``s: ``started``, ``progress`` (done/total and the
    current operation) and ``finished`` (with the result dict).
    """

    def __init__(
        self,
        queue_manager: OfflineQueueManager,
        network_monitor: NetworkMonitorLike | None,
        **options: Any,
    ) -> None:
        unknown = sorted(set(options) - _OPTIONS)
        if unknown:
            raise InvalidOperationError(f"Unknown sync engine option {unknown[0]!r}.")
        settings = options.get("settings")
        settings = Settings.load() if settings is None else apply_environment(settings, os.environ)
        self.queue = queue_manager
        self.monitor = network_monitor
        self.settings: Settings = settings
        self.batch_size = _positive_int(
            options.get("batch_size", settings.sync.batch_size), "batch_size"
        )
        self.concurrency = _positive_int(
            options.get("concurrency", settings.sync.concurrency), "concurrency"
        )
        self._strategy = parse_conflict_resolution(
            options.get("conflict_strategy", settings.sync.conflict_strategy)
        )
        self._own_credentials = options.get("credentials") is None
        self._credential: CredentialLookup = _masked_from_now_on(
            options.get("credentials") or _credential_lookup(settings)
        )
        self.state = RunState(
            CircuitBreaker(
                threshold=_positive_int(options.get("breaker_threshold", 5), "breaker_threshold"),
                cooldown=float(options.get("breaker_cooldown", 30.0)),
            ),
            idle_poll=float(options.get("idle_poll", 30.0)),
        )
        self.events: EventSource[SyncEvent] = EventSource("sync events")
        # Settings given to a running engine (the file changed): targets may have appeared.
        self.settings_applied: EventSource[Settings] = EventSource("settings applied")
        self.gather = float(options.get("gather", GATHER_SECONDS))
        self._gather_from: float | None = None  # when new work first woke automatic sync
        self._history: deque[dict[str, Any]] = deque(
            maxlen=_positive_int(options.get("history_size", 20), "history_size")
        )
        self._last_result: dict[str, Any] | None = None

        from peft_studio_offline.core.handlers import builtin_handlers

        self._handlers: dict[OperationType, OperationHandler] = builtin_handlers()
        for handler in self._handlers.values():
            _bind_queue(handler, queue_manager)
        self._run_ids = itertools.count(1)
        self._runner: Runner | None = None
        self._run_task: asyncio.Task[dict[str, Any]] | None = None
        self._auto_task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._clients: list[httpx.AsyncClient] = []
        self._clients_loop: asyncio.AbstractEventLoop | None = None
        self._ssl_context: ssl.SSLContext | None = None
        self._closed = False
        # Operations that waited for a setting are woken before the first run (this process
        # may have it) and whenever the settings change.
        self._woken = False
        self._tidied_at = -TIDY_EVERY  # when imported copies were last looked at

    # ------------------------------------------------------------ configuration

    def register_handler(self, operation_type: OperationType | str, handler: object) -> None:
        """Use ``handler`` for a type, replacing the built-in one.

        ``handler`` is ``async def handler(payload) -> bool`` (the simple form) or an object
        with ``async def handle(operation, context) -> Outcome`` (see ``handlers.base``).
        """
        self._handlers[parse_operation_type(operation_type)] = as_handler(handler)
        _bind_queue(handler, self.queue)

    def handler_for(self, operation_type: OperationType | str) -> OperationHandler | None:
        try:
            return self._handlers.get(parse_operation_type(operation_type))
        except ValueError:
            return None

    def keep_local_refusal(self, operation_type: OperationType | str) -> str | None:
        """Why "keep local" cannot settle a conflict of this type (None: it can)."""
        refusal = getattr(self.handler_for(operation_type), "keep_local_refusal", None)
        return refusal if isinstance(refusal, str) else None

    def handled_types(self) -> list[OperationType]:
        return sorted(self._handlers)

    @property
    def breaker(self) -> CircuitBreaker:
        """The per-host circuit breaker every run of this engine shares."""
        return self.state.breaker

    def set_conflict_strategy(self, strategy: ConflictResolution | str) -> None:
        """The default strategy (an operation's own strategy, set at enqueue, wins over it)."""
        self._strategy = parse_conflict_resolution(strategy)

    @property
    def conflict_strategy(self) -> ConflictResolution:
        return self._strategy

    async def apply_settings(self, settings: Settings) -> None:
        """Use new settings from now on (the environment still wins), without a restart.

        Operations that wait for a setting (a target, a credential) are made due at once and,
        with automatic sync on, sent: the file, the Settings dialog or a new process that has
        the setting all end a wait the same way.
        """
        self.settings = apply_environment(settings, os.environ)
        if self._own_credentials:
            self._credential = _masked_from_now_on(_credential_lookup(self.settings))
        self.settings_applied.emit(self.settings)
        await self.wake_waiting()

    async def wake_waiting(self) -> int:
        """Make operations that wait for a setting due now; returns how many."""
        self._woken = True
        count = await self.queue.wake_waiting()
        if count:
            self.state.deferred.clear()
            if self._wake is not None:
                self._wake.set()
        return count

    def add_progress_listener(self, callback: Callable[[SyncEvent], None]) -> Callable[[], None]:
        """Subscribe to the run events; returns a function that unsubscribes."""
        return self.events.subscribe(callback)

    @property
    def history(self) -> list[dict[str, Any]]:
        """Recent runs, newest last: start, end, counts."""
        return list(self._history)

    # --------------------------------------------------------------------- runs

    @property
    def is_running(self) -> bool:
        return self._run_task is not None and not self._run_task.done()

    async def sync(self) -> dict[str, Any]:
        """Run a sync now over the operations that are due, whatever the monitor last said.

        While a run is going on (an automatic one), this joins it and returns its result.
        """
        return await self._start_or_join("manual")

    async def stop(self, reason: str = "the sync was stopped") -> None:
        """Stop the current run promptly; operations being sent are put back as pending."""
        runner, task = self._runner, self._run_task
        if runner is not None:
            runner.stop(reason)
        if task is not None:
            await asyncio.wait({task})  # its outcome belongs to those who asked for the run

    def _start_or_join(self, trigger: SyncTrigger) -> asyncio.Future[dict[str, Any]]:
        if self._closed:
            raise QueueClosedError("The sync engine is closed.")
        task = self._run_task
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._run(trigger), name="sync-run")
            self._run_task = task
        # A caller that gives up waiting must not cancel a run others are waiting for.
        return asyncio.shield(task)

    async def _run(self, trigger: SyncTrigger) -> dict[str, Any]:
        tally = RunTally(next(self._run_ids), trigger)
        if trigger == "manual":
            # The user's explicit request: paused hosts get one more try.
            self.state.breaker.allow_trial()
            self.state.deferred.clear()
        runner = Runner(self, tally)
        self._runner = runner
        self.events.emit(SyncEvent("started", tally.run_id, trigger))
        try:
            if not self._woken:
                await self.wake_waiting()
            if self._ssl_context is None:  # reading the certificate store: not on the loop
                self._ssl_context = await asyncio.to_thread(httpx.create_ssl_context)
            await runner.run()
        finally:
            self._runner = None
            if not self.auto_sync_enabled:
                # A one-off run (the command line's sync) leaves no connection behind.
                await asyncio.shield(self._close_clients())
            tally.finished_at = utc_now()
            result = tally.result()
            if trigger == "manual" or tally.claimed:
                self._history.append(tally.summary())
                self._last_result = result
            self.events.emit(
                SyncEvent(
                    "finished",
                    tally.run_id,
                    trigger,
                    done=runner.done,
                    total=tally.total,
                    result=result,
                )
            )
        if tally.completed:
            await self._remove_delivered_copies()
        return result

    async def _remove_delivered_copies(self) -> None:
        """Imported files (``core.transfer``) that no unfinished operation needs any more
        go once their operations are delivered: after a run that completed something, at
        most every ``TIDY_EVERY`` seconds (the clean-up reads every unfinished file
        operation's path); quick when nothing was imported."""
        now = time.monotonic()
        if now - self._tidied_at < TIDY_EVERY:
            return
        self._tidied_at = now
        from peft_studio_offline.core.transfer import tidy_staged, transfers_root

        await tidy_staged(self.queue, transfers_root(self.settings.paths))

    # --------------------------------------------------------------- auto sync

    async def start_auto_sync(self) -> None:
        """Sync whenever the monitor says online and work is due; stop when it goes offline."""
        if self._auto_task is not None and not self._auto_task.done():
            return
        self._wake = asyncio.Event()
        self._wake.set()
        self._unsubscribe = self.queue.changes.subscribe(self._on_queue_change)
        if self.monitor is not None:
            self.monitor.add_callback(self._on_network_change)
        self._auto_task = asyncio.get_running_loop().create_task(
            self._auto_loop(), name="sync-auto"
        )

    async def stop_auto_sync(self) -> None:
        """Stop syncing automatically, and stop an automatic run now (cleanly)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.monitor is not None:
            with contextlib.suppress(ValueError):
                self.monitor.remove_callback(self._on_network_change)
        task, self._auto_task = self._auto_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.stop("automatic sync was turned off")
            if not self.is_running:
                await self._close_clients()

    @property
    def auto_sync_enabled(self) -> bool:
        return self._auto_task is not None and not self._auto_task.done()

    def _online(self) -> bool:
        return self.monitor is None or self.monitor.status is NetworkStatus.ONLINE

    def _on_queue_change(self, change: QueueChange) -> None:
        if self._wake is not None:
            if change.kind in ("added", "external") and self._gather_from is None:
                self._gather_from = time.monotonic()
            self._wake.set()

    async def _gathered(self) -> None:
        """Before an automatic run that new work woke: let more of it come (``gather``)."""
        started = self._gather_from
        if started is not None:
            remaining = started + self.gather - time.monotonic()
            if remaining > 0:
                await asyncio.sleep(remaining)
        # What came during the wait goes with this run; what comes later starts a new one.
        self._gather_from = None

    def _on_network_change(self, old: NetworkStatus, new: NetworkStatus) -> None:
        if new is NetworkStatus.ONLINE:
            if self._wake is not None:
                self._wake.set()
        elif new in (NetworkStatus.OFFLINE, NetworkStatus.LIMITED) and self._runner is not None:
            # LIMITED: something answers, but not our services (a captive portal).
            self._runner.stop(f"the network went {new.value}")

    async def _auto_loop(self) -> None:
        assert self._wake is not None
        while True:
            timeout: float | None = None
            # Cleared whatever the status: a set event makes the wait below return at once,
            # and while offline that would spin without ever yielding to the loop.
            self._wake.clear()
            if self._online():
                await self._gathered()
                try:
                    result = await self._start_or_join("auto")
                except QueueClosedError:
                    return
                except Exception:
                    log.exception("An automatic sync failed")
                    result = None
                    timeout = self.state.idle_poll
                if result is not None:
                    if result["total"] and not result["stopped"]:
                        continue  # more may be due already
                    timeout = await self._next_wakeup()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout)

    async def _next_wakeup(self) -> float | None:
        """Seconds until something may become due (None: only an event can bring work)."""
        now = time.time()
        waits: list[float] = []
        due = await self.queue.next_due_at()
        if due is not None:
            if due > self.state.last_claim_at:  # due later, or since the last claim looked
                waits.append(due - now)
            else:  # due but not taken: it waits on a dependency, an earlier one or a pause
                waits.append(self.state.idle_poll)
        reopening = self.state.breaker.next_reopening()
        if reopening is not None:
            waits.append(reopening - now)
        deferred_at = self.state.next_deferred_at()
        if deferred_at is not None:
            waits.append(deferred_at - now)
        return max(0.01, min(waits)) if waits else None

    # --------------------------------------------------------------- conflicts

    async def _opened(self, operation: Operation) -> Operation:
        """The operation with its secrets decrypted; as stored when its key is not here
        (the re-queued payload keeps them encrypted, and it waits for the key when claimed)."""
        sealer = getattr(self.queue, "sealer", None)
        if sealer is None:
            return operation
        try:
            payload = await asyncio.to_thread(sealer.unseal, operation.payload)
        except SecretsUnavailableError:
            return operation
        if payload is operation.payload:
            return operation
        return dataclasses.replace(operation, payload=payload)

    async def resolve_conflict(
        self,
        op_id: int,
        resolution: ConflictResolution | str,
        merged_payload: Any = None,
    ) -> Operation:
        """Settle a parked conflict: keep local, keep remote, or send a merged value.

        ``merged_payload`` is the merged value of the compared data (what the conflict shows
        as local/remote/base), used with ``merged``. Keeping local or merged queues the
        operation again (due now); keeping remote completes it and records that the local
        change was dropped.
        """
        choice = parse_user_resolution(resolution)
        operation = await self.queue.get_operation(op_id)
        if operation is None:
            raise OperationNotFoundError(op_id)
        record = await self.queue.get_conflict(op_id)
        if operation.status is not OperationStatus.CONFLICT or record is None:
            raise InvalidStateError(f"Operation {op_id} has no conflict to resolve.")
        handler = self.handler_for(operation.operation_type)
        refusal = self.keep_local_refusal(operation.operation_type)
        if choice is ConflictResolution.LOCAL_WINS and refusal is not None:
            raise InvalidOperationError(refusal)
        if choice is ConflictResolution.REMOTE_WINS:
            await drop_local_change(
                self.queue,
                op_id,
                "You kept the remote version; this local change was dropped.",
                kept={"resolution": "keep_remote", "local": record.local, "remote": record.remote},
                resolution="keep_remote",
            )
        else:
            if choice is ConflictResolution.MERGE:
                if merged_payload is None:
                    raise InvalidOperationError("A merged resolution needs the merged value.")
                # The merge was edited as shown, masked: its secrets are the local side's.
                merged_payload = restore_masked(merged_payload, record.local)
            payload = resend_payload(
                handler,
                await self._opened(operation),  # as its handler sees it when sending
                choice,
                merged=merged_payload,
                remote=record.remote,
                remote_version=record.remote_version,
            )
            word = "keep_local" if choice is ConflictResolution.LOCAL_WINS else "merged"
            await queue_resolution(
                self.queue, op_id, payload, word=word, previous_payload=operation.payload
            )
        updated = await self.queue.get_operation(op_id)
        assert updated is not None
        return updated

    # ---------------------------------------------------------- for the runner

    def context_for(self, operation: Operation, client: httpx.AsyncClient) -> HandlerContext:
        return HandlerContext(
            idempotency_key=operation.idempotency_key,
            conflict_strategy=operation.conflict_strategy or self._strategy,
            settings=self.settings,
            client=client,
            credential=self._credential,
            attempt=operation.retry_count + 1,
        )

    def worker_clients(self) -> list[httpx.AsyncClient]:
        """One long-lived client per worker (a shared pool degrades at high concurrency)."""
        loop = asyncio.get_running_loop()
        if self._clients_loop is not loop:
            self._clients = []  # made on a loop that is gone: their connections are too
            self._clients_loop = loop
        if len(self._clients) < self.concurrency:
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()  # ~10 ms: made once
            while len(self._clients) < self.concurrency:
                self._clients.append(
                    httpx.AsyncClient(
                        verify=self._ssl_context,
                        timeout=self.settings.sync.request_timeout,
                        limits=httpx.Limits(max_connections=8, max_keepalive_connections=4),
                    )
                )
        return self._clients[: self.concurrency]

    # ------------------------------------------------------------------ status

    def moment(self) -> Moment:
        """What this engine knows now: online or not (None: not known), the hosts paused."""
        status = self.monitor.status if self.monitor is not None else None
        online = (
            True
            if status is NetworkStatus.ONLINE
            else False
            if status in (NetworkStatus.OFFLINE, NetworkStatus.LIMITED)
            else None
        )
        return Moment(online, dict(self.state.breaker.paused_hosts()))

    def targets(self) -> Targets:
        """Where operations without a URL of their own go, as the settings say now."""
        sync = self.settings.sync
        targets = Targets(sync.api_base_url, sync.mlflow_tracking_uri)
        if sync.huggingface_endpoint:
            targets = dataclasses.replace(targets, huggingface_endpoint=sync.huggingface_endpoint)
        return targets

    async def wait_reason(self, op_id: int) -> str | None:
        """Why the operation is not sent yet, with what this engine knows: the network, the
        hosts paused, whether the settings name where it goes (the table says the same)."""
        summary = await self.queue.get_summary(op_id)
        if summary is None:
            raise OperationNotFoundError(op_id)
        host = describe_operation(summary, self.targets()).host
        # A payload read only in part may name its URL past what was read: not "no target".
        known = bool(host) or not summary.payload_complete
        return await self.queue.wait_reason(
            op_id, moment=self.moment(), host=host, target_known=known
        )

    def get_status(self) -> dict[str, Any]:
        runner = self._runner
        progress = None
        if runner is not None:
            progress = {
                "run_id": runner.tally.run_id,
                "trigger": runner.tally.trigger,
                "done": runner.done,
                "total": runner.total,
                "held": runner.tally.held_back,
                "current_id": None if runner.current is None else runner.current.id,
                "current_type": None
                if runner.current is None
                else str(runner.current.operation_type),
            }
        paused = self.state.breaker.paused_hosts()
        monitor_status = self.monitor.status if self.monitor is not None else None
        return {
            "running": runner is not None,
            "auto_sync": self.auto_sync_enabled,
            "network_status": None if monitor_status is None else str(monitor_status),
            "conflict_strategy": self._strategy.value,
            "batch_size": self.batch_size,
            "concurrency": self.concurrency,
            "progress": progress,
            "last_sync": self._history[-1] if self._history else None,
            "last_result": self._last_result,
            "paused_hosts": [
                {"host": host, "until": iso(_utc(until))} for host, until in sorted(paused.items())
            ],
            "paused_until": iso(_utc(min(paused.values()))) if paused else None,
            "handlers": [t.value for t in self.handled_types()],
            "history": self.history,
        }

    # --------------------------------------------------------------- lifecycle

    async def close(self) -> None:
        """Stop syncing and release the HTTP clients; the queue stays open (not ours)."""
        if self._closed:
            return
        await self.stop_auto_sync()
        await self.stop("the sync engine was closed")
        self._closed = True
        await self._close_clients()
        for handler in self._handlers.values():
            release = getattr(handler, "release_queue", None)
            if callable(release):
                release()

    async def _close_clients(self) -> None:
        clients, self._clients = self._clients, []
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> SyncEngine:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


def _credential_lookup(settings: Settings) -> CredentialLookup:
    """The configured secret store; a secret that cannot be read is sent as none."""
    from peft_studio_offline.core.credentials import CredentialError, CredentialStore

    store = CredentialStore.from_settings(settings)

    def lookup(name: str) -> str | None:
        try:
            return store.get(name)
        except CredentialError as exc:
            log.warning("%s", exc)
            return None

    return lookup


def _masked_from_now_on(lookup: CredentialLookup) -> CredentialLookup:
    """``lookup``, with every secret it answers masked wherever this process shows text."""
    from peft_studio_offline.core.logs import register_secret

    def registering(name: str) -> str | None:
        secret = lookup(name)
        if isinstance(secret, str):
            register_secret(secret)
        return secret

    return registering


def _positive_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidOperationError(f"{name} must be a positive integer, not {value!r}.")
    return value


def _utc(epoch: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC)


__all__ = ["NetworkMonitorLike", "SyncEngine"]


def _bind_queue(handler: object, queue: OfflineQueueManager) -> None:
    """Tell a handler that keeps state beside the queue (``bind_queue``) which queue it is."""
    bind = getattr(handler, "bind_queue", None)
    if callable(bind):
        bind(queue)
