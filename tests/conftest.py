"""Shared test setup: no display, no real home folder, no stray environment."""

import os

# Before anything imports Qt: with no display, QApplication would abort the whole run.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Before anything asks keyring for its backend (it keeps the first answer): no test reads or
# writes the user's keyring, nor picks a backend class that a test module defines. A test of
# the keyring passes its backend, or runs a child process on a Secret Service of its own.
os.environ["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"

import gc
from collections.abc import Iterator
from pathlib import Path

import pytest

_ISOLATED_VARIABLES = (
    "PEFT_STUDIO_OFFLINE_CHECK_URLS",
    "PEFT_STUDIO_OFFLINE_API_BASE_URL",
    "MLFLOW_TRACKING_URI",
    "PEFT_STUDIO_OFFLINE_API_URL",
    "PEFT_STUDIO_OFFLINE_API_TOKEN",
    "PEFT_STUDIO_OFFLINE_API_PORT",
    "PEFT_STUDIO_OFFLINE_AUTO_SYNC",
    "PEFT_STUDIO_OFFLINE_CONFLICT_STRATEGY",
    "PEFT_STUDIO_OFFLINE_CHECK_INTERVAL",
    "PEFT_STUDIO_OFFLINE_LOG_LEVEL",
    "PEFT_STUDIO_OFFLINE_CREDENTIAL_STORE",
    "HF_ENDPOINT",
    "HF_TOKEN",
)


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own application folder; nothing reads the user's real files."""
    home = tmp_path / "home"
    monkeypatch.setenv("PEFT_STUDIO_OFFLINE_HOME", str(home))
    for name in _ISOLATED_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    yield home
    # Free closed event loops here, on the main thread: collected on another thread, a
    # qasync loop makes Qt stop timers from the wrong thread and crash the run.
    gc.collect()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "queue.db"
