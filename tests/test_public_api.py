"""The public surface is what the README promises, and nothing drags Qt into the core."""

from __future__ import annotations

import subprocess
import sys

import peft_studio_offline
from peft_studio_offline import (
    ConflictResolution,
    NetworkStatus,
    OperationStatus,
    OperationType,
)


def test_all_names_resolve() -> None:
    for name in peft_studio_offline.__all__:
        assert getattr(peft_studio_offline, name) is not None, name


def test_contract_names_are_exported() -> None:
    promised = {
        "OperationType", "OperationStatus", "ConflictResolution", "NetworkStatus", "Operation",
        "OfflineQueueManager", "NetworkMonitor", "SyncEngine", "get_queue_manager",
        "get_network_monitor", "get_sync_engine",
    }  # fmt: skip
    assert promised <= set(peft_studio_offline.__all__)


def test_enum_values_are_the_contract() -> None:
    assert {t.value for t in OperationType} == {
        "api_call", "file_upload", "metric_log", "model_push", "experiment_sync",
    }  # fmt: skip
    assert {"pending", "in_progress", "completed", "failed", "conflict", "cancelled"} <= {
        s.value for s in OperationStatus
    }
    assert [s.value for s in ConflictResolution] == ["local_wins", "remote_wins", "merge", "manual"]
    assert {"online", "offline", "unknown"} <= {s.value for s in NetworkStatus}
    assert issubclass(OperationType, str)


def test_importing_the_package_loads_neither_qt_nor_the_http_stack() -> None:
    code = (
        "import sys, peft_studio_offline\n"
        "names = ('PySide6', 'qasync', 'fastapi', 'uvicorn', 'httpx')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


def test_core_imports_with_qt_and_the_api_stack_absent() -> None:
    """Every core module imports in a Python where PySide6, qasync and FastAPI do not exist."""
    code = """
import importlib, pkgutil, sys

class Absent:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('PySide6', 'shiboken6', 'qasync', 'fastapi', 'uvicorn'):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, Absent())
import peft_studio_offline.core as core
for info in pkgutil.walk_packages(core.__path__, 'peft_studio_offline.core.'):
    importlib.import_module(info.name)
print('ok')
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_the_http_api_face_resolves_every_name() -> None:
    from peft_studio_offline import api

    for name in api.__all__:
        assert getattr(api, name) is not None, name


def test_finding_a_serving_app_does_not_load_the_web_stack() -> None:
    """A training script asks the API's face for the discovery file and the token only."""
    code = (
        "import sys\n"
        "from peft_studio_offline.api import read_server_info, read_token, server_file\n"
        "from peft_studio_offline.client import OfflineClient\n"
        "loaded = sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "", f"the web stack was loaded: {result.stdout}"
