"""The core's submit path on its own: per-type rules, paths, and many at once (real SQLite)."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from peft_studio_offline.core.errors import InvalidOperationError, UploadNotAllowedError
from peft_studio_offline.core.paths import AppPaths
from peft_studio_offline.core.runtime import Runtime
from peft_studio_offline.core.settings import Settings


@pytest.fixture
async def runtime(tmp_path: Path, isolated_home: Path) -> AsyncIterator[Runtime]:
    settings = Settings(paths=AppPaths.under(isolated_home))
    roots = (str(tmp_path / "allowed"),)
    settings = dataclasses.replace(
        settings, sync=dataclasses.replace(settings.sync, upload_roots=roots)
    )
    (tmp_path / "allowed").mkdir()
    async with Runtime(settings, db_path=tmp_path / "q.db") as made:
        yield made


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"url": "mailto:x@y"}, "payload.url", "is not an http:// or https:// URL"),
        ({"url": "http://"}, "payload.url", "is not an http:// or https:// URL"),
        ({"endpoint": 7}, "payload.endpoint", "must be text"),
        ({"endpoint": "/x", "method": 3}, "payload.method", "not 3"),
        ({"endpoint": "/x", "headers": ["a"]}, "payload.headers", "must be an object"),
        ({"endpoint": "/x", "headers": {"X": {"a": 1}}}, "payload.headers", "text value"),
        ({"endpoint": "/x", "params": "a=1"}, "payload.params", "must be an object"),
    ],
)
async def test_api_call_rules_name_the_field(
    runtime: Runtime, payload: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(InvalidOperationError, match=words) as refused:
        await runtime.submit("api_call", payload)
    assert refused.value.field == field
    assert (await runtime.queue.get_queue_stats())["total"] == 0


async def test_what_the_handler_can_send_is_kept_as_given(runtime: Runtime) -> None:
    payloads = [
        {"endpoint": "api/models", "method": "post"},  # relative: waits for a base URL if none
        {"endpoint": "HTTPS://studio.example.org/x"},
        {"url": "", "endpoint": "/fallback"},
    ]
    for payload in payloads:
        op_id = await runtime.submit("api_call", payload)
        op = await runtime.queue.get_operation(op_id)
        assert op is not None and op.payload == payload


async def test_relative_paths_are_taken_from_the_callers_folder(
    runtime: Runtime, tmp_path: Path
) -> None:
    allowed = tmp_path / "allowed"
    (allowed / "w.bin").write_bytes(b"abc")
    op_id = await runtime.submit(
        "file_upload", {"path": "w.bin", "url": "http://127.0.0.1:9/u"}, base_dir=allowed
    )
    op = await runtime.queue.get_operation(op_id)
    assert op is not None and op.payload["path"] == str((allowed / "w.bin").resolve())
    with pytest.raises(InvalidOperationError, match="the API needs an absolute path"):
        await runtime.submit(
            "file_upload", {"path": "w.bin", "url": "http://127.0.0.1:9/u"}, over_api=True
        )
    with pytest.raises(UploadNotAllowedError):
        await runtime.submit(
            "file_upload", {"path": "../elsewhere.bin", "url": "http://127.0.0.1:9/u"},
            base_dir=allowed,
        )  # fmt: skip


async def test_many_are_checked_first_and_stored_all_or_none(runtime: Runtime) -> None:
    good = {"operation_type": "api_call", "payload": {"endpoint": "/a"}}
    bad = {"operation_type": "metric_log", "payload": {"run_id": "r", "metrics": {"a": "x"}}}
    with pytest.raises(InvalidOperationError, match=r"^Item 1: The value of metric 'a'") as no:
        await runtime.submit_many([good, bad, good])
    assert no.value.field == "payload.metrics"
    assert (await runtime.queue.get_queue_stats())["total"] == 0
    metric = {"operation_type": "metric_log", "payload": {"run_id": "r", "metrics": {"a": 1}}}
    ids = await runtime.submit_many([good, {**metric, "priority": 3}])
    stored = await runtime.queue.get_operation(ids[1])
    assert stored is not None and stored.priority == 3
    assert isinstance(stored.payload["metrics"][0]["timestamp"], int)  # prepared too
