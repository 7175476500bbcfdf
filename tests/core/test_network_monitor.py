"""The monitor over time: callbacks, hysteresis, the monitoring loop and its lifecycle.

Servers are real and on 127.0.0.1. Intervals are short so the suite stays fast; time bounds
are generous ("within timeout + interval + 2 s") so a loaded machine does not fail them.
Where a bound alone could not tell the promised behaviour from a slower one, the test also
checks how it came about (how many checks, how many probes).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
import time
import warnings
from collections.abc import Callable
from datetime import datetime

import pytest

from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.network import NetworkMonitor
from peft_studio_offline.core.network._monitor import TASK_NAME
from tests.support.servers import HttpServer, Reply, SilentServer, refused_url

ONLINE, OFFLINE, LIMITED, UNKNOWN = (
    NetworkStatus.ONLINE,
    NetworkStatus.OFFLINE,
    NetworkStatus.LIMITED,
    NetworkStatus.UNKNOWN,
)
SLACK = 2.0  # seconds of headroom for a busy machine


class Changes:
    """A callback that records every change and when it came."""

    def __init__(self) -> None:
        self.seen: list[tuple[NetworkStatus, NetworkStatus]] = []
        self.times: list[float] = []
        self._arrived = asyncio.Event()

    def __call__(self, old: NetworkStatus, new: NetworkStatus) -> None:
        self.seen.append((old, new))
        self.times.append(time.monotonic())
        self._arrived.set()

    async def wait_for(self, count: int, within: float) -> float:
        """Wait until ``count`` changes were seen; returns when the last of them came."""
        async with asyncio.timeout(within):
            while len(self.seen) < count:
                self._arrived.clear()
                await self._arrived.wait()
        return self.times[count - 1]


class Flaky:
    """Answers 200, except ``failures`` times in a row with 503 after ``fail(n)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failures = 0

    def fail(self, times: int) -> None:
        with self._lock:
            self._failures = times

    def __call__(self, path: str) -> Reply:
        with self._lock:
            if self._failures:
                self._failures -= 1
                return Reply(503, "busy")
        return Reply(200, "ok")


async def wait_until(condition: Callable[[], bool], within: float) -> None:
    async with asyncio.timeout(within):
        while not condition():
            await asyncio.sleep(0.02)


def monitor_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith(TASK_NAME)]


# -- callbacks --------------------------------------------------------------------------------


async def test_callbacks_get_old_and_new_once_per_change_in_order() -> None:
    calls: list[tuple[str, NetworkStatus, NetworkStatus]] = []

    def first(old: NetworkStatus, new: NetworkStatus) -> None:
        calls.append(("first", old, new))

    async def second(old: NetworkStatus, new: NetworkStatus) -> None:
        await asyncio.sleep(0.05)  # awaited before the next callback runs
        calls.append(("second", old, new))

    def third(old: NetworkStatus, new: NetworkStatus) -> None:
        calls.append(("third", old, new))

    with HttpServer() as server:
        async with NetworkMonitor([server.url()], failure_threshold=1) as monitor:
            for callback in (first, second, third, first):  # a second add is ignored
                monitor.add_callback(callback)
            await monitor.check_connectivity()
            await monitor.check_connectivity()  # no change: nobody is called
            server.reply_with(Reply(503, ""))
            await monitor.check_connectivity()
    assert calls == [
        ("first", UNKNOWN, ONLINE),
        ("second", UNKNOWN, ONLINE),
        ("third", UNKNOWN, ONLINE),
        ("first", ONLINE, OFFLINE),
        ("second", ONLINE, OFFLINE),
        ("third", ONLINE, OFFLINE),
    ]


async def test_a_removed_callback_is_not_called() -> None:
    kept, removed = Changes(), Changes()
    with HttpServer() as server:
        async with NetworkMonitor([server.url()]) as monitor:
            monitor.add_callback(kept)
            monitor.add_callback(removed)
            monitor.remove_callback(removed)
            monitor.remove_callback(removed)  # removing twice is harmless
            await monitor.check_connectivity()
    assert kept.seen == [(UNKNOWN, ONLINE)]
    assert removed.seen == []


