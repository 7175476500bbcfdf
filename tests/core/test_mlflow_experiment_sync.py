"""EXPERIMENT_SYNC against a real MLflow server: tags, the note, and every conflict strategy."""

from __future__ import annotations

from typing import Any

import pytest

from peft_studio_offline.core.enums import ConflictResolution, OperationStatus
from peft_studio_offline.core.handlers.mlflow import NOTE_TAG, MlflowRestClient
from peft_studio_offline.core.queue import OfflineQueueManager
from peft_studio_offline.core.sync.engine import SyncEngine
from tests.support.mlflow_server import mlflow_server, new_run

pytestmark = [pytest.mark.mlflow, pytest.mark.usefixtures("tracking_uri")]

__all__ = ["mlflow_server"]

NOTE = "Baseline LoRA run.\nrank 8, alpha 16\nlearning rate 2e-4\n"


async def remote_tags(rest: MlflowRestClient, run_id: str) -> dict[str, str]:
    run = await rest.get_run(run_id)
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


async def conflicted_run(rest: MlflowRestClient) -> tuple[str, dict[str, Any]]:
    """A run last seen as ``base``; since then someone changed it on the server."""
    _, run_id = await new_run(rest, "sync")
    await rest.log_batch(
        run_id,
        tags=[
            {"key": "stage", "value": "draft"},
            {"key": "owner", "value": "ana"},
            {"key": NOTE_TAG, "value": NOTE},
        ],
    )
    base = {"tags": {"stage": "draft", "owner": "ana"}, "note": NOTE}
    # Someone else, on the server: stage and the last line of the note.
    await rest.set_tag(run_id, "stage", "review")
    await rest.set_tag(run_id, NOTE_TAG, NOTE.replace("2e-4", "1e-4"))
    return run_id, base


def local_edit(run_id: str, base: dict[str, Any]) -> dict[str, Any]:
    """Offline, the user changed stage too, added a tag, and edited the note's first line."""
    return {
        "run_id": run_id,
        "tags": {"stage": "final", "owner": "ana", "dataset": "alpaca"},
        "note": NOTE.replace("Baseline", "Tuned"),
        "base": base,
    }


async def sync_once(queue: OfflineQueueManager, strategy: ConflictResolution) -> dict[str, Any]:
    async with SyncEngine(queue, None, conflict_strategy=strategy) as engine:
        return await engine.sync()


