"""The command line, run as a real subprocess: every subcommand, every error path."""

from __future__ import annotations

import asyncio
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from peft_studio_offline import OfflineQueueManager, __version__
from tests.support.servers import HttpServer, Reply

TIMEOUT = 120


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env,
        check=False,
    )


def ok(*args: str, env: dict[str, str] | None = None) -> str:
    result = run(*args, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return result.stdout


def one_sentence_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("peft-studio-offline")
    assert lines[0].endswith(".")
    return lines[0]


def enqueue(payload: dict[str, Any], kind: str = "api_call", *extra: str) -> int:
    return int(ok("enqueue", kind, json.dumps(payload), *extra).strip())


# ------------------------------------------------------------------- the subcommands


def test_enqueue_prints_the_id_and_stores_the_operation() -> None:
    assert enqueue({"endpoint": "/a"}) == 1
    assert enqueue({"endpoint": "/b"}, "api_call", "--priority", "7") == 2
    shown = json.loads(ok("show", "2", "--json"))
    assert shown["payload"] == {"endpoint": "/b"}
    assert shown["priority"] == 7


def test_enqueue_json() -> None:
    assert json.loads(
        ok("enqueue", "metric_log", '{"run_id": "r", "metrics": {"loss": 1}}', "--json")
    ) == {"id": 1}


def test_enqueue_an_adapter_push_to_the_hugging_face_hub(tmp_path: Path) -> None:
    adapter = tmp_path / "lora"
    adapter.mkdir()
    (adapter / "adapter_config.json").write_text("{}")
    payload = {"target": "huggingface", "repo_id": "me/lora", "path": str(adapter)}
    op_id = enqueue(payload, "model_push")
    shown = json.loads(ok("show", str(op_id), "--json"))["payload"]
    assert (shown["repo_id"], shown["revision"], shown["create_repo"]) == ("me/lora", "main", True)
    refused = run("enqueue", "model_push", json.dumps({**payload, "repo_id": "lora"}))
    assert "owner/name" in one_sentence_error(refused, 2)


def test_list_table_and_json() -> None:
    assert "empty" in ok("list")
    first = enqueue({"endpoint": "/a", "headers": {"Authorization": "Bearer hush-hush"}})
    second = enqueue({"run_id": "r", "metrics": {"loss": 0.5}}, "metric_log")
    table = ok("list")
    assert table.splitlines()[0].split()[:3] == ["ID", "TYPE", "STATUS"]
    assert "metric_log" in table
    assert "hush-hush" not in table
    items = json.loads(ok("list", "--json"))
    assert [item["id"] for item in items] == [first, second]
    for key in ("id", "operation_type", "payload", "status", "priority", "retry_count"):
        assert key in items[0]
    assert items[0]["payload"]["headers"]["Authorization"] == "***"
    assert [item["description"] for item in items] == ["GET /a", "r · loss 0.5 @ step 0"]
    assert [i["id"] for i in json.loads(ok("list", "--status", "pending", "--json"))] == [
        first,
        second,
    ]
    assert json.loads(ok("list", "--status", "failed", "--json")) == []
    assert [i["id"] for i in json.loads(ok("list", "--type", "metric_log", "--json"))] == [second]
    assert [i["id"] for i in json.loads(ok("list", "--limit", "1", "--json"))] == [second]


def test_show_human_and_json() -> None:
    op_id = enqueue({"endpoint": "/a", "data": {"password": "letmein"}})
    text = ok("show", str(op_id))
    assert "api_call" in text
    assert "pending" in text
    assert "letmein" not in text
    data = json.loads(ok("show", str(op_id), "--json"))
    assert data["id"] == op_id
    assert data["payload"]["data"]["password"] == "***"
    assert data["attempts"] == []


def test_list_and_show_stay_bounded_whatever_the_payload_size() -> None:
    import asyncio

    from peft_studio_offline import OfflineQueueManager

    payload = {
        "url": "https://me:hunter2@example.org/x",
        "data": [{"key": f"k{i}", "value": i} for i in range(300_000)],
    }

    async def add() -> list[int]:
        async with OfflineQueueManager() as queue:
            return [await queue.enqueue("api_call", payload) for _ in range(3)]

    ids = asyncio.run(add())
    table = ok("list")
    assert len(table) < 2000 and "hunter2" not in table
    assert '{"url": "https://me:***' in table
    items = json.loads(ok("list", "--json"))
    assert len(json.dumps(items)) < 10_000
    assert [item["payload"] for item in items] == [None, None, None]
    assert all(item["payload_size"] > 7_000_000 for item in items)
    shown = ok("show", str(ids[0]))
    assert len(shown) < 80_000 and "hunter2" not in shown
    assert "Payload (9.7 MB):" in shown and f"'show {ids[0]} --json' prints all of it." in shown
    whole = json.loads(ok("show", str(ids[0]), "--json"))
    assert len(whole["payload"]["data"]) == 300_000


def test_delete() -> None:
    op_id = enqueue({"endpoint": "/a"})
    assert str(op_id) in ok("delete", str(op_id))
    assert json.loads(ok("list", "--json")) == []


def test_stats() -> None:
    enqueue({"endpoint": "/a"})
    enqueue({"endpoint": "/b"})
    stats = json.loads(ok("stats", "--json"))
    for key in ("pending", "in_progress", "completed", "failed", "conflict", "cancelled"):
        assert isinstance(stats[key], int)
    assert stats["pending"] == 2
    assert stats["total"] == 2
    assert "pending" in ok("stats")


@pytest.fixture
def target() -> Iterator[HttpServer]:
    with HttpServer(Reply(200, b"{}", {"Content-Type": "application/json"})) as server:
        yield server


def test_sync_sends_due_operations_and_prints_the_result(target: HttpServer) -> None:
    env = {**os.environ, "PEFT_STUDIO_OFFLINE_API_BASE_URL": target.url("/")}
    enqueue({"endpoint": "/one", "method": "POST"})
    enqueue({"endpoint": "/two"})
    result = json.loads(ok("sync", "--json", env=env))
    assert result["total"] == 2
    assert result["completed"] == 2
    assert result["failed"] == 0
    assert result["errors"] == []
    assert {"/one", "/two"} <= set(target.requests)
    assert json.loads(ok("stats", "--json"))["completed"] == 2
    assert "0 operation" in ok("sync", env=env)


def test_sync_reports_failures_with_exit_code_0(target: HttpServer) -> None:
    target.reply_with(Reply(503, b"busy"))
    env = {**os.environ, "PEFT_STUDIO_OFFLINE_API_BASE_URL": target.url("/")}
    op_id = enqueue({"endpoint": "/x"})
    result = json.loads(ok("sync", "--json", env=env))
    assert result["failed"] == 1
    assert result["errors"][0]["id"] == op_id


def test_sync_shows_a_progress_bar_on_a_terminal(target: HttpServer) -> None:
    import pty

    env = {**os.environ, "PEFT_STUDIO_OFFLINE_API_BASE_URL": target.url("/")}
    for index in range(3):
        enqueue({"endpoint": f"/{index}"})
    leader, follower = pty.openpty()
    try:
        process = subprocess.run(
            [sys.executable, "-m", "peft_studio_offline", "sync"],
            stdout=subprocess.PIPE,
            stderr=follower,
            env=env,
            timeout=TIMEOUT,
            check=False,
        )
        os.close(follower)
        follower = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        if follower >= 0:
            os.close(follower)
        os.close(leader)
    assert process.returncode == 0
    assert b"3/3" in drawn
    assert b"[" + b"#" * 30 + b"]" in drawn
    assert b"Synced 3" in process.stdout


def test_status(target: HttpServer) -> None:
    env = {**os.environ, "PEFT_STUDIO_OFFLINE_CHECK_URLS": target.url("/health")}
    enqueue({"endpoint": "/a"})
    data = json.loads(ok("status", "--json", env=env))
    assert data["network"]["status"] == "online"
    assert data["queue"]["pending"] == 1
    assert data["api"] is None
    assert "online" in ok("status", env=env)


def test_db_option_before_or_after_the_command(tmp_path: Path) -> None:
    db = tmp_path / "elsewhere.db"
    call = '{"endpoint": "/a"}'
    assert int(ok("--db", str(db), "enqueue", "api_call", call)) == 1
    assert int(ok("enqueue", "api_call", call, "--db", str(db))) == 2
    assert json.loads(ok("stats", "--json", "--db", str(db)))["total"] == 2
    assert json.loads(ok("stats", "--json"))["total"] == 0  # the default file is untouched


def test_version_and_help() -> None:
    assert ok("--version").strip() == f"peft-studio-offline {__version__}"
    assert "enqueue" in ok("--help")
    for command in ("enqueue", "list", "show", "delete", "stats", "sync", "status", "serve"):
        assert "--db" in ok(command, "--help")


def test_list_does_not_load_the_http_stack_or_qt() -> None:
    code = (
        "import sys\n"
        "from peft_studio_offline.cli import main\n"
        "rc = main(['list'])\n"
        "names = ('fastapi', 'uvicorn', 'PySide6', 'starlette')\n"
        "heavy = sorted(m for m in names if m in sys.modules)\n"
        "print(rc, heavy)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    assert result.stdout.strip().splitlines()[-1] == "0 []", result.stdout + result.stderr


# ------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("frobnicate",), "invalid choice"),
        (("list", "--colour", "red"), "Unrecognized arguments: --colour"),
        (("enqueue", "teleport", "{}"), "Unknown operation type 'teleport'"),
        (("enqueue", "api_call", "[1, 2]"), "must be a JSON object"),
        (("enqueue", "api_call", "{not json"), "not valid JSON"),
        (("enqueue", "api_call", "{}", "--priority", "high"), "priority"),
        (("enqueue", "api_call"), "PAYLOAD_JSON"),
        (("show", "abc"), "not an operation id"),
        (("show", "0"), "not an operation id"),
        (("delete", "x1"), "not an operation id"),
        (("list", "--status", "sleeping"), "Unknown status 'sleeping'"),
        (("list", "--type", "teleport"), "Unknown operation type"),
        (("serve", "--port", "70000"), "port"),
        (("enqueue", "api_call", "{}", "--priority", "2147483648"), "-2147483648 and 2147483647"),
        (("show", "99999999999999999999"), "ids go up to 9223372036854775807"),
        (("list", "--limit", "0"), "--limit must be 1 or more"),
        (("enqueue", "api_call", "@/nonexistent/payload.json"), "cannot be read"),
    ],
)
def test_usage_errors_exit_2_with_one_sentence(args: tuple[str, ...], words: str) -> None:
    line = one_sentence_error(run(*args), 2)
    assert words in line
    assert json.loads(ok("stats", "--json"))["total"] == 0


