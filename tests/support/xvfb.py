"""A virtual X display (Xvfb) for tests of the real xcb platform; skipped without Xvfb."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def unused_display() -> str:
    """A display name no X server uses on this machine (``:N``)."""
    for number in range(140, 400):
        if (
            not Path(f"/tmp/.X11-unix/X{number}").exists()
            and not Path(f"/tmp/.X{number}-lock").exists()
        ):
            return f":{number}"
    raise RuntimeError("No free X display number")


@pytest.fixture
def xvfb_display() -> Iterator[str]:
    """Start Xvfb on a free display for one test; its name (``:N``)."""
    if shutil.which("Xvfb") is None:
        pytest.skip("Xvfb is not installed")
    display = unused_display()
    process = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    socket = Path(f"/tmp/.X11-unix/X{display[1:]}")
    deadline = time.monotonic() + 20
    while not socket.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.skip("Xvfb did not start")
        time.sleep(0.05)
    try:
        yield display
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def display_env(display: str | None, **extra: str) -> dict[str, str]:
    """The environment of a child that finds ``display`` the way a desktop session does."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.pop("DISPLAY", None)
    if display is not None:
        env["DISPLAY"] = display
    env["PEFT_STUDIO_OFFLINE_CHECK_URLS"] = ""
    env["PEFT_STUDIO_OFFLINE_API_PORT"] = "0"
    env.update(extra)
    return env
