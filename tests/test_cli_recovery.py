"""The way forward from a damaged queue database, on the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_cli import ok, run


def test_a_damaged_database_is_named_and_can_be_moved_aside(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    db.write_bytes(b"id,type\n1,api_call\n")
    refused = run("stats", "--db", str(db))
    assert refused.returncode == 1
    assert str(db) in refused.stderr
    assert f"move-aside --db {db}" in refused.stderr  # the command that fixes this file
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert db.read_bytes() == b"id,type\n1,api_call\n"

    moved = json.loads(ok("move-aside", "--db", str(db), "--json"))["moved_to"]
    assert Path(moved).read_bytes() == b"id,type\n1,api_call\n"
    assert Path(moved).name.startswith("queue.db.corrupt-")
    # The next operation starts a new queue at the same path.
    ok("enqueue", "metric_log", '{"run_id": "r", "metrics": {"loss": 1.0}}', "--db", str(db))
    assert json.loads(ok("stats", "--db", str(db), "--json"))["total"] == 1


def test_a_readable_database_is_not_moved(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    ok("enqueue", "api_call", '{"endpoint": "/a"}', "--db", str(db))
    refused = run("move-aside", "--db", str(db))
    assert refused.returncode == 1
    assert "can be read; nothing was moved" in refused.stderr
    assert json.loads(ok("stats", "--db", str(db), "--json"))["total"] == 1


def test_a_folder_is_named_and_never_moved(tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    listed = run("list", "--db", str(folder))
    assert listed.returncode == 1
    assert "is a folder" in listed.stderr and "move-aside" not in listed.stderr
    refused = run("move-aside", "--db", str(folder))
    assert refused.returncode == 1 and "is a folder" in refused.stderr
    assert (folder / "notes.txt").read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["work"]


@pytest.mark.parametrize("command", [("list",), ("show", "1"), ("stats",), ("status",),
                                     ("sync",), ("delete", "1"), ("move-aside",)])  # fmt: skip
def test_commands_that_read_never_create_a_queue(tmp_path: Path, command: tuple[str, ...]) -> None:
    db = tmp_path / "nowhere" / "q.db"
    refused = run(*command, "--db", str(db))
    assert refused.returncode == 1
    assert f"There is no queue database at {db}" in refused.stderr
    assert refused.stderr.count("\n") == 1
    assert not db.parent.exists()