@pytest.mark.parametrize("command", ["show", "delete"])
def test_missing_id_exits_1(command: str) -> None:
    line = one_sentence_error(run(command, "42"), 1)
    assert "No operation with id 42" in line


def test_a_file_that_is_not_a_database_exits_1_and_is_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "notes.db"
    path.write_text("my notes, not a queue")
    for args in (("list",), ("stats", "--json"), ("enqueue", "api_call", '{"endpoint": "/a"}')):
        line = one_sentence_error(run(*args, "--db", str(path)), 1)
        assert str(path) in line
    assert path.read_text() == "my notes, not a queue"


def test_upload_outside_the_allowed_folders_is_refused(tmp_path: Path, isolated_home: Path) -> None:
    allowed = tmp_path / "allowed"
    allowed.mkdir()
    secret = tmp_path / "secret.txt"
    secret.write_text("x")
    config = isolated_home / "config"
    config.mkdir(parents=True)
    (config / "settings.toml").write_text(f'[sync]\nupload_roots = ["{allowed}"]\n')
    payload = json.dumps({"path": str(secret), "url": "http://127.0.0.1:9/u"})
    line = one_sentence_error(run("enqueue", "file_upload", payload), 2)
    assert "outside the folders allowed" in line
    inside = allowed / "ok.bin"
    inside.write_bytes(b"abc")
    good = json.dumps({"path": str(inside), "url": "http://127.0.0.1:9/u"})
    op_id = int(ok("enqueue", "file_upload", good))
    assert json.loads(ok("show", str(op_id), "--json"))["payload"]["size"] == 3


