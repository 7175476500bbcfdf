"""``NetworkMonitor``: whether the services we sync with can be reached, kept up to date.

Online means an HTTP probe of a configured endpoint got the answer that endpoint promises,
not that a network interface is up. See ``_attempts`` for how one endpoint is judged
within one check (retries inside the ``timeout``), ``_probe.combine`` for how several
endpoints add up, and ``_policy`` for when the status changes and when to check again.

An outage of a steady online status is reported within ``timeout + check_interval``, and
one lost probe does not flip it (see ``failure_threshold``).

The monitor lives on one asyncio event loop; call its methods from that loop's thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any, Self

import httpx

from peft_studio_offline.core.endpoints import (
    Endpoint,
    EndpointSpec,
    NetworkConfigError,
    parse_endpoint,
    parse_endpoints,
)
from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.events import EventSource
from peft_studio_offline.core.network._attempts import check_endpoint
from peft_studio_offline.core.network._policy import apply_check, next_delay
from peft_studio_offline.core.network._probe import ProbeOutcome, ProbeResult, combine
from peft_studio_offline.core.settings import Settings, endpoints_from_settings

log = logging.getLogger(__name__)

StatusCallback = Callable[[NetworkStatus, NetworkStatus], Awaitable[None] | None]
StatusChange = tuple[NetworkStatus, NetworkStatus]  # (old, new)
WorkProbe = Callable[[], Awaitable[bool]]
"""Called with ``(old_status, new_status)``; a plain function or a coroutine function."""

TASK_NAME = "peft-studio-offline network monitor"
DEFAULT_FAILURE_THRESHOLD = 2
DEFAULT_BACKOFF_INITIAL = 1.0


class NetworkMonitor:
    """Probes the configured endpoints and reports the status, now and on every change.

    ``endpoints``: URLs or ``{"url", "expected_status", "expected_body"}`` mappings; ``None``
    takes them from the settings (``PEFT_STUDIO_OFFLINE_CHECK_URLS`` overrides, read now);
    ``[]`` probes nothing and the status stays unknown.

    Options: ``failure_threshold`` (the hysteresis: failed probes in a row, within one check
    and its ``timeout``, before an endpoint counts as down; 1 trusts a single probe; default
    from the settings when they are read or given, else 2),
    ``backoff_initial`` (seconds before the first re-check after a failure, doubling up to
    ``check_interval``), ``settings`` (a ``Settings`` to use instead of loading them) and
    ``client`` (an ``httpx.AsyncClient`` to probe with; the caller closes it).
    ``check_interval`` and ``timeout`` are taken as given; ``from_settings()`` takes them
    from the settings too.
    """

    def __init__(
        self,
        endpoints: Iterable[EndpointSpec | Endpoint] | None = None,
        check_interval: float = 30.0,
        timeout: float = 5.0,
        *,
        failure_threshold: int | None = None,
        backoff_initial: float = DEFAULT_BACKOFF_INITIAL,
        settings: Settings | None = None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.check_interval = _positive("check_interval", check_interval)
        self.timeout = _positive("timeout", timeout)
        self.backoff_initial = _positive("backoff_initial", backoff_initial)
        self._problems: tuple[str, ...] = ()
        self._from_settings = endpoints is None
        self._settings: Settings | None = None
        self._work_probe: WorkProbe | None = None
        self._hub_work = False
        if endpoints is None:
            settings = settings if settings is not None else Settings.load()
            self._settings = settings
            self._endpoints, self._problems = _lenient_endpoints(endpoints_from_settings(settings))
        else:
            self._endpoints = parse_endpoints(endpoints)
        if failure_threshold is None:
            failure_threshold = (
                settings.network.failure_threshold
                if settings is not None
                else DEFAULT_FAILURE_THRESHOLD
            )
        if isinstance(failure_threshold, bool) or not isinstance(failure_threshold, int):
            raise NetworkConfigError(
                f"failure_threshold must be a whole number, not {failure_threshold!r}."
            )
        if failure_threshold < 1:
            raise NetworkConfigError(
                f"failure_threshold must be 1 or more, not {failure_threshold}."
            )
        self.failure_threshold = failure_threshold

        self._status = NetworkStatus.UNKNOWN
        self._failures = 0
        self._results: dict[str, ProbeResult] = {}
        self._last_check: datetime | None = None
        self._next_check: datetime | None = None
        # Every change, as (old, new), to the callbacks given to ``add_callback``.
        self.status_changes: EventSource[StatusChange] = EventSource("network status changes")
        self._subscribed: dict[StatusCallback, Callable[[StatusChange], object]] = {}
        self._pending_changes: deque[tuple[NetworkStatus, NetworkStatus]] = deque()
        self._delivering = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._check_lock = asyncio.Lock()
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._background_check: asyncio.Task[None] | None = None
        self._client = client
        self._owns_client = client is None

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> NetworkMonitor:
        """A monitor with every network setting taken from ``settings``."""
        network = settings.network
        return cls(None, network.check_interval, network.timeout, settings=settings, **options)

    # -- what the monitor knows ------------------------------------------------------------

    @property
    def status(self) -> NetworkStatus:
        return self._status

    @property
    def is_online(self) -> bool:
        return self._status is NetworkStatus.ONLINE

    @property
    def endpoints(self) -> tuple[Endpoint, ...]:
        return self._endpoints

    @property
    def consecutive_failures(self) -> int:
        """Checks in a row that found no endpoint healthy (each after its own retries)."""
        return self._failures

    @property
    def monitoring(self) -> bool:
        return self._task is not None and not self._task.done()

    def get_status_info(self) -> dict[str, Any]:
        """The status and the last result of every endpoint, as plain JSON-ready values."""
        return {
            "status": self._status.value,
            "is_online": self.is_online,
            "monitoring": self.monitoring,
            "last_check": _iso(self._last_check),
            "next_check": _iso(self._next_check) if self.monitoring else None,
            "check_interval": self.check_interval,
            "timeout": self.timeout,
            "failure_threshold": self.failure_threshold,
            "consecutive_failures": self._failures,
            "endpoints": [self._endpoint_info(endpoint) for endpoint in self._endpoints],
            "problems": list(self._problems),
        }

    def _endpoint_info(self, endpoint: Endpoint) -> dict[str, Any]:
        info: dict[str, Any] = {
            "url": endpoint.url,
            "expected_status": endpoint.expected_status,
            "expected_body": endpoint.expected_body,
            "ok": None,  # not checked yet
            "outcome": None,
            "http_status": None,
            "latency_ms": None,
            "error": None,
            "checked_at": None,
            "attempts": None,
        }
        result = self._results.get(endpoint.url)
        if result is not None:
            info.update(result.as_dict())
        return info

    # -- callbacks -------------------------------------------------------------------------

    def add_callback(self, callback: StatusCallback) -> None:
        """Call ``callback(old_status, new_status)`` on every change, in order of changes.

        Callbacks run in the order they were added; one that raises is logged and the others
        still run. A coroutine callback is awaited before the next one runs, so keep it short
        (start a task for long work).
        """
        if callback in self._subscribed:
            return

        def deliver(change: StatusChange) -> object:
            return callback(*change)

        self._subscribed[callback] = deliver
        self.status_changes.subscribe(deliver)

    def remove_callback(self, callback: StatusCallback) -> None:
        deliver = self._subscribed.pop(callback, None)
        if deliver is not None:
            self.status_changes.unsubscribe(deliver)

    async def _deliver_changes(self) -> None:
        # One delivery at a time, oldest change first: a change found while a callback is
        # being awaited (by the loop or by a manual check) waits its turn.
        if self._delivering:
            return
        self._delivering = True
        try:
            while self._pending_changes:
                await self.status_changes.emit_awaiting(self._pending_changes.popleft())
        finally:
            self._delivering = False

    def apply_settings(self, settings: Settings) -> None:
        """Probe what new settings name (a sync target set while running), checking soon.

        Only for a monitor whose endpoints came from settings; one given its own list keeps
        it. Nothing happens when the endpoints stay the same.
        """
        if not self._from_settings:
            return
        self._settings = settings
        self._use_endpoints(settings)

    def set_work_probe(self, probe: WorkProbe | None) -> None:
        """``probe()`` answers whether pushes to the Hugging Face Hub wait; asked before each
        check, so that the Hub endpoint is probed only while there is work for it."""
        self._work_probe = probe

    async def _ask_for_work(self) -> None:
        if self._work_probe is None or self._settings is None:
            return
        try:
            hub_work = bool(await self._work_probe())
        except Exception as exc:  # the queue closed meanwhile: keep what was known
            log.debug("Could not tell whether Hub pushes wait: %s", exc)
            return
        if hub_work != self._hub_work:
            self._hub_work = hub_work
            self._use_endpoints(self._settings, check_soon=False)  # the check is under way

    def _use_endpoints(self, settings: Settings, *, check_soon: bool = True) -> None:
        endpoints, problems = _lenient_endpoints(
            endpoints_from_settings(settings, hub_work=self._hub_work)
        )
        if endpoints == self._endpoints:
            return
        self._endpoints, self._problems = endpoints, problems
        self._results = {url: r for url, r in self._results.items() if url in self.urls()}
        if check_soon and self._loop is not None and not self._loop.is_closed():
            self.request_check()

    def urls(self) -> set[str]:
        return {endpoint.url for endpoint in self._endpoints}

    # -- checking --------------------------------------------------------------------------

    async def check_connectivity(self) -> bool:
        """Check now and return whether the status is online.

        The probes end within ``timeout``: the check settles its own doubts (a failed probe
        is retried within that time), so its answer is the current one.
        """
        await self._check_once()
        return self.is_online

    def request_check(self) -> None:
        """Ask for a check as soon as possible, without waiting for it.

        For hints such as the platform reporting a network change: wakes the monitoring
        loop, or, when it is not running, starts one check in the background.
        """
        if self.monitoring:
            self._wake.set()
        elif self._background_check is None or self._background_check.done():
            self._background_check = self._bind_to_running_loop().create_task(
                self._check_in_background(), name=f"{TASK_NAME}: requested check"
            )

    async def _check_in_background(self) -> None:
        try:
            await self.check_connectivity()
        except Exception:
            log.exception("A requested connectivity check failed")

    def _bind_to_running_loop(self) -> asyncio.AbstractEventLoop:
        """Follow the running loop: one process may run several in turn (``asyncio.run``)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            if self._loop is not None:
                # Locks, events and the client belong to the old loop. The client keeps no
                # connection open between probes, so dropping it leaves nothing behind.
                self._check_lock = asyncio.Lock()
                self._wake = asyncio.Event()
                if self._owns_client:
                    self._client = None
            self._loop = loop
        return loop

    async def _check_once(self) -> None:
        self._bind_to_running_loop()
        await self._ask_for_work()
        async with self._check_lock:
            if not self._endpoints:
                return
            client = self._get_client()
            results = await asyncio.gather(
                *(self._probe(client, endpoint) for endpoint in self._endpoints)
            )
            old = self._status
            self._status, self._failures = apply_check(old, self._failures, combine(results))
            self._results = {result.url: result for result in results}
            self._last_check = datetime.now(UTC)
            if self._status is not old:
                log.info("Network status %s -> %s", old.value, self._status.value)
                self._pending_changes.append((old, self._status))
            elif self._failures:
                log.debug("Connectivity check failed (%d in a row)", self._failures)
        await self._deliver_changes()

    async def _probe(self, client: httpx.AsyncClient, endpoint: Endpoint) -> ProbeResult:
        try:
            return await check_endpoint(client, endpoint, self.timeout, self.failure_threshold)
        except Exception as exc:  # a bug: one endpoint's failure must not end the check
            log.exception("Probing %s failed unexpectedly", endpoint.url)
            return ProbeResult(
                endpoint.url,
                ProbeOutcome.FAILED,
                datetime.now(UTC),
                error=f"Internal error: {exc!r}",
            )

    def _get_client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                # A new connection per probe: it proves the path works now, and no socket
                # stays open between checks.
                limits=httpx.Limits(max_keepalive_connections=0),
                # Captive portals mostly answer with a redirect; following it would hide them.
                follow_redirects=False,
                headers={"User-Agent": "peft-studio-offline connectivity check"},
            )
        return self._client

    def _delay(self) -> float:
        return next_delay(self._failures, self.check_interval, self.backoff_initial)

    # -- the monitoring loop ---------------------------------------------------------------

    async def start_monitoring(self) -> None:
        """Check now and then periodically, in a background task; a second call does nothing."""
        if self.monitoring:
            return
        loop = self._bind_to_running_loop()
        self._wake.clear()
        self._task = loop.create_task(self._run(), name=TASK_NAME)

    async def stop_monitoring(self) -> None:
        """Stop the loop and any requested check, wait for them to end, and free the client."""
        tasks = [task for task in (self._task, self._background_check) if task is not None]
        self._task = self._background_check = None
        self._next_check = None
        current = asyncio.current_task()
        for task in tasks:
            task.cancel()
        # A callback may stop the monitor from inside the loop: that task ends at its next
        # await instead of being waited for here.
        others = [task for task in tasks if task is not current]
        if others:
            await asyncio.gather(*others, return_exceptions=True)
        if current not in tasks:
            await self._close_client()

    async def aclose(self) -> None:
        """Stop monitoring and release the HTTP client."""
        await self.stop_monitoring()
        await self._close_client()

    async def _close_client(self) -> None:
        if self._client is None or not self._owns_client:
            return  # nothing open, or the caller's client: theirs to close
        self._bind_to_running_loop()
        # A manual check may still be probing with it: let that check finish first.
        async with self._check_lock:
            client, self._client = self._client, None
            if client is not None:
                await client.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self._check_once()
            except Exception:  # a bug: log it and keep monitoring
                log.exception("A connectivity check failed unexpectedly")
            delay = self._delay()
            self._next_check = datetime.now(UTC) + timedelta(seconds=delay)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await self._wake.wait()
            self._wake.clear()
            self._next_check = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __repr__(self) -> str:
        urls = ", ".join(endpoint.url for endpoint in self._endpoints) or "no endpoints"
        return f"<NetworkMonitor {self._status.value}: {urls}>"


def _positive(name: str, value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise NetworkConfigError(f"{name} must be a number greater than zero, not {value!r}.")
    return float(value)


def _lenient_endpoints(
    specs: Iterable[EndpointSpec],
) -> tuple[tuple[Endpoint, ...], tuple[str, ...]]:
    """Endpoints from the settings: a bad entry is reported and skipped, never fatal."""
    endpoints: dict[str, Endpoint] = {}
    problems: list[str] = []
    for spec in specs:
        try:
            endpoint = parse_endpoint(spec)
        except NetworkConfigError as exc:
            log.warning("Ignoring a connectivity endpoint from the settings: %s", exc)
            problems.append(str(exc))
            continue
        endpoints.setdefault(endpoint.url, endpoint)
    return tuple(endpoints.values()), tuple(problems)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()
