"""Single connectivity checks against real servers on 127.0.0.1.

One server answers, one is stopped (refused), one accepts and never answers (timeout), one is
a captive portal (200 with the wrong body, a redirect, 511). Nothing leaves loopback. Within
one check a failed probe is retried, up to ``failure_threshold`` probes in all, within the
check's ``timeout``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest

from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.network import EndpointSpec, NetworkMonitor
from tests.support.servers import HttpServer, Reply, SilentServer, refused_url

MARKER = "peft-studio-ok"
PORTAL_PAGE = "<html><body>Welcome to Hotel WiFi. Please sign in.</body></html>"
SLACK = 2.0  # seconds of headroom for a busy machine


def in_turn(*replies: Reply) -> Callable[[str], Reply]:
    """A responder giving ``replies`` one per request, then the last one from then on."""
    lock = threading.Lock()
    left = list(replies)

    def respond(path: str) -> Reply:
        with lock:
            return left.pop(0) if len(left) > 1 else left[0]

    return respond


def wait_for_connections(server: SilentServer, count: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while server.connection_count < count and time.monotonic() < deadline:
        time.sleep(0.02)


async def test_an_answering_server_is_online() -> None:
    with HttpServer(Reply(200, f"status: {MARKER}")) as server:
        async with NetworkMonitor([server.url("/health")], timeout=5) as monitor:
            assert await monitor.check_connectivity() is True
            assert monitor.status is NetworkStatus.ONLINE
            assert monitor.is_online
            info = monitor.get_status_info()
    assert server.requests == ["/health"]
    assert info["status"] == "online"
    assert info["consecutive_failures"] == 0
    assert datetime.fromisoformat(info["last_check"]).tzinfo is not None
    [endpoint] = info["endpoints"]
    assert endpoint["url"] == server.url("/health")
    assert endpoint["ok"] is True
    assert endpoint["http_status"] == 200
    assert endpoint["latency_ms"] >= 0
    assert endpoint["error"] is None


async def test_a_stopped_server_is_offline_with_the_reason() -> None:
    async with NetworkMonitor([refused_url("/health")], timeout=5) as monitor:
        assert await monitor.check_connectivity() is False
        assert monitor.status is NetworkStatus.OFFLINE
        [endpoint] = monitor.get_status_info()["endpoints"]
    assert endpoint["ok"] is False
    assert endpoint["outcome"] == "failed"
    assert endpoint["http_status"] is None
    assert "refused" in endpoint["error"].lower()


async def test_a_server_that_never_answers_times_out_as_offline() -> None:
    with SilentServer() as silent:
        async with NetworkMonitor([silent.url("/health")], timeout=0.3) as monitor:
            assert await monitor.check_connectivity() is False
            assert monitor.status is NetworkStatus.OFFLINE
            [endpoint] = monitor.get_status_info()["endpoints"]
        assert silent.connection_count >= 1  # it connected: a timeout, not a refusal
    assert endpoint["error"] == "No answer within 0.3 s."
    assert endpoint["http_status"] is None


async def test_a_portal_answering_every_endpoint_is_limited_even_where_one_looks_healthy() -> None:
    with HttpServer(Reply(200, PORTAL_PAGE)) as portal:
        endpoints = [
            {"url": portal.url("/health"), "expected_body": MARKER},
            portal.url("/api"),  # a probe that takes any answer: the portal's page passes it
        ]
        async with NetworkMonitor(endpoints, timeout=5) as monitor:
            assert await monitor.check_connectivity() is False
            assert monitor.status is NetworkStatus.LIMITED


async def test_a_captive_portal_page_is_limited_not_online() -> None:
    with HttpServer(Reply(200, PORTAL_PAGE)) as portal:
        endpoints = [{"url": portal.url("/health"), "expected_body": MARKER}]
        async with NetworkMonitor(endpoints, timeout=5) as monitor:
            assert await monitor.check_connectivity() is False
            assert monitor.status is NetworkStatus.LIMITED
            assert not monitor.is_online
            info = monitor.get_status_info()
    assert info["status"] == "limited"
    [endpoint] = info["endpoints"]
    assert endpoint["ok"] is False
    assert endpoint["outcome"] == "intercepted"
    assert endpoint["http_status"] == 200
    assert "captive portal" in endpoint["error"]


async def test_the_expected_text_is_found_anywhere_in_a_long_body() -> None:
    body = "x" * 20_000 + MARKER + "y" * 20_000
    with HttpServer(Reply(200, body)) as server:
        endpoints = [{"url": server.url(), "expected_body": MARKER}]
        async with NetworkMonitor(endpoints) as monitor:
            assert await monitor.check_connectivity() is True


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(302, "", {"Location": "http://127.0.0.1:1/login"}), "Redirected to"),
        (Reply(307, "", {"Location": "/portal"}), "Redirected to"),
        (Reply(511, PORTAL_PAGE), "sign-in"),
    ],
)
async def test_redirects_and_511_are_a_portal_in_the_way(reply: Reply, reason: str) -> None:
    with HttpServer(reply) as portal:
        async with NetworkMonitor([portal.url("/health")]) as monitor:
            assert await monitor.check_connectivity() is False
            assert monitor.status is NetworkStatus.LIMITED
            [endpoint] = monitor.get_status_info()["endpoints"]
    # Probed twice within the check (the default failure_threshold), the redirect never followed.
    assert portal.requests == ["/health", "/health"]
    assert endpoint["attempts"] == 2
    assert endpoint["http_status"] == reply.status
    assert reason in endpoint["error"]


async def test_an_unexpected_status_is_offline() -> None:
    with HttpServer(Reply(503, "maintenance")) as server:
        async with NetworkMonitor([server.url()]) as monitor:
            assert await monitor.check_connectivity() is False
            assert monitor.status is NetworkStatus.OFFLINE
            [endpoint] = monitor.get_status_info()["endpoints"]
    assert endpoint["http_status"] == 503
    assert endpoint["error"] == "Expected HTTP 200, got 503."


async def test_the_expected_status_can_be_another_code_or_several() -> None:
    with HttpServer(Reply(204, "")) as no_content, HttpServer(Reply(401, "")) as guarded:
        endpoints: list[EndpointSpec] = [
            {"url": no_content.url(), "expected_status": 204},
            {"url": guarded.url(), "expected_status": [200, 401]},
        ]
        async with NetworkMonitor(endpoints) as monitor:
            assert await monitor.check_connectivity() is True
            assert [e["ok"] for e in monitor.get_status_info()["endpoints"]] == [True, True]


async def test_online_when_any_endpoint_is_healthy() -> None:
    with HttpServer() as server:
        async with NetworkMonitor([refused_url(), server.url()]) as monitor:
            assert await monitor.check_connectivity() is True
            oks = [e["ok"] for e in monitor.get_status_info()["endpoints"]]
    assert oks == [False, True]


async def test_limited_when_none_is_healthy_and_one_is_intercepted() -> None:
    with HttpServer(Reply(200, PORTAL_PAGE)) as portal:
        endpoints: list[EndpointSpec] = [
            refused_url(),
            {"url": portal.url(), "expected_body": MARKER},
        ]
        async with NetworkMonitor(endpoints) as monitor:
            await monitor.check_connectivity()
            assert monitor.status is NetworkStatus.LIMITED


async def test_offline_when_nothing_answers_as_expected() -> None:
    with SilentServer() as silent, HttpServer(Reply(500, "")) as broken:
        endpoints = [refused_url(), silent.url(), broken.url()]
        async with NetworkMonitor(endpoints, timeout=0.3) as monitor:
            await monitor.check_connectivity()
            assert monitor.status is NetworkStatus.OFFLINE
            outcomes = {e["outcome"] for e in monitor.get_status_info()["endpoints"]}
    assert outcomes == {"failed"}


async def test_endpoints_are_probed_concurrently() -> None:
    # Each request waits until the other has arrived too: probed one after the other, the
    # first would wait in vain and the check would fail.
    arrived = threading.Barrier(2, timeout=10)

    def together(path: str) -> Reply:
        try:
            arrived.wait()
        except threading.BrokenBarrierError:
            return Reply(500, "alone")
        return Reply(200, "together")

    with HttpServer(together) as server:
        endpoints = [server.url("/a"), server.url("/b")]
        async with NetworkMonitor(endpoints, timeout=8) as monitor:
            assert await monitor.check_connectivity() is True
            oks = [e["ok"] for e in monitor.get_status_info()["endpoints"]]
    assert oks == [True, True]
    assert sorted(server.requests) == ["/a", "/b"]


async def test_every_probe_goes_through_one_shared_client() -> None:
    sent: list[str] = []

    async def count(request: httpx.Request) -> None:
        sent.append(str(request.url))

    with HttpServer() as a, HttpServer() as b:
        async with httpx.AsyncClient(event_hooks={"request": [count]}) as client:
            async with NetworkMonitor([a.url(), b.url()], client=client) as monitor:
                await monitor.check_connectivity()
                await monitor.check_connectivity()
            assert not client.is_closed  # the caller's client is the caller's to close
    assert sorted(sent) == sorted([a.url(), b.url()] * 2)


async def test_no_endpoints_probe_nothing_and_the_status_stays_unknown() -> None:
    async with NetworkMonitor([]) as monitor:
        assert await monitor.check_connectivity() is False
        assert monitor.status is NetworkStatus.UNKNOWN
        info = monitor.get_status_info()
    assert info["status"] == "unknown"
    assert info["endpoints"] == []
    assert info["last_check"] is None


async def test_status_info_before_any_check() -> None:
    async with NetworkMonitor(
        [{"url": "http://127.0.0.1:9/health", "expected_body": MARKER}], check_interval=12
    ) as monitor:
        info = monitor.get_status_info()
    assert info["status"] == "unknown"
    assert info["last_check"] is None
    assert info["next_check"] is None
    assert info["check_interval"] == 12
    assert info["consecutive_failures"] == 0
    assert info["endpoints"] == [
        {
            "url": "http://127.0.0.1:9/health",
            "expected_status": 200,
            "expected_body": MARKER,
            "ok": None,
            "outcome": None,
            "http_status": None,
            "latency_ms": None,
            "error": None,
            "checked_at": None,
            "attempts": None,
        }
    ]


# -- retries within one check -------------------------------------------------------------


async def test_a_failed_probe_is_retried_within_the_same_check() -> None:
    with HttpServer(in_turn(Reply(503, "busy"), Reply(200, "ok"))) as server:
        async with NetworkMonitor([server.url()]) as monitor:
            assert await monitor.check_connectivity() is True
            assert monitor.consecutive_failures == 0
            [endpoint] = monitor.get_status_info()["endpoints"]
    assert server.request_count == 2
    assert endpoint["attempts"] == 2
    assert endpoint["http_status"] == 200
    assert endpoint["error"] is None


@pytest.mark.parametrize("threshold", [1, 2, 3])
async def test_an_endpoint_is_down_after_failure_threshold_failed_probes(threshold: int) -> None:
    failures = [Reply(503, "busy")] * threshold
    with HttpServer(in_turn(*failures, Reply(200, "ok"))) as server:
        async with NetworkMonitor([server.url()], failure_threshold=threshold) as monitor:
            assert await monitor.check_connectivity() is False
            assert server.request_count == threshold  # all of them in this one check
            assert monitor.consecutive_failures == 1
            assert monitor.get_status_info()["endpoints"][0]["attempts"] == threshold
            assert await monitor.check_connectivity() is True  # the next answer is healthy
    with HttpServer(in_turn(*failures[1:], Reply(200, "ok"))) as server:
        async with NetworkMonitor([server.url()], failure_threshold=threshold) as monitor:
            assert await monitor.check_connectivity() is True  # one failure fewer: healthy
    assert server.request_count == threshold


async def test_every_probe_of_a_hanging_endpoint_ends_within_the_timeout() -> None:
    timeout = 0.9
    with SilentServer() as silent:
        async with NetworkMonitor([silent.url()], timeout=timeout, failure_threshold=3) as monitor:
            began = time.monotonic()
            assert await monitor.check_connectivity() is False
            took = time.monotonic() - began
            [endpoint] = monitor.get_status_info()["endpoints"]
        wait_for_connections(silent, 3)
        # A probe with no answer after its share (timeout / 3) gets company, not a successor
        # that would start only when it gives up.
        assert silent.connection_count == 3
    assert endpoint["attempts"] == 3
    assert endpoint["error"] == "No answer within 0.9 s."  # the first probe had it all
    assert took <= timeout + SLACK


async def test_a_slow_healthy_answer_may_use_the_whole_timeout() -> None:
    def slow(path: str) -> Reply:
        time.sleep(1.2)  # more than its share (timeout / 2), less than the timeout
        return Reply(200, "ok")

    with HttpServer(slow) as server:
        async with NetworkMonitor([server.url()], timeout=2.0) as monitor:
            assert await monitor.check_connectivity() is True
            [endpoint] = monitor.get_status_info()["endpoints"]
    assert endpoint["ok"] is True
    assert endpoint["latency_ms"] >= 1000


async def test_a_portal_answer_is_reported_over_a_plain_failure() -> None:
    # The first probe fails plainly, the retry meets a portal: the portal is what to show.
    replies = in_turn(Reply(503, "busy"), Reply(200, PORTAL_PAGE))
    with HttpServer(replies) as server:
        endpoints = [{"url": server.url(), "expected_body": MARKER}]
        async with NetworkMonitor(endpoints) as monitor:
            assert await monitor.check_connectivity() is False
            assert monitor.status is NetworkStatus.LIMITED
            [endpoint] = monitor.get_status_info()["endpoints"]
    assert server.request_count == 2
    assert endpoint["outcome"] == "intercepted"