def test_no_arguments_without_a_display_is_one_sentence() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.pop("QT_QPA_PLATFORM", None)
    if sys.platform.startswith("linux"):
        line = one_sentence_error(run(env=env), 1)
        assert "no display" in line


# ------------------------------------------------------------------------- serve


def _start_serve(*args: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "peft_studio_offline", "serve", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    return process, first


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    if os.name == "posix":
        process.send_signal(signal.SIGINT)
    else:
        process.terminate()
    out, err = process.communicate(timeout=TIMEOUT)
    return out, err


def test_serve_prints_the_url_first_and_serves_until_interrupted(isolated_home: Path) -> None:
    process, first = _start_serve("--no-auto-sync")
    try:
        assert first.startswith("http://127.0.0.1:")
        base = first
        first = f"{base}/api/offline"
        token = (isolated_home / "data" / "api-token").read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(
            f"{first}/queue",
            json={"operation_type": "api_call", "payload": {"endpoint": "/a"}},
            headers=headers,
            timeout=10,
        )
        assert created.status_code == 201
        # The command line works on the same database while the server runs.
        other = enqueue({"endpoint": "/from-the-cli"})
        listed = httpx.get(f"{first}/queue", headers=headers, timeout=10).json()
        assert [op["id"] for op in listed["operations"]] == [created.json()["id"], other]
        assert json.loads(ok("status", "--json"))["api"]["url"] == base
        assert httpx.get(f"{first}/queue", timeout=10).status_code == 401
    finally:
        _out, err = _stop(process)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert not (isolated_home / "data" / "api-server.json").exists()


def test_serve_on_a_taken_port_says_so() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        line = one_sentence_error(run("serve", "--port", str(port)), 1)
    assert f"Port {port}" in line
    assert "already in use" in line
    assert "--port" in line


def test_serve_refuses_a_public_host_without_the_flag() -> None:
    line = one_sentence_error(run("serve", "--host", "0.0.0.0", "--port", "0"), 1)
    assert "--allow-remote" in line


def test_self_test() -> None:
    assert "--self-test" in ok("--help")
    result = run("--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "self-test passed" in result.stdout


def test_a_payload_too_large_for_an_argument_comes_from_a_file_or_stdin(tmp_path: Path) -> None:
    payload = {"url": "http://127.0.0.1:9/big", "blob": "b" * 300_000}  # past the 128 KiB limit
    source = tmp_path / "payload.json"
    source.write_text(json.dumps(payload))
    from_file = int(ok("enqueue", "api_call", f"@{source}"))
    from_stdin = subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", "enqueue", "api_call", "-"],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert from_stdin.returncode == 0, from_stdin.stderr
    for op_id in (from_file, int(from_stdin.stdout)):
        shown = json.loads(ok("show", str(op_id), "--json"))
        assert shown["payload"]["blob"] == payload["blob"]


def test_list_cuts_wide_characters_to_the_terminal_width(tmp_path: Path) -> None:
    from wcwidth import wcswidth

    for note in ("日本語のメモ" * 30, "plain note " * 30):
        enqueue({"note": note, "url": "http://127.0.0.1:9/x"})
    listed = run("list", env={**os.environ, "COLUMNS": "80"})
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.splitlines()
    assert len(lines) == 3 and all(line.endswith("…") for line in lines[1:]), lines
    # Each row fills the terminal and no more: a CJK character takes two columns.
    assert all(79 <= wcswidth(line) <= 80 for line in lines[1:]), lines


def test_a_second_server_leaves_the_first_one_findable(isolated_home: Path) -> None:
    first, first_url = _start_serve("--no-auto-sync")
    try:
        second, second_url = _start_serve("--no-auto-sync")
        assert second_url != first_url
        _stop(second)
        info = json.loads((isolated_home / "data" / "api-server.json").read_text())
        assert info["url"] == first_url and info["pid"] == first.pid
        assert json.loads(ok("status", "--json"))["api"]["url"] == first_url
    finally:
        _stop(first)


def test_output_into_a_closed_pipe_ends_quietly() -> None:
    op_id = enqueue({"url": "http://127.0.0.1:9/x", "note": "n" * 5000})
    for command in (f"show {op_id}", "--self-test"):
        shell = subprocess.run(
            f"{shlex.quote(sys.executable)} -m peft_studio_offline {command} | head -c 10",
            shell=True,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
        )
        assert shell.stderr == "", shell.stderr


def test_serve_stops_on_an_interrupt_that_comes_right_after_its_url() -> None:
    """Scripts stop it as soon as they have the URL: that must never leave it hanging."""
    for _ in range(3):
        process, url = _start_serve("--no-auto-sync")
        assert url.startswith("http://127.0.0.1:")
        _out, err = _stop(process)
        assert process.returncode == 0, err
        assert "Traceback" not in err


def test_a_direction_override_in_a_payload_is_shown_not_obeyed() -> None:
    """U+202E would make the rest of a row, or of the terminal line, read backwards."""
    op_id = enqueue({"run_id": "run-\u202eevil", "metrics": {"loss": 0.5}}, "metric_log")
    for text in (ok("list"), ok("show", str(op_id)), ok("list", "--json")):
        assert "\u202e" not in text
        assert "\\u202e" in text
    items = json.loads(ok("list", "--json"))  # the JSON still says exactly what is queued
    assert items[0]["payload"]["run_id"] == "run-\u202eevil"


def test_a_list_longer_than_a_page_is_printed_whole_and_in_order(isolated_home: Path) -> None:
    """``list`` reads and prints a page at a time (a queue of 76,000 took 1 GB at once)."""
    from peft_studio_offline.cli._commands import LIST_PAGE

    count = LIST_PAGE * 2 + 7

    async def fill() -> None:
        async with OfflineQueueManager(isolated_home / "data" / "queue.db") as queue:
            await queue.enqueue_many(
                {"operation_type": "api_call", "payload": {"endpoint": f"/n/{n}"}}
                for n in range(count)
            )

    asyncio.run(fill())
    items = json.loads(ok("list", "--json"))
    assert [item["id"] for item in items] == list(range(1, count + 1))
    lines = ok("list").splitlines()
    assert len(lines) == count + 1 and lines[0].split()[:2] == ["ID", "TYPE"]
    assert [line.split()[0] for line in lines[1:]] == [str(n) for n in range(1, count + 1)]
    assert len({line.index("api_call") for line in lines[1:]}) == 1  # one column, all pages
    newest = json.loads(ok("list", "--limit", "3", "--json"))
    assert [item["id"] for item in newest] == [count - 2, count - 1, count]


def test_enqueue_takes_the_queue_options_the_api_takes() -> None:
    first = enqueue({"endpoint": "/a"})
    second = enqueue(
        {"endpoint": "/b", "method": "PUT"}, "api_call",
        "--max-attempts", "2", "--ttl", "3600", "--depends-on", str(first),
        "--dedup-key", "nightly", "--resource-key", "models/7",
        "--conflict-strategy", "merge",
    )  # fmt: skip
    shown = json.loads(ok("show", str(second), "--json"))
    assert shown["max_attempts"] == 2 and shown["depends_on"] == [first]
    assert shown["dedup_key"] == "nightly" and shown["resource_key"] == "models/7"
    assert shown["conflict_strategy"] == "merge" and shown["expires_at"]
    # The same key while the first is unfinished: the same operation, nothing added.
    assert (
        enqueue({"endpoint": "/b", "method": "PUT"}, "api_call", "--dedup-key", "nightly") == second
    )
    refused = run("enqueue", "api_call", '{"endpoint": "/c"}', "--conflict-strategy", "coin")
    assert "conflict" in one_sentence_error(refused, 2).lower()
