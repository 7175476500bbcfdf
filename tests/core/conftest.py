"""Fixtures the core's tests share."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from peft_studio_offline.core.handlers.mlflow import MlflowRestClient
from peft_studio_offline.core.queue import OfflineQueueManager
from tests.support.mlflow_server import MlflowServer, mlflow_server

__all__ = ["mlflow_server"]  # the session's MLflow server, started by the first test that asks


@pytest.fixture
async def queue(tmp_path: Path) -> AsyncIterator[OfflineQueueManager]:
    """A real queue file of the test's own, open; retries are due almost at once."""
    async with OfflineQueueManager(tmp_path / "q.db", backoff_base=0.01) as q:
        yield q


@pytest.fixture
def tracking_uri(mlflow_server: MlflowServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """The MLflow server, named to the handlers the way a user names it."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    return mlflow_server.url


@pytest.fixture
async def rest(mlflow_server: MlflowServer) -> AsyncIterator[MlflowRestClient]:
    """A client of the MLflow server, to read what arrived."""
    async with httpx.AsyncClient(timeout=60) as http:
        yield MlflowRestClient(http, mlflow_server.url, timeout=60)
