"""MLflow payloads, request packing and the note merge: no server needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.handlers import builtin_handlers
from peft_studio_offline.core.handlers.mlflow import (
    MLFLOW_LIMITS,
    BatchLimits,
    ExperimentSyncHandler,
    MetricLogHandler,
    MlflowConfigurationError,
    ModelPushHandler,
    prepare_mlflow_payload,
)
from peft_studio_offline.core.handlers.mlflow._batching import Packer
from peft_studio_offline.core.handlers.mlflow._payloads import (
    MetricLog,
    MetricPoint,
    parse_experiment_sync,
    parse_metric_log,
)
from peft_studio_offline.core.handlers.mlflow._textmerge import merge_text
from peft_studio_offline.core.handlers.model_push import ModelPushByTarget


def test_the_three_mlflow_handlers_are_built_in() -> None:
    handlers = builtin_handlers()
    assert isinstance(handlers[OperationType.METRIC_LOG], MetricLogHandler)
    push = handlers[OperationType.MODEL_PUSH]
    assert isinstance(push, ModelPushByTarget)  # MLflow unless the payload names the Hub
    assert isinstance(push.mlflow, ModelPushHandler)
    assert isinstance(handlers[OperationType.EXPERIMENT_SYNC], ExperimentSyncHandler)


def test_prepare_fixes_timestamps_and_steps_at_enqueue() -> None:
    prepared = prepare_mlflow_payload(
        "metric_log",
        {"run_id": "r1", "metrics": {"loss": 0.5, "acc": 1}, "step": 7, "params": {"lr": 0.1}},
        now_ms=1_700_000_000_123,
    )
    assert prepared == {
        "run_id": "r1",
        "metrics": [
            {"key": "loss", "value": 0.5, "timestamp": 1_700_000_000_123, "step": 7},
            {"key": "acc", "value": 1.0, "timestamp": 1_700_000_000_123, "step": 7},
        ],
        "params": {"lr": "0.1"},
    }
    # Preparing again changes nothing: the values are fixed once.
    assert prepare_mlflow_payload("metric_log", prepared, now_ms=1) == prepared


def test_prepare_keeps_given_timestamps_and_spells_non_finite_values() -> None:
    prepared = prepare_mlflow_payload(
        "metric_log",
        {
            "run_id": "r1",
            "metrics": [
                {"key": "a", "value": float("nan"), "step": 2, "timestamp": 5},
                {"key": "b", "value": float("-inf")},
                {"key": "c", "value": "Infinity", "step": 3},
            ],
        },
        now_ms=99,
    )
    assert prepared["metrics"] == [
        {"key": "a", "value": "NaN", "timestamp": 5, "step": 2},
        {"key": "b", "value": "-Infinity", "timestamp": 99, "step": 0},
        {"key": "c", "value": "Infinity", "timestamp": 99, "step": 3},
    ]
    json.dumps(prepared, allow_nan=False)  # storable as strict JSON


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ({"metrics": {"a": 1}}, "run_id"),
        ({"run_id": "r", "metrics": {"a": "high"}}, "must be a number"),
        ({"run_id": "r", "metrics": {"a": True}}, "must be a number"),
        ({"run_id": "r", "metrics": [{"key": "a"}]}, "'key' and 'value'"),
        ({"run_id": "r", "metrics": 3}, "'metrics' must be"),
        ({"run_id": "r"}, "at least one metric"),
        ({"run_id": "r", "metrics": {"a": 1}, "step": "x"}, "'step' must be an integer"),
        ({"run_id": "r", "metrics": {"": 1}}, "non-empty"),
    ],
)
def test_bad_metric_payloads_are_refused_with_a_sentence(payload: dict, words: str) -> None:
    with pytest.raises(InvalidOperationError, match=words):
        prepare_mlflow_payload("metric_log", payload)


def test_model_push_prepare_makes_the_folder_absolute(tmp_path: Path) -> None:
    (tmp_path / "adapter").mkdir()
    prepared = prepare_mlflow_payload(
        "model_push", {"path": "adapter", "run_id": "r"}, base_dir=tmp_path
    )
    assert prepared["path"] == str(tmp_path / "adapter")
    assert prepared["artifact_path"] == "adapter"
    with pytest.raises(InvalidOperationError, match="does not exist"):
        prepare_mlflow_payload("model_push", {"path": str(tmp_path / "none"), "run_id": "r"})
    with pytest.raises(InvalidOperationError, match="cannot be stored"):
        prepare_mlflow_payload(
            "model_push", {"path": str(tmp_path), "run_id": "r", "artifact_path": "../x"}
        )


def test_experiment_sync_reads_tags_note_and_base() -> None:
    sync = parse_experiment_sync(
        {"run_id": "r", "tags": {"team": "nlp", "old": None}, "note": "hi", "base": {"note": "h"}}
    )
    assert sync.fields == {"team": "nlp", "old": None, "mlflow.note.content": "hi"}
    assert sync.base == {"mlflow.note.content": "h"}
    assert parse_experiment_sync({"run_id": "r", "note": "x"}).base is None
    with pytest.raises(InvalidOperationError, match="needs 'tags' or a 'note'"):
        prepare_mlflow_payload("experiment_sync", {"run_id": "r"})


def _log(n: int, *, key: str = "loss", params: dict[str, str] | None = None) -> MetricLog:
    points = tuple(MetricPoint(key, float(i), 1000 + i, i) for i in range(n))
    return MetricLog("run", points, params or {}, {})


def _decoded(packer: Packer) -> list[dict]:
    return [json.loads(r.body()) for r in packer.finish()]


def test_a_thousand_metrics_per_request_and_operations_split_across_requests() -> None:
    packer = Packer("run")
    for index in range(5):
        packer.add(index, _log(450))
    requests = packer.finish()
    assert [len(r.metrics) for r in requests] == [1000, 1000, 250]
    assert [r.operations for r in requests] == [[0, 1, 2], [2, 3, 4], [4]]
    bodies = _decoded(packer)
    assert bodies[0]["run_id"] == "run"
    assert sum(len(b["metrics"]) for b in bodies) == 2250


def test_params_tags_entities_and_bytes_limits() -> None:
    packer = Packer("run")
    packer.add(0, MetricLog("run", (), {f"p{i}": "v" for i in range(250)}, {}))
    assert [len(r.params) for r in packer.finish()] == [100, 100, 50]

    packer = Packer("run")
    packer.add(0, MetricLog("run", (), {}, {f"t{i}": "v" for i in range(101)}))
    assert [len(r.tags) for r in packer.finish()] == [100, 1]

    packer = Packer("run")
    packer.add(0, MetricLog("run", _log(950).metrics, {f"p{i}": "v" for i in range(60)}, {}))
    assert [r.entities for r in packer.finish()] == [1000, 10]

    # Long values: the 1 MB limit is reached before any count limit.
    params = {f"p{i}": "y" * 5000 for i in range(99)}
    tags = {f"t{i}": "x" * 7000 for i in range(99)}
    packer = Packer("run")
    packer.add(0, MetricLog("run", (), params, tags))
    requests = packer.finish()
    assert len(requests) == 2
    assert all(len(r.body()) <= MLFLOW_LIMITS.bytes for r in requests)
    assert len(requests[0].body()) > 0.95 * MLFLOW_LIMITS.bytes
    assert sum(len(r.tags) for r in requests) == 99


def test_every_body_respects_a_small_byte_limit_exactly() -> None:
    limits = BatchLimits(bytes=2_000)
    packer = Packer("run-with-a-longer-id", limits)
    for index in range(20):
        packer.add(index, _log(17, key=f"metric/{index}"))
    bodies = [r.body() for r in packer.finish()]
    assert all(len(b) <= 2_000 for b in bodies)
    assert sum(len(json.loads(b)["metrics"]) for b in bodies) == 340


def test_a_param_is_sent_once_per_request_and_a_new_value_goes_later() -> None:
    packer = Packer("run")
    packer.add(0, _log(2, params={"lr": "0.1"}))
    packer.add(1, _log(2, params={"lr": "0.1"}))
    packer.add(2, _log(2, params={"lr": "0.2"}))
    bodies = _decoded(packer)
    assert [b.get("params") for b in bodies] == [
        [{"key": "lr", "value": "0.1"}],
        [{"key": "lr", "value": "0.2"}],
    ]
    assert [r.operations for r in packer.finish()] == [[0, 1], [2]]


def test_note_merge_takes_changes_to_different_lines() -> None:
    base = "intro\nmiddle\nend\n"
    assert merge_text(base, "INTRO\nmiddle\nend\n", "intro\nmiddle\nEND\n") == (
        "INTRO\nmiddle\nEND\n"
    )
    assert merge_text(base, "intro\nmiddle\nend\nlocal\n", "remote\nintro\nmiddle\nend\n") == (
        "remote\nintro\nmiddle\nend\nlocal\n"
    )
    # The same change on both sides is not a conflict.
    assert merge_text(base, "intro\nboth\nend\n", "intro\nboth\nend\n") == "intro\nboth\nend\n"


def test_note_merge_refuses_overlapping_changes() -> None:
    base = "intro\nmiddle\nend\n"
    assert merge_text(base, "intro\nLOCAL\nend\n", "intro\nREMOTE\nend\n") is None
    assert merge_text(base, "intro\nmiddle\nend\nA\n", "intro\nmiddle\nend\nB\n") is None
    assert merge_text(None, "a", "b") is None
    assert merge_text("one line", "local line", "remote line") is None


def test_timestamps_default_to_the_given_moment() -> None:
    log = parse_metric_log({"run_id": "r", "metrics": {"a": 1}}, default_timestamp=42)
    assert log.metrics == (MetricPoint("a", 1.0, 42, 0),)


def test_the_shared_prepare_payload_completes_mlflow_payloads() -> None:
    from peft_studio_offline.core.handlers import prepare_payload

    prepared = prepare_payload("metric_log", {"run_id": "r", "metrics": {"a": 1}})
    (point,) = prepared["metrics"]
    assert point["step"] == 0 and isinstance(point["timestamp"], int) and point["timestamp"] > 0
    with pytest.raises(InvalidOperationError):
        prepare_payload("experiment_sync", {"run_id": "r"})


async def test_credentials_from_mlflows_variables_and_the_keyring() -> None:
    import dataclasses

    import httpx

    from peft_studio_offline.core.enums import ConflictResolution
    from peft_studio_offline.core.handlers.mlflow._target import TrackingTarget
    from peft_studio_offline.core.paths import AppPaths
    from peft_studio_offline.core.settings import Settings, SyncSettings
    from peft_studio_offline.core.sync import HandlerContext

    settings = Settings(
        AppPaths.from_environment(), sync=SyncSettings(mlflow_tracking_uri="http://h:1")
    )
    async with httpx.AsyncClient() as http:
        context = HandlerContext("k", ConflictResolution.LOCAL_WINS, settings, http, lambda _: None)
        bearer = TrackingTarget(environ={"MLFLOW_TRACKING_TOKEN": "tok"}).client(context, "k")
        assert bearer.headers == {"Authorization": "Bearer tok"}
        assert bearer.base_url == "http://h:1"
        basic = TrackingTarget(
            environ={"MLFLOW_TRACKING_USERNAME": "u", "MLFLOW_TRACKING_PASSWORD": "p"}
        ).client(context, "k")
        assert basic.headers == {"Authorization": "Basic dTpw"}
        keyring = dataclasses.replace(
            context,
            settings=dataclasses.replace(
                settings,
                credentials=dataclasses.replace(settings.credentials, mlflow_token="mlflow"),
            ),
            credential={"mlflow": "secret"}.get,
        )
        chosen = TrackingTarget(environ={"MLFLOW_TRACKING_TOKEN": "tok"}).client(keyring, "k")
        assert chosen.headers == {"Authorization": "Bearer secret"}
        assert TrackingTarget("http://other:2", environ={}).uri(context) == "http://other:2"
        with pytest.raises(MlflowConfigurationError, match="not an http"):
            TrackingTarget("file:///tmp/mlruns", environ={}).uri(context)