async def test_a_raising_callback_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    after = Changes()

    def broken(old: NetworkStatus, new: NetworkStatus) -> None:
        raise RuntimeError("callback bug")

    async def broken_coroutine(old: NetworkStatus, new: NetworkStatus) -> None:
        raise ValueError("coroutine bug")

    with HttpServer() as server:
        async with NetworkMonitor([server.url()], failure_threshold=1) as monitor:
            monitor.add_callback(broken)
            monitor.add_callback(broken_coroutine)
            monitor.add_callback(after)
            with caplog.at_level(logging.ERROR, logger="peft_studio_offline.core.network"):
                assert await monitor.check_connectivity() is True
                server.stop()
                assert await monitor.check_connectivity() is False  # the monitor goes on
    assert after.seen == [(UNKNOWN, ONLINE), (ONLINE, OFFLINE)]
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(failures) == 4
    assert {type(r.exc_info[1]) for r in failures if r.exc_info} == {RuntimeError, ValueError}


async def test_a_callback_may_check_again_without_deadlock() -> None:
    inner_results: list[bool] = []
    with HttpServer() as server:
        async with NetworkMonitor([server.url()]) as monitor:

            async def check_again(old: NetworkStatus, new: NetworkStatus) -> None:
                inner_results.append(await monitor.check_connectivity())

            monitor.add_callback(check_again)
            async with asyncio.timeout(10):
                assert await monitor.check_connectivity() is True
    assert inner_results == [True]


# -- hysteresis -------------------------------------------------------------------------------


async def test_the_first_determination_from_unknown_takes_one_check() -> None:
    changes = Changes()
    with HttpServer(Reply(503, "")) as server:
        async with NetworkMonitor([server.url()], failure_threshold=3) as monitor:
            monitor.add_callback(changes)
            assert await monitor.check_connectivity() is False
            assert monitor.status is OFFLINE
            assert monitor.consecutive_failures == 1
    assert server.request_count == 3  # the threshold's probes, all in that one check
    assert changes.seen == [(UNKNOWN, OFFLINE)]


async def test_one_lost_probe_does_not_flip_a_steady_online_status() -> None:
    changes = Changes()
    flaky = Flaky()
    with HttpServer(flaky) as server:
        async with NetworkMonitor([server.url()], backoff_initial=0.05) as monitor:
            monitor.add_callback(changes)
            assert await monitor.check_connectivity() is True
            flaky.fail(1)
            assert await monitor.check_connectivity() is True
            assert monitor.consecutive_failures == 0
            [endpoint] = monitor.get_status_info()["endpoints"]
    # The probe answered 503 was retried within the same check, and the retry was healthy.
    assert server.request_count == 3
    assert endpoint["attempts"] == 2
    assert changes.seen == [(UNKNOWN, ONLINE)]


async def test_failures_below_the_threshold_are_absorbed_and_at_it_reported() -> None:
    changes = Changes()
    flaky = Flaky()
    with HttpServer(flaky) as server:
        async with NetworkMonitor(
            [server.url()], failure_threshold=3, backoff_initial=0.05
        ) as monitor:
            monitor.add_callback(changes)
            await monitor.check_connectivity()
            flaky.fail(2)
            assert await monitor.check_connectivity() is True
            assert changes.seen == [(UNKNOWN, ONLINE)]
            requests_before = server.request_count
            server.reply_with(Reply(503, ""))
            assert await monitor.check_connectivity() is False
            assert server.request_count - requests_before == 3  # exactly the threshold
            assert monitor.consecutive_failures == 1  # reported by the first failed check
    assert changes.seen == [(UNKNOWN, ONLINE), (ONLINE, OFFLINE)]


async def test_a_threshold_of_one_reports_the_first_failure() -> None:
    with HttpServer() as server:
        async with NetworkMonitor([server.url()], failure_threshold=1) as monitor:
            await monitor.check_connectivity()
            server.reply_with(Reply(503, ""))
            assert await monitor.check_connectivity() is False
    assert server.request_count == 2


async def test_recovery_is_reported_on_the_first_healthy_check() -> None:
    changes = Changes()
    with HttpServer(Reply(503, "")) as server:
        async with NetworkMonitor([server.url()]) as monitor:
            monitor.add_callback(changes)
            await monitor.check_connectivity()
            server.reply_with(Reply(200, "ok"))
            assert await monitor.check_connectivity() is True
    assert changes.seen == [(UNKNOWN, OFFLINE), (OFFLINE, ONLINE)]


