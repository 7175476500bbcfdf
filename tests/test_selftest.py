"""``--self-test`` run as a user would, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CODE = "from peft_studio_offline.selftest import run_self_test; raise SystemExit(run_self_test())"


def run(home: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PEFT_STUDIO_OFFLINE_")}
    env.pop("QT_QPA_PLATFORM", None)  # the self-test must choose offscreen by itself
    env.pop("DISPLAY", None)
    env["PEFT_STUDIO_OFFLINE_HOME"] = str(home)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, env=env, timeout=120
    )


def test_self_test_passes_and_leaves_the_users_files_alone(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run(home)
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("queue", "secrets", "api", "window"):
        assert f"  ok  {step}" in result.stdout, result.stdout
    assert "platform offscreen" in result.stdout
    assert result.stdout.rstrip().splitlines()[-1].startswith("self-test passed")
    assert not (home / "data").exists()


def test_self_test_reports_problems_in_the_settings_without_failing(tmp_path: Path) -> None:
    (tmp_path / "home" / "config").mkdir(parents=True)
    (tmp_path / "home" / "config" / "settings.toml").write_text("[sync]\nbatch_size = 0\n")
    result = run(tmp_path / "home")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "'sync.batch_size' must be greater than zero" in result.stdout


def test_self_test_fails_with_one_line_when_a_module_is_missing(tmp_path: Path) -> None:
    # What a bundle that left out a dependency looks like from the inside.
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "qasync.py").write_text("raise ImportError('qasync was left out')\n")
    result = run(tmp_path / "home", {"PYTHONPATH": str(broken)})
    assert result.returncode == 1
    assert result.stderr.strip() == "self-test FAILED: ImportError: qasync was left out"