async def test_local_wins_overwrites_the_servers_change(
    rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    run_id, base = await conflicted_run(rest)
    op_id = await queue.enqueue("experiment_sync", local_edit(run_id, base))
    result = await sync_once(queue, ConflictResolution.LOCAL_WINS)
    assert result["completed"] == 1, result["errors"]
    tags = await remote_tags(rest, run_id)
    assert tags["stage"] == "final"
    assert tags["dataset"] == "alpaca"
    assert tags[NOTE_TAG] == NOTE.replace("Baseline", "Tuned")  # the local note, whole
    attempts = await queue.get_attempts(op_id)
    conflict = next(a for a in attempts if a.outcome == "conflict")
    assert conflict.details["remote"]["tags"] == {"stage": "review"}


async def test_remote_wins_keeps_the_server_value_of_conflicting_fields(
    rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    run_id, base = await conflicted_run(rest)
    op_id = await queue.enqueue("experiment_sync", local_edit(run_id, base))
    result = await sync_once(queue, ConflictResolution.REMOTE_WINS)
    assert result["completed"] == 1, result["errors"]
    tags = await remote_tags(rest, run_id)
    assert tags["stage"] == "review"
    assert tags[NOTE_TAG] == NOTE.replace("2e-4", "1e-4")
    assert tags["dataset"] == "alpaca"  # not in conflict: the local addition is kept
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.COMPLETED


async def test_merge_combines_the_note_and_leaves_a_real_tag_conflict_to_the_user(
    rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    run_id, base = await conflicted_run(rest)
    op_id = await queue.enqueue("experiment_sync", local_edit(run_id, base))
    result = await sync_once(queue, ConflictResolution.MERGE)
    assert result["conflicts"] == 1, result
    tags = await remote_tags(rest, run_id)
    # Edits to different lines of the note merge; the untouched fields are written.
    assert tags[NOTE_TAG] == "Tuned LoRA run.\nrank 8, alpha 16\nlearning rate 1e-4\n"
    assert tags["dataset"] == "alpaca"
    assert tags["stage"] == "review"  # both changed it: not guessed
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.CONFLICT
    record = await queue.get_conflict(op_id)
    assert record is not None
    assert (record.local, record.remote, record.base) == (
        {"tags": {"stage": "final"}},
        {"tags": {"stage": "review"}},
        {"tags": {"stage": "draft"}},
    )
    assert "stage" in (op.error_message or "")


async def test_merge_without_a_tag_conflict_completes(
    rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    run_id, base = await conflicted_run(rest)
    edit = local_edit(run_id, base)
    edit["tags"]["stage"] = "draft"  # the user left stage alone this time
    await queue.enqueue("experiment_sync", edit)
    result = await sync_once(queue, ConflictResolution.MERGE)
    assert result["completed"] == 1, result["errors"]
    tags = await remote_tags(rest, run_id)
    assert tags["stage"] == "review"  # only the server changed it: kept
    assert tags[NOTE_TAG] == "Tuned LoRA run.\nrank 8, alpha 16\nlearning rate 1e-4\n"


async def test_manual_parks_the_conflict_until_the_user_decides(
    rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    run_id, base = await conflicted_run(rest)
    op_id = await queue.enqueue("experiment_sync", local_edit(run_id, base))
    async with SyncEngine(queue, None, conflict_strategy="manual") as engine:
        result = await engine.sync()
        assert result["conflicts"] == 1
        record = await queue.get_conflict(op_id)
        assert record is not None
        assert record.local == {
            "tags": {"stage": "final"},
            "note": NOTE.replace("Baseline", "Tuned"),
        }
        assert record.remote == {
            "tags": {"stage": "review"},
            "note": NOTE.replace("2e-4", "1e-4"),
        }
        assert record.base == {"tags": {"stage": "draft"}, "note": NOTE}
        tags = await remote_tags(rest, run_id)
        assert tags["stage"] == "review" and tags["dataset"] == "alpaca"

        # The user merges by hand: stage from the server, a note of their own.
        merged = {"tags": {"stage": "review"}, "note": "Tuned LoRA run, hand-merged.\n"}
        await engine.resolve_conflict(op_id, "merged", merged)
        result = await engine.sync()
        assert result["completed"] == 1, result["errors"]
    tags = await remote_tags(rest, run_id)
    assert tags["stage"] == "review"
    assert tags[NOTE_TAG] == "Tuned LoRA run, hand-merged.\n"
    assert tags["dataset"] == "alpaca"


async def test_manual_then_keep_local(rest: MlflowRestClient, queue: OfflineQueueManager) -> None:
    run_id, base = await conflicted_run(rest)
    op_id = await queue.enqueue("experiment_sync", local_edit(run_id, base))
    async with SyncEngine(queue, None, conflict_strategy="manual") as engine:
        assert (await engine.sync())["conflicts"] == 1
        await engine.resolve_conflict(op_id, "keep_local")
        assert (await engine.sync())["completed"] == 1
    tags = await remote_tags(rest, run_id)
    assert tags["stage"] == "final"
    assert tags[NOTE_TAG] == NOTE.replace("Baseline", "Tuned")


async def test_without_base_local_wins_and_null_deletes_a_tag(
    rest: MlflowRestClient, queue: OfflineQueueManager
) -> None:
    run_id, _ = await conflicted_run(rest)
    await queue.enqueue(
        "experiment_sync",
        {"run_id": run_id, "tags": {"stage": "final", "owner": None}, "note": "New note."},
    )
    result = await sync_once(queue, ConflictResolution.MANUAL)
    assert result["completed"] == 1, result["errors"]
    tags = await remote_tags(rest, run_id)
    assert tags["stage"] == "final"
    assert "owner" not in tags
    assert tags[NOTE_TAG] == "New note."


async def test_a_missing_run_is_a_permanent_failure_that_says_so(
    queue: OfflineQueueManager,
) -> None:
    op_id = await queue.enqueue("experiment_sync", {"run_id": "a" * 32, "tags": {"x": "1"}})
    result = await sync_once(queue, ConflictResolution.LOCAL_WINS)
    assert result["failed"] == 1
    op = await queue.get_operation(op_id)
    assert op is not None and op.status is OperationStatus.FAILED
    assert f"MLflow has no run '{'a' * 32}'" in (op.error_message or "")
    attempts = await queue.get_attempts(op_id)
    assert attempts[-1].details["error_code"] == "RESOURCE_DOES_NOT_EXIST"
