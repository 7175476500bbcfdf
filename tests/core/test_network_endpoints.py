"""Endpoint parsing and the pure rules of status changes and timing.

The hysteresis (retries within one check) is tested against real servers in
test_network_checks.py.
"""

from __future__ import annotations

import pytest

import peft_studio_offline.core.network as network
from peft_studio_offline.core.enums import NetworkStatus
from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.network import (
    Endpoint,
    NetworkConfigError,
    NetworkMonitor,
    parse_endpoint,
    parse_endpoints,
)
from peft_studio_offline.core.network._policy import apply_check, next_delay

ONLINE, OFFLINE, LIMITED, UNKNOWN = (
    NetworkStatus.ONLINE,
    NetworkStatus.OFFLINE,
    NetworkStatus.LIMITED,
    NetworkStatus.UNKNOWN,
)


def test_public_names_are_what_all_claims() -> None:
    assert sorted(network.__all__) == sorted(
        name for name in vars(network) if not name.startswith("_") and name != "annotations"
    )
    for name in network.__all__:
        assert getattr(network, name) is not None


def test_a_url_string_expects_200_and_any_body() -> None:
    assert parse_endpoint("http://127.0.0.1:9/health") == Endpoint("http://127.0.0.1:9/health")
    assert parse_endpoint(" http://127.0.0.1:9/ ").url == "http://127.0.0.1:9/"
    endpoint = parse_endpoint("https://127.0.0.1/")
    assert endpoint.expected_statuses == (200,)
    assert endpoint.expected_body is None


def test_a_mapping_sets_status_and_body() -> None:
    endpoint = parse_endpoint(
        {"url": "http://127.0.0.1:9/ok", "expected_status": 204, "expected_body": "pong"}
    )
    assert endpoint == Endpoint("http://127.0.0.1:9/ok", (204,), "pong")
    assert endpoint.expected_status == 204
    several = parse_endpoint({"url": "http://127.0.0.1:9/", "expected_status": [200, 401]})
    assert several.expected_statuses == (200, 401)
    assert several.expected_status == [200, 401]
    # Empty text is in every body: the same as no condition (settings files write it so).
    assert parse_endpoint({"url": "http://127.0.0.1/", "expected_body": ""}).expected_body is None


@pytest.mark.parametrize(
    "spec",
    [
        {"url": "http://127.0.0.1/", "expected_stauts": 200},
        {"url": "http://127.0.0.1/", "method": "HEAD"},
    ],
)
def test_an_unknown_key_is_a_value_error_that_names_it(spec: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="Unknown connectivity endpoint key") as caught:
        parse_endpoint(spec)
    unknown = next(key for key in spec if key != "url")
    assert f"'{unknown}'" in str(caught.value)
    assert isinstance(caught.value, PeftStudioOfflineError)


def test_the_constructor_rejects_an_unknown_key() -> None:
    with pytest.raises(ValueError, match="expected_bodyy"):
        NetworkMonitor([{"url": "http://127.0.0.1/", "expected_bodyy": "x"}])


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "127.0.0.1:8080/health",  # no scheme
        "ftp://127.0.0.1/",
        "http:///path-without-host",
        42,
        None,
        {"expected_status": 200},  # no url
        {"url": 5},
        {"url": "http://127.0.0.1/", "expected_status": "200"},
        {"url": "http://127.0.0.1/", "expected_status": True},
        {"url": "http://127.0.0.1/", "expected_status": 99},
        {"url": "http://127.0.0.1/", "expected_status": 600},
        {"url": "http://127.0.0.1/", "expected_status": []},
        {"url": "http://127.0.0.1/", "expected_body": 3},
    ],
)
def test_invalid_endpoints_are_value_errors(spec: object) -> None:
    with pytest.raises(NetworkConfigError):
        parse_endpoint(spec)  # type: ignore[arg-type]


def test_a_bare_string_is_not_taken_for_a_list_of_endpoints() -> None:
    with pytest.raises(NetworkConfigError, match="list"):
        parse_endpoints("http://127.0.0.1/")
    with pytest.raises(ValueError, match="list"):
        NetworkMonitor("http://127.0.0.1/")


def test_the_same_url_twice_is_probed_once() -> None:
    endpoints = parse_endpoints(
        ["http://127.0.0.1:9/a", {"url": "http://127.0.0.1:9/a"}, "http://127.0.0.1:9/b"]
    )
    assert [e.url for e in endpoints] == ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]


@pytest.mark.parametrize(
    "options",
    [
        {"check_interval": 0},
        {"check_interval": -1.0},
        {"timeout": 0},
        {"timeout": "5"},
        {"failure_threshold": 0},
        {"failure_threshold": 1.5},
        {"failure_threshold": True},
        {"backoff_initial": 0},
    ],
)
def test_invalid_numbers_are_value_errors(options: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        NetworkMonitor([], **options)  # type: ignore[arg-type]


# -- the status after a check ----------------------------------------------------------------


@pytest.mark.parametrize("observed", [ONLINE, OFFLINE, LIMITED])
def test_the_first_determination_from_unknown_is_immediate(observed: NetworkStatus) -> None:
    status, _ = apply_check(UNKNOWN, 0, observed)
    assert status is observed


def test_a_failed_check_flips_a_steady_online_status_at_once() -> None:
    # The check settled its doubts with its own retries: its verdict is not second-guessed,
    # so an outage is reported by the first check that meets it.
    assert apply_check(ONLINE, 0, OFFLINE) == (OFFLINE, 1)
    assert apply_check(ONLINE, 0, LIMITED) == (LIMITED, 1)


def test_a_healthy_check_restores_online_at_once_and_clears_the_count() -> None:
    assert apply_check(ONLINE, 0, ONLINE) == (ONLINE, 0)
    assert apply_check(OFFLINE, 7, ONLINE) == (ONLINE, 0)
    assert apply_check(LIMITED, 3, ONLINE) == (ONLINE, 0)


def test_failed_checks_in_a_row_are_counted_for_the_backoff() -> None:
    status, failures = ONLINE, 0
    history = []
    for _ in range(4):
        status, failures = apply_check(status, failures, OFFLINE)
        history.append((status, failures))
    assert history == [(OFFLINE, 1), (OFFLINE, 2), (OFFLINE, 3), (OFFLINE, 4)]


def test_not_online_statuses_follow_each_check() -> None:
    assert apply_check(OFFLINE, 2, LIMITED) == (LIMITED, 3)
    assert apply_check(LIMITED, 2, OFFLINE) == (OFFLINE, 3)


def test_a_check_of_nothing_changes_nothing() -> None:
    assert apply_check(UNKNOWN, 0, UNKNOWN) == (UNKNOWN, 0)
    assert apply_check(OFFLINE, 1, UNKNOWN) == (OFFLINE, 1)


# -- timing -----------------------------------------------------------------------------------


def test_a_steady_status_is_checked_every_interval() -> None:
    assert next_delay(0, check_interval=30.0, backoff_initial=1.0) == 30.0


def test_after_failures_the_next_check_comes_sooner_doubling_up_to_the_interval() -> None:
    delays = [next_delay(n, check_interval=30.0, backoff_initial=1.0) for n in range(1, 9)]
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert next_delay(10_000, check_interval=30.0, backoff_initial=1.0) == 30.0
    # The backoff never waits longer than the interval, even at the start.
    assert next_delay(1, check_interval=0.2, backoff_initial=1.0) == 0.2