async def test_one_lost_probe_while_monitoring_changes_nothing() -> None:
    changes = Changes()
    flaky = Flaky()
    with HttpServer(flaky) as server:
        async with NetworkMonitor(
            [server.url()], check_interval=0.1, timeout=2, backoff_initial=0.05
        ) as monitor:
            monitor.add_callback(changes)
            await monitor.start_monitoring()
            await changes.wait_for(1, within=2 + 0.1 + SLACK)
            flaky.fail(1)
            seen = server.request_count
            await wait_until(lambda: server.request_count >= seen + 4, within=10)
            assert monitor.is_online
    assert changes.seen == [(UNKNOWN, ONLINE)]


# -- the monitoring loop ----------------------------------------------------------------------


async def test_a_server_stopped_and_restarted_is_followed_in_order_and_in_time() -> None:
    interval, timeout = 0.3, 0.5
    bound = timeout + interval + SLACK
    changes = Changes()
    with HttpServer() as server:
        async with NetworkMonitor(
            [server.url("/health")], check_interval=interval, timeout=timeout, backoff_initial=0.1
        ) as monitor:
            monitor.add_callback(changes)
            started = time.monotonic()
            await monitor.start_monitoring()
            assert await changes.wait_for(1, within=bound) - started <= bound

            await asyncio.sleep(interval * 2)  # steady for a while
            assert changes.seen == [(UNKNOWN, ONLINE)]

            server.stop()
            stopped = time.monotonic()
            reported = await changes.wait_for(2, within=bound)
            assert 0 <= reported - stopped <= bound
            assert monitor.status is OFFLINE
            assert "refused" in monitor.get_status_info()["endpoints"][0]["error"].lower()

            await asyncio.sleep(interval * 2)  # offline for a while
            server.start()  # the same port again
            restarted = time.monotonic()
            back = await changes.wait_for(3, within=bound)
            assert 0 <= back - restarted <= bound
            assert monitor.is_online
    assert changes.seen == [(UNKNOWN, ONLINE), (ONLINE, OFFLINE), (OFFLINE, ONLINE)]


async def test_a_hanging_server_is_reported_within_timeout_plus_one_interval() -> None:
    # A server that accepts and never answers, while the status is steady online: the first
    # check that meets it reports it, and that check ends within its timeout.
    interval, timeout = 0.5, 0.4
    release = threading.Event()
    hanging = threading.Event()
    hung_at: list[float] = []

    def answer(path: str) -> Reply:
        if hanging.is_set():
            hung_at.append(time.monotonic())
            release.wait(10)  # holds the request past the monitor's timeout
        return Reply(200, "ok")

    changes = Changes()
    failed_checks: list[int] = []
    with HttpServer(answer) as server:
        try:
            async with NetworkMonitor(
                [server.url()], check_interval=interval, timeout=timeout, backoff_initial=0.1
            ) as monitor:
                monitor.add_callback(changes)
                monitor.add_callback(
                    lambda old, new: failed_checks.append(monitor.consecutive_failures)
                )
                await monitor.start_monitoring()
                await changes.wait_for(1, within=timeout + interval + SLACK)
                await asyncio.sleep(interval)  # steady for a while
                hanging.set()
                began = time.monotonic()
                reported = await changes.wait_for(2, within=30)
                [endpoint] = monitor.get_status_info()["endpoints"]
        finally:
            release.set()
    assert changes.seen == [(UNKNOWN, ONLINE), (ONLINE, OFFLINE)]
    assert reported - began <= timeout + interval + SLACK
    assert reported - hung_at[0] <= timeout + SLACK  # the one check took about its timeout
    assert failed_checks == [0, 1]  # reported by the first check that failed
    assert endpoint["attempts"] == 2  # the default threshold: a second probe in that check
    assert endpoint["error"] == "No answer within 0.4 s."


async def test_a_refused_connection_is_reported_long_before_the_timeout() -> None:
    # A refused probe fails at once, and so does its retry: the check need not wait for
    # its share of a long timeout.
    interval, timeout = 0.5, 10.0
    changes = Changes()
    with HttpServer() as server:
        async with NetworkMonitor(
            [server.url()], check_interval=interval, timeout=timeout, backoff_initial=0.1
        ) as monitor:
            monitor.add_callback(changes)
            await monitor.start_monitoring()
            await changes.wait_for(1, within=interval + SLACK)
            server.stop()
            stopped = time.monotonic()
            reported = await changes.wait_for(2, within=timeout + interval + SLACK)
            info = monitor.get_status_info()
    assert changes.seen == [(UNKNOWN, ONLINE), (ONLINE, OFFLINE)]
    assert reported - stopped <= interval + SLACK  # far less than the retry's 5 s share
    assert info["consecutive_failures"] == 1
    [endpoint] = info["endpoints"]
    assert endpoint["attempts"] == 2
    assert "refused" in endpoint["error"].lower()


