"""Build the PyInstaller one-folder bundle and run it as a user would.

About a minute on two cores (the build dominates), so it is part of the default test
command; ``-m "not packaging"`` leaves it out for quick runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

from peft_studio_offline._version import __version__

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parent.parent


def load_build_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_bundle", ROOT / "packaging/build_bundle.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip(
        "PyInstaller", reason="PyInstaller is not installed: pip install -e '.[package]'"
    )
    folder = tmp_path_factory.mktemp("bundle")
    return Path(load_build_script().build(folder / "dist", folder / "work"))


def run(program: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEFT_STUDIO_OFFLINE_")}
    for name in ("QT_QPA_PLATFORM", "DISPLAY", "WAYLAND_DISPLAY", "PYTHONPATH"):
        env.pop(name, None)
    env["PEFT_STUDIO_OFFLINE_HOME"] = str(home)
    return subprocess.run(
        [str(program), *args], capture_output=True, text=True, env=env, timeout=180
    )


def test_bundle_prints_its_version(program: Path, tmp_path: Path) -> None:
    result = run(program, tmp_path, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"peft-studio-offline {__version__}"


def test_bundle_passes_its_self_test_offscreen(program: Path, tmp_path: Path) -> None:
    result = run(program, tmp_path / "home", "--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "platform offscreen" in result.stdout
    for step in ("queue", "api", "window"):  # each checked, none skipped
        assert f"  ok  {step}" in result.stdout, result.stdout
    assert "  skip  " not in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("self-test passed")


def test_bundle_runs_the_command_line_on_a_queue(program: Path, tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    payload = json.dumps({"endpoint": "/runs", "method": "POST"})
    enqueued = run(program, tmp_path, "enqueue", "api_call", payload, "--db", str(db))
    assert enqueued.returncode == 0, enqueued.stderr
    stats = run(program, tmp_path, "stats", "--json", "--db", str(db))
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["pending"] == 1
    bad = run(program, tmp_path, "enqueue", "no_such_type", "{}", "--db", str(db))
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr


def test_bundle_carries_the_desktop_files_and_no_test_tools(program: Path) -> None:
    internal = program.parent / "_internal"
    resources = internal / "resources"
    assert (resources / "io.github.peftstudio.Offline.desktop").is_file()
    assert (resources / "io.github.peftstudio.Offline.metainfo.xml").is_file()
    svg = resources / "icons/hicolor/scalable/apps/io.github.peftstudio.Offline.svg"
    assert svg.is_file()
    # The window's translations, where gui/i18n.py looks for them.
    translations = internal / "peft_studio_offline/gui/resources/translations"
    assert (translations / "peft_studio_offline_de.qm").is_file()
    assert (translations / "peft_studio_offline_en.qm").is_file()
    for tool in ("pytest", "hypothesis", "mypy", "tkinter"):
        assert not (internal / tool).exists(), f"{tool} was bundled"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_bundle_creates_the_users_files_privately(program: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run(program, home, "stats", "--json")
    assert result.returncode == 0, result.stderr
    assert (home / "data" / "queue.db").stat().st_mode & 0o077 == 0
    assert (home / "data").stat().st_mode & 0o077 == 0
