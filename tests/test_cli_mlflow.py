"""``mlflow-env`` and ``run``: the exports, and a command run against the local endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx

from tests.test_cli import _start_serve, _stop, one_sentence_error, run

# Reports what MLflow's client would use, and checks the endpoint answers with it.
PROBE = """
import json, os, sys, urllib.request
uri, token = os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_TRACKING_TOKEN"]
request = urllib.request.Request(
    uri + "/api/2.0/mlflow/experiments/create",
    data=json.dumps({"name": sys.argv[2]}).encode(),
    headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"},
)
answer = json.load(urllib.request.urlopen(request, timeout=10))
with open(sys.argv[1], "w") as out:
    json.dump({"uri": uri, "token": token, "answer": answer}, out)
sys.exit(int(sys.argv[3]))
"""


def env_with_free_port() -> dict[str, str]:
    return {**os.environ, "PEFT_STUDIO_OFFLINE_API_PORT": "0"}


def token_of(home: Path) -> str:
    return (home / "data" / "api-token").read_text().strip()


def test_mlflow_env_prints_the_exports_of_the_serving_app(isolated_home: Path) -> None:
    process, url = _start_serve("--no-auto-sync")
    try:
        result = run("mlflow-env")
    finally:
        _stop(process)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"export MLFLOW_TRACKING_URI={url}/mlflow",
        f"export MLFLOW_TRACKING_TOKEN={token_of(isolated_home)}",
    ]
    assert result.stderr == ""


def test_mlflow_env_says_when_nothing_serves(isolated_home: Path) -> None:
    result = run("mlflow-env")
    assert result.returncode == 0
    assert "export MLFLOW_TRACKING_URI=http://127.0.0.1:8765/mlflow" in result.stdout
    assert "Nothing serves the MLflow endpoint" in result.stderr


def test_run_serves_the_endpoint_for_the_command_and_passes_its_exit_code(
    isolated_home: Path, tmp_path: Path
) -> None:
    script, out = tmp_path / "probe.py", tmp_path / "seen.json"
    script.write_text(PROBE)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "peft_studio_offline",
            "run",
            "--",
            sys.executable,
            str(script),
            str(out),
            "from-run",
            "3",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_with_free_port(),
        check=False,
    )
    assert result.returncode == 3, result.stderr
    seen = json.loads(out.read_text())
    assert seen["token"] == token_of(isolated_home)
    assert seen["uri"].startswith("http://127.0.0.1:") and seen["uri"].endswith("/mlflow")
    assert "experiment_id" in seen["answer"]
    assert not (isolated_home / "data" / "api-server.json").exists()
    listed = json.loads(run("list", "--json").stdout)
    assert [op["payload"]["name"] for op in listed] == ["from-run"]
    # The endpoint ended with the command.
    try:
        httpx.get(seen["uri"] + "/api/2.0/mlflow/experiments/get?experiment_id=0", timeout=2)
    except httpx.HTTPError:
        pass
    else:
        raise AssertionError("the endpoint still answers after the command ended")


def test_run_uses_the_app_that_serves_already(isolated_home: Path, tmp_path: Path) -> None:
    script, out = tmp_path / "probe.py", tmp_path / "seen.json"
    script.write_text(PROBE)
    process, url = _start_serve("--no-auto-sync")
    try:
        result = run("run", "--", sys.executable, str(script), str(out), "beside-app", "0")
    finally:
        _stop(process)
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["uri"] == f"{url}/mlflow"
    assert "Serving the MLflow endpoint" not in result.stderr


def test_run_without_a_command_is_a_usage_error() -> None:
    line = one_sentence_error(run("run"), 2)
    assert "needs a command" in line


def test_run_with_a_command_that_cannot_start_says_so(isolated_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", "run", "--", str(isolated_home / "nope")],
        capture_output=True,
        text=True,
        timeout=120,
        env=env_with_free_port(),
        check=False,
    )
    assert result.returncode == 1
    assert "cannot be started" in result.stderr
    assert "Traceback" not in result.stderr
