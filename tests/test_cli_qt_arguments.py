"""Qt's standard options go to the window instead of being refused as unknown."""

from __future__ import annotations

import os
import sys

import pytest

from peft_studio_offline.cli._qt_arguments import split_qt_arguments
from tests.test_cli import one_sentence_error, run


def test_qt_options_are_told_apart_with_their_values() -> None:
    ours, qt = split_qt_arguments(
        ["-reverse", "--db", "q.db", "-platform", "offscreen", "-style=fusion", "-style", "x"]
    )
    assert ours == ["--db", "q.db"]
    assert qt == ["-reverse", "-platform", "offscreen", "-style=fusion", "-style", "x"]
    assert split_qt_arguments(["list", "--json"]) == (["list", "--json"], [])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the display check is Linux's")
def test_qt_options_reach_the_window_not_the_usage_error() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    # Routed to the window, which says why it cannot open: not "unrecognized arguments".
    line = one_sentence_error(run("-reverse", "-style", "fusion", env=env), 1)
    assert "no display" in line


def test_a_command_still_refuses_them() -> None:
    result = run("stats", "-reverse")
    assert result.returncode == 2 and "-reverse" in result.stderr