async def test_one_dropped_request_does_not_flip_a_steady_online_status() -> None:
    # The server never answers one request (a request lost on the way), then answers again.
    interval, timeout = 0.2, 0.4
    release = threading.Event()
    drop_next = threading.Event()
    dropped = threading.Event()

    def answer(path: str) -> Reply:
        if drop_next.is_set():
            drop_next.clear()
            dropped.set()
            release.wait(10)  # this one is never answered in time
        return Reply(200, "ok")

    changes = Changes()
    with HttpServer(answer) as server:
        try:
            async with NetworkMonitor(
                [server.url()], check_interval=interval, timeout=timeout, backoff_initial=0.1
            ) as monitor:
                monitor.add_callback(changes)
                await monitor.start_monitoring()
                await changes.wait_for(1, within=timeout + interval + SLACK)
                drop_next.set()
                await wait_until(dropped.is_set, within=timeout + interval + SLACK)
                seen = server.request_count
                await wait_until(lambda: server.request_count >= seen + 3, within=10)
                assert monitor.is_online
                assert monitor.consecutive_failures == 0
        finally:
            release.set()
    assert changes.seen == [(UNKNOWN, ONLINE)]


async def test_while_offline_checks_come_sooner_than_the_interval() -> None:
    with HttpServer(Reply(503, "")) as server:
        async with NetworkMonitor(
            [server.url()], check_interval=30, timeout=2, backoff_initial=0.05
        ) as monitor:
            await monitor.start_monitoring()
            # Four checks long before one interval of 30 s has passed.
            await wait_until(lambda: monitor.consecutive_failures >= 4, within=10)
            info = monitor.get_status_info()
            assert info["status"] == "offline"
            assert server.request_count >= 8  # each check probed twice


async def test_while_online_the_next_check_is_one_interval_away() -> None:
    with HttpServer() as server:
        async with NetworkMonitor([server.url()], check_interval=30) as monitor:
            await monitor.start_monitoring()
            await wait_until(lambda: monitor.get_status_info()["next_check"] is not None, 5)
            info = monitor.get_status_info()
    gap = datetime.fromisoformat(info["next_check"]) - datetime.fromisoformat(info["last_check"])
    assert 29 <= gap.total_seconds() <= 30.5
    assert info["monitoring"] is True
    assert server.request_count == 1


async def test_request_check_wakes_the_loop() -> None:
    with HttpServer() as server:
        async with NetworkMonitor([server.url()], check_interval=30) as monitor:
            await monitor.start_monitoring()
            await wait_until(lambda: monitor.get_status_info()["next_check"] is not None, 5)
            assert server.request_count == 1
            monitor.request_check()
            await wait_until(lambda: server.request_count == 2, within=5)
            assert len(monitor_tasks()) == 1


async def test_request_check_without_monitoring_checks_once_in_the_background() -> None:
    changes = Changes()
    with HttpServer() as server:
        async with NetworkMonitor([server.url()]) as monitor:
            monitor.add_callback(changes)
            monitor.request_check()
            monitor.request_check()  # one already on its way: no second
            await changes.wait_for(1, within=5)
            await wait_until(lambda: not monitor_tasks(), within=5)
            assert not monitor.monitoring
    assert server.request_count == 1
    assert changes.seen == [(UNKNOWN, ONLINE)]


# -- start and stop ---------------------------------------------------------------------------


async def test_start_twice_runs_one_loop_and_stop_leaves_no_task() -> None:
    with HttpServer() as server:
        monitor = NetworkMonitor([server.url()], check_interval=0.1)
        await monitor.stop_monitoring()  # before any start: harmless
        await monitor.start_monitoring()
        await monitor.start_monitoring()
        assert monitor.monitoring
        assert len(monitor_tasks()) == 1
        await wait_until(lambda: monitor.is_online, within=5)

        await monitor.stop_monitoring()
        assert not monitor.monitoring
        assert monitor_tasks() == []
        assert monitor.get_status_info()["next_check"] is None
        await monitor.stop_monitoring()  # again: harmless

        count = server.request_count
        await asyncio.sleep(0.3)
        assert server.request_count == count  # nothing probes after the stop

        await monitor.start_monitoring()  # and it can start again
        await wait_until(lambda: server.request_count > count, within=5)
        await monitor.aclose()
        assert monitor_tasks() == []


