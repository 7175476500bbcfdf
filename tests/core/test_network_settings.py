"""Where the monitor's endpoints come from when the caller does not give them.

By default: the health URLs of the configured sync targets, or the endpoints the settings
list; ``PEFT_STUDIO_OFFLINE_CHECK_URLS`` overrides both, read when the monitor is created.
No public host is ever contacted here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.network import Endpoint, NetworkMonitor
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.settings import NetworkSettings, Settings, SyncSettings
from tests.support.servers import HttpServer, Reply

CHECK_URLS = "PEFT_STUDIO_OFFLINE_CHECK_URLS"


def write_settings(home: Path, text: str) -> None:
    config = home / "config"
    config.mkdir(parents=True, exist_ok=True)
    (config / "settings.toml").write_text(text, encoding="utf-8")


def urls(monitor: NetworkMonitor) -> list[str]:
    return [endpoint.url for endpoint in monitor.endpoints]


async def test_with_nothing_configured_nothing_is_probed() -> None:
    async with NetworkMonitor() as monitor:
        assert monitor.endpoints == ()
        assert await monitor.check_connectivity() is False
        assert monitor.status is NetworkStatus.UNKNOWN
        assert monitor.failure_threshold == 2


async def test_the_sync_targets_health_urls_are_probed(isolated_home: Path) -> None:
    with HttpServer(Reply(200, "OK")) as mlflow, HttpServer() as api:
        write_settings(
            isolated_home,
            f'[sync]\nmlflow_tracking_uri = "{mlflow.url("/")}"\n'
            f'api_base_url = "{api.url("/api/v1")}"\n',
        )
        async with NetworkMonitor(check_interval=1) as monitor:
            assert urls(monitor) == [mlflow.url("/health"), api.url("/api/v1")]
            assert await monitor.check_connectivity() is True
        assert mlflow.requests == ["/health"]
        assert api.requests == ["/api/v1"]


async def test_the_settings_endpoints_and_threshold_are_used(isolated_home: Path) -> None:
    with HttpServer(Reply(200, "<html>portal</html>")) as server:
        write_settings(
            isolated_home,
            "[network]\nfailure_threshold = 4\n"
            f'endpoints = [{{ url = "{server.url("/ping")}", expected_body = "pong" }}]\n'
            '[sync]\nmlflow_tracking_uri = "http://127.0.0.1:9"\n',  # listed endpoints win
        )
        async with NetworkMonitor() as monitor:
            assert monitor.endpoints == (Endpoint(server.url("/ping"), (200,), "pong"),)
            assert monitor.failure_threshold == 4
            assert await monitor.check_connectivity() is False
            assert monitor.status is NetworkStatus.LIMITED


async def test_an_explicit_threshold_wins_over_the_settings(isolated_home: Path) -> None:
    write_settings(isolated_home, "[network]\nfailure_threshold = 4\n")
    async with NetworkMonitor(failure_threshold=1) as monitor:
        assert monitor.failure_threshold == 1
    # Endpoints given by the caller do not read the settings' threshold.
    async with NetworkMonitor(["http://127.0.0.1:9/"]) as monitor:
        assert monitor.failure_threshold == 2


async def test_the_environment_overrides_the_settings(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with HttpServer() as listed, HttpServer() as a, HttpServer() as b:
        write_settings(isolated_home, f'[network]\nendpoints = ["{listed.url()}"]\n')
        monkeypatch.setenv(CHECK_URLS, f" {a.url('/a')} , {b.url('/b')},")
        async with NetworkMonitor() as monitor:
            assert urls(monitor) == [a.url("/a"), b.url("/b")]
            assert await monitor.check_connectivity() is True
        assert listed.request_count == 0
        assert a.requests == ["/a"]
        assert b.requests == ["/b"]


async def test_an_empty_override_means_no_endpoints(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_settings(isolated_home, '[network]\nendpoints = ["http://127.0.0.1:9/"]\n')
    monkeypatch.setenv(CHECK_URLS, "")
    async with NetworkMonitor() as monitor:
        assert monitor.endpoints == ()
        assert await monitor.check_connectivity() is False
        assert monitor.status is NetworkStatus.UNKNOWN


async def test_the_environment_is_read_when_the_monitor_is_created(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(CHECK_URLS, "http://127.0.0.1:9/first")
    first = NetworkMonitor()
    monkeypatch.setenv(CHECK_URLS, "http://127.0.0.1:9/second")
    second = NetworkMonitor()
    monkeypatch.delenv(CHECK_URLS)
    third = NetworkMonitor()
    assert urls(first) == ["http://127.0.0.1:9/first"]
    assert urls(second) == ["http://127.0.0.1:9/second"]
    assert urls(third) == []
    for monitor in (first, second, third):
        await monitor.aclose()


async def test_a_bad_endpoint_in_given_settings_is_reported_and_skipped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    paths = AppPaths(tmp_path / "d", tmp_path / "c", tmp_path / "l", tmp_path / "x")
    endpoints = (
        "http://127.0.0.1:9/good",
        {"url": "http://127.0.0.1:9/bad", "expected_stauts": 200},
        "not a url",
    )
    settings = Settings(paths, network=NetworkSettings(endpoints=endpoints))
    with caplog.at_level(logging.WARNING):
        monitor = NetworkMonitor(settings=settings)
    assert urls(monitor) == ["http://127.0.0.1:9/good"]
    problems = monitor.get_status_info()["problems"]
    assert len(problems) == 2
    assert "expected_stauts" in problems[0]
    assert "not a url" in problems[1]
    assert sum("Ignoring a connectivity endpoint" in r.message for r in caplog.records) == 2
    await monitor.aclose()


async def test_an_invalid_settings_file_does_not_stop_the_monitor(isolated_home: Path) -> None:
    write_settings(
        isolated_home, '[network]\nendpoints = [{ url = "http://127.0.0.1:9/", method = "HEAD" }]\n'
    )
    async with NetworkMonitor() as monitor:  # the settings fall back to their defaults
        assert monitor.endpoints == ()
        assert await monitor.check_connectivity() is False


async def test_a_settings_object_from_the_caller_is_used_as_it_is(tmp_path: Path) -> None:
    paths = AppPaths(tmp_path / "d", tmp_path / "c", tmp_path / "l", tmp_path / "x")
    settings = Settings(
        paths,
        network=NetworkSettings(
            check_interval=7.0, timeout=1.5, failure_threshold=3, endpoints=("http://127.0.0.1:9/",)
        ),
        sync=SyncSettings(mlflow_tracking_uri="http://127.0.0.1:8/"),
    )
    monitor = NetworkMonitor.from_settings(settings)
    assert urls(monitor) == ["http://127.0.0.1:9/"]
    assert (monitor.check_interval, monitor.timeout, monitor.failure_threshold) == (7.0, 1.5, 3)
    assert not (tmp_path / "c").exists()  # nothing was read or written for it
    await monitor.aclose()


async def test_the_settings_read_an_endpoint_as_the_monitor_does(isolated_home: Path) -> None:
    """Several accepted statuses: the monitor took a list while the settings refused one."""
    with HttpServer(Reply(401, "")) as server:
        endpoint = f'{{url = "{server.url("/")}", expected_status = [200, 401]}}'
        write_settings(isolated_home, f"[network]\nendpoints = [{endpoint}]\n")
        settings = Settings.load(AppPaths.from_environment())
        assert not settings.problems, settings.problems
        async with NetworkMonitor(check_interval=1) as monitor:
            assert [e.expected_statuses for e in monitor.endpoints] == [(200, 401)]
            assert await monitor.check_connectivity() is True
