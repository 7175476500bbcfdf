"""Huge and strange input through the Python API, the command line and the HTTP API.

Every input is either accepted and read back exactly, or refused with a clear error that
leaves nothing written. Never a crash, never half an operation.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import math
import random
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.queue import OfflineQueueManager
from tests.e2e import harness

# Text that stresses every layer: astral planes, right-to-left marks, combining accents,
# zero-width joiners, NUL, line separators, a BOM, and Windows-1252 look-alikes.
STRANGE = (
    "héllo 🎉👩\u200d👩\u200d👧 עברית\u200f العربية ﷽ \U0001d54f\U0001d502 e\u0301 \u0000"
    " \u2028\u2029 \ufeff Ω≈ç√ 中文字符 한국어 🏳️\u200d🌈 \U0010fffd \u2018\u2019\u201c\u201d"
    " \t\r\n\\\"'"
)


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"leaf": STRANGE}
    for _ in range(depth):
        value = {"a": value}
    return value


def _ten_megabytes() -> dict[str, Any]:
    rng = random.Random(7)
    pool = list(STRANGE.replace("\r", ""))
    text = "".join(rng.choice(pool) for _ in range(1 << 16))
    blob = text * (10 * (1 << 20) // len(text.encode()) + 1)
    return {"blob": blob, "list": [STRANGE] * 1000, "n": 10**30, "f": 1e-300}


# ---------------------------------------------------------------------------- Python API


async def test_python_api_huge_and_deep(tmp_path: Path) -> None:
    db = tmp_path / "queue.db"
    huge = _ten_megabytes()
    assert len(huge["blob"].encode()) >= 10 * (1 << 20)
    refused = 0
    async with OfflineQueueManager(db) as q:
        big_id = await q.enqueue("api_call", huge)
        deep_id = await q.enqueue("api_call", _nested(200))
        for bad in (_nested(100_000), {"nan": math.nan}, {"inf": [math.inf]}, {1: "int key"},
                    {"lone": "\udc80"}, {"obj": object()}, ["not", "an", "object"]):  # fmt: skip
            with pytest.raises(InvalidOperationError):
                await q.enqueue("api_call", bad)  # type: ignore[arg-type]
            refused += 1
        with pytest.raises(InvalidOperationError):  # one bad item: the whole batch is refused
            await q.enqueue_many(
                [{"operation_type": "api_call", "payload": {"ok": i}} for i in range(50)]
                + [{"operation_type": "api_call", "payload": {"bad": math.nan}}]
            )
        refused += 1
        assert (await q.get_queue_stats())["total"] == 2
    async with OfflineQueueManager(db) as q:  # read back after a reopen: from disk
        big = await q.get_operation(big_id)
        deep = await q.get_operation(deep_id)
        assert big is not None and big.payload == huge and big.readable
        assert deep is not None and deep.payload == _nested(200)
    harness.report_figures(
        tmp_path,
        "huge and strange input (Python API)",
        operations=2 + refused,
        accepted_and_round_tripped=2,
        refused_with_a_clear_error=refused,
        partial_writes=0,
        largest_payload_bytes=len(json.dumps(huge, ensure_ascii=False).encode()),
    )


_json_text = st.text(st.characters(), max_size=40)  # every code point, surrogates included
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | _json_text,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_json_text, inner, max_size=5),
    max_leaves=30,
)


_databases = itertools.count()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(_json_text, _json_values, max_size=6))
def test_any_payload_round_trips_or_is_refused_whole(
    tmp_path: Path, payload: dict[str, Any]
) -> None:
    db = tmp_path / f"queue-{next(_databases)}.db"  # hypothesis reseeds random: not that

    async def attempt() -> None:
        async with OfflineQueueManager(db) as q:
            try:
                op_id = await q.enqueue("api_call", payload)
            except InvalidOperationError:
                assert (await q.get_queue_stats())["total"] == 0
                return
            stored = await q.get_operation(op_id)
            assert stored is not None and stored.readable
            assert json.dumps(stored.payload, sort_keys=True) == json.dumps(payload, sort_keys=True)

    asyncio.run(attempt())


# --------------------------------------------------------------------------- command line


def _cli(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peft_studio_offline", *argv],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_command_line_strange_input(tmp_path: Path) -> None:
    db = str(tmp_path / "queue.db")
    # argv caps one argument at 128 KiB; the endpoint makes it an api_call its handler can send
    payload = {"endpoint": "/strange", "text": STRANGE, "big": "ü" * 40_000}
    text = json.dumps(payload, ensure_ascii=False)
    added = _cli("enqueue", "--db", db, "--json", "api_call", text)
    assert added.returncode == 0, added.stderr
    shown = _cli("show", "--db", db, "--json", str(json.loads(added.stdout)["id"]))
    assert shown.returncode == 0 and json.loads(shown.stdout)["payload"] == payload

    deep = '{"a":' * 20_000 + "1" + "}" * 20_000
    refusals = {
        "nested too deeply": deep,
        "lone surrogate": '{"endpoint": "/s", "s": "\\udc80"}',
        "not a JSON object": "[1, 2]",
        "not JSON": "{oops",
        "NaN": '{"endpoint": "/s", "n": NaN}',
        "no target": '{"n": 1}',
    }
    for name, text in refusals.items():
        result = _cli("enqueue", "--db", db, "api_call", text)
        lines = result.stderr.strip().splitlines()
        assert result.returncode in (1, 2), (name, result.returncode, result.stderr)
        assert len(lines) == 1 and "Traceback" not in result.stderr, (name, result.stderr)
        assert "unexpectedly" not in result.stderr, (name, result.stderr)
    listed = _cli("list", "--db", db, "--json")
    assert len(json.loads(listed.stdout)) == 1, "a refused payload was written"
    harness.report_figures(
        tmp_path,
        "huge and strange input (command line)",
        operations=1 + len(refusals),
        accepted_and_round_tripped=1,
        refused_with_a_clear_error=len(refusals),
        partial_writes=0,
    )


# ------------------------------------------------------------------------------ HTTP API


def test_http_api_strange_input(tmp_path: Path, isolated_home: Path) -> None:
    db = tmp_path / "queue.db"
    serve = harness.ChildProcess(
        [sys.executable, "-m", "peft_studio_offline", "serve", "--db", str(db), "--port", "0",
         "--no-auto-sync"]
    )  # fmt: skip
    try:
        url = serve.wait_for("text", 60)["text"].strip().rstrip("/")  # where it listens
        url = url if url.endswith("/api/offline") else f"{url}/api/offline"
        token = (isolated_home / "data" / "api-token").read_text().strip()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"},
                          timeout=120) as client:  # fmt: skip
            accepted = 0
            for strange in ({"text": STRANGE}, _ten_megabytes(), _nested(10)):
                payload = {"endpoint": "/strange", **strange}  # an api_call it can send
                made = client.post(
                    "/queue", json={"operation_type": "api_call", "payload": payload}
                )
                assert made.status_code == 201, made.text[:300]
                back = client.get(f"/queue/{made.json()['id']}")
                assert back.status_code == 200 and back.json()["payload"] == payload
                accepted += 1
            bodies = {
                "deep": '{"operation_type":"api_call","payload":'
                + '{"a":' * 100_000
                + "1"
                + "}" * 100_000
                + "}",
                "nan": '{"operation_type":"api_call","payload":{"endpoint":"/s","n":NaN}}',
                "lone surrogate": '{"operation_type":"api_call",'
                '"payload":{"endpoint":"/s","s":"\\udc80"}}',
                "no target": '{"operation_type":"api_call","payload":{"method":"GET"}}',
                "ftp": '{"operation_type":"api_call","payload":{"endpoint":"ftp://x/y"}}',
                "array": '{"operation_type":"api_call","payload":[1]}',
                "garbage": "\x00\xff not json",
                "moderately deep": json.dumps(
                    {"operation_type": "api_call", "payload": _nested(900)}
                ),
            }
            for name, body in bodies.items():
                answer = client.post(
                    "/queue", content=body.encode("utf-8", "surrogatepass"),
                    headers={"Content-Type": "application/json"},
                )  # fmt: skip
                assert 400 <= answer.status_code < 500, (name, answer.status_code, answer.text)
                assert answer.json().get("detail"), (name, answer.text)
            listed = client.get("/queue", params={"limit": 100}).json()["operations"]
            assert len(listed) == accepted, "a refused request wrote something"
    finally:
        serve.kill()
    harness.report_figures(
        tmp_path,
        "huge and strange input (HTTP API)",
        operations=accepted + len(bodies),
        accepted_and_round_tripped=accepted,
        refused_with_a_clear_error=len(bodies),
        partial_writes=0,
    )