async def test_stop_during_a_hanging_probe_ends_cleanly_without_warnings() -> None:
    with SilentServer() as silent, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        monitor = NetworkMonitor([silent.url()], check_interval=0.1, timeout=30)
        await monitor.start_monitoring()
        await wait_until(lambda: silent.connection_count >= 1, within=5)
        async with asyncio.timeout(5):  # does not wait for the probe's 30 s
            await monitor.stop_monitoring()
        assert monitor_tasks() == []
        assert monitor.status is UNKNOWN  # the cancelled check concluded nothing
        del monitor
        gc.collect()
    assert [str(w.message) for w in caught] == []


async def test_a_callback_may_stop_the_monitor() -> None:
    with HttpServer() as server:
        monitor = NetworkMonitor([server.url()], check_interval=0.1)

        async def stop_on_change(old: NetworkStatus, new: NetworkStatus) -> None:
            await monitor.stop_monitoring()

        monitor.add_callback(stop_on_change)
        await monitor.start_monitoring()
        await wait_until(lambda: not monitor_tasks(), within=5)
        assert monitor.is_online
        assert not monitor.monitoring
        count = server.request_count
        await asyncio.sleep(0.3)
        assert server.request_count == count
        await monitor.aclose()


async def test_monitoring_no_endpoints_keeps_the_status_unknown() -> None:
    changes = Changes()
    async with NetworkMonitor([], check_interval=0.1) as monitor:
        monitor.add_callback(changes)
        await monitor.start_monitoring()
        await asyncio.sleep(0.3)
        assert monitor.status is UNKNOWN
    assert changes.seen == []


async def test_a_refused_endpoint_next_to_a_healthy_one_does_not_flap() -> None:
    changes = Changes()
    with HttpServer() as server:
        async with NetworkMonitor(
            [server.url(), refused_url()], check_interval=0.05, backoff_initial=0.05
        ) as monitor:
            monitor.add_callback(changes)
            await monitor.start_monitoring()
            await wait_until(lambda: server.request_count >= 5, within=10)
    assert changes.seen == [(UNKNOWN, ONLINE)]


async def test_a_portal_appearing_while_online_is_reported_as_limited() -> None:
    changes = Changes()
    with HttpServer(Reply(200, "ok peft-studio-ok")) as server:
        async with NetworkMonitor(
            [{"url": server.url(), "expected_body": "peft-studio-ok"}],
            check_interval=0.1,
            backoff_initial=0.05,
        ) as monitor:
            monitor.add_callback(changes)
            await monitor.start_monitoring()
            await changes.wait_for(1, within=5)
            server.reply_with(Reply(200, "<html>Sign in</html>"))
            await changes.wait_for(2, within=5)
    assert changes.seen == [(UNKNOWN, ONLINE), (ONLINE, LIMITED)]


def test_one_monitor_serves_one_event_loop_after_another() -> None:
    # The command line may run asyncio.run() more than once with the process's monitor.
    seen: list[tuple[NetworkStatus, NetworkStatus]] = []
    with HttpServer() as server:
        monitor = NetworkMonitor([server.url()], check_interval=0.1, failure_threshold=1)
        monitor.add_callback(lambda old, new: seen.append((old, new)))

        async def first_run() -> None:
            await monitor.start_monitoring()
            await wait_until(lambda: monitor.is_online, within=5)
            await monitor.stop_monitoring()

        async def second_run() -> None:
            server.reply_with(Reply(503, ""))
            await monitor.start_monitoring()
            await wait_until(lambda: monitor.status is OFFLINE, within=5)
            monitor.request_check()
            assert await monitor.check_connectivity() is False
            await monitor.aclose()

        asyncio.run(first_run())
        asyncio.run(second_run())
    assert seen == [(UNKNOWN, ONLINE), (ONLINE, OFFLINE)]


async def test_stopping_lets_a_manual_check_in_flight_finish_with_its_true_answer() -> None:
    answering = threading.Event()

    def slow(path: str) -> Reply:
        answering.set()
        time.sleep(0.5)
        return Reply(200, "ok")

    with HttpServer(slow) as server:
        monitor = NetworkMonitor([server.url()], check_interval=30)
        manual = asyncio.create_task(monitor.check_connectivity())
        await wait_until(answering.is_set, within=5)
        await monitor.stop_monitoring()
        assert await manual is True
        assert monitor.get_status_info()["endpoints"][0]["error"] is None
        await monitor.aclose()
