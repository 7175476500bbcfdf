"""The way forward from a damaged queue database, on the command line."""

from __future__ import annotations

import json
from pathlib import Path

from tests.test_cli import ok, run


def test_a_damaged_database_is_named_and_can_be_moved_aside(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    db.write_bytes(b"id,type\n1,api_call\n")
    refused = run("stats", "--db", str(db))
    assert refused.returncode == 1
    assert str(db) in refused.stderr
    assert "move-aside" in refused.stderr
    assert refused.stderr.count("\n") == 1 and "Traceback" not in refused.stderr
    assert db.read_bytes() == b"id,type\n1,api_call\n"

    moved = json.loads(ok("move-aside", "--db", str(db), "--json"))["moved_to"]
    assert Path(moved).read_bytes() == b"id,type\n1,api_call\n"
    assert Path(moved).name.startswith("queue.db.corrupt-")
    assert json.loads(ok("stats", "--db", str(db), "--json"))["total"] == 0


def test_a_readable_database_is_not_moved(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    ok("enqueue", "api_call", '{"endpoint": "/a"}', "--db", str(db))
    refused = run("move-aside", "--db", str(db))
    assert refused.returncode == 1
    assert "can be read; nothing was moved" in refused.stderr
    assert json.loads(ok("stats", "--db", str(db), "--json"))["total"] == 1
