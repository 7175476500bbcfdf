"""Inputs that every way in must treat alike: stored as the same row, or refused alike.

``good(folder)`` and ``bad(folder)`` build them around a folder listed in
``sync.upload_roots`` (``folder / "uploads"``) that holds a file and an adapter folder.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Bad:
    operation_type: str
    payload: dict[str, Any]
    sentence: str  # the one sentence every front-end gives
    field: str  # what the HTTP API names
    status: int = 422


def make_files(folder: Path) -> Path:
    """The allowed folder, with ``weights.bin`` and ``adapter/``; returns it."""
    uploads = folder / "uploads"
    (uploads / "adapter").mkdir(parents=True, exist_ok=True)
    (uploads / "adapter" / "adapter_config.json").write_text("{}")
    (uploads / "weights.bin").write_bytes(b"0123456789")
    (folder / "secret.txt").write_text("private")
    return uploads.resolve()


def settings_toml(uploads: Path) -> str:
    return f'[sync]\nauto_sync = false\nupload_roots = ["{uploads}"]\n'


def good(uploads: Path) -> list[tuple[str, dict[str, Any]]]:
    stamp = 1_700_000_000_000
    return [
        ("api_call", {"endpoint": "/api/models", "method": "POST", "data": {"name": "lora"}}),
        ("api_call", {"url": "https://studio.example.org/ping", "headers": {"X-Team": "nlp"}}),
        (
            "metric_log",
            {"run_id": "r1", "metrics": [{"key": "loss", "value": 0.5, "timestamp": stamp}]},
        ),
        # NaN and infinity: one rule everywhere, stored as MLflow spells them.
        (
            "metric_log",
            {
                "run_id": "r1",
                "metrics": [
                    {"key": "loss", "value": "nan", "timestamp": stamp, "step": 2},
                    {"key": "grad", "value": "-inf", "timestamp": stamp, "step": 2},
                ],
            },
        ),
        ("experiment_sync", {"run_id": "r1", "tags": {"stage": "done"}, "note": "r=16"}),
        ("file_upload", {"path": str(uploads / "weights.bin"), "url": "http://127.0.0.1:9/u"}),
        ("model_push", {"path": str(uploads / "adapter"), "run_id": "r1"}),
        (
            "model_push",
            {
                "target": "huggingface",
                "repo_id": "me/my-lora",
                "path": str(uploads / "adapter"),
                "private": True,
                "allow_patterns": "*.json",
            },
        ),
    ]


def bad(uploads: Path) -> list[Bad]:
    outside = uploads.parent / "secret.txt"
    return [
        Bad("api_call", {}, "An api_call needs a 'url' or an 'endpoint' to send it to.",
            "payload.url"),
        Bad("api_call", {"endpoint": "ftp://x/y"},
            "The endpoint 'ftp://x/y' is not an http:// or https:// URL.", "payload.endpoint"),
        Bad("api_call", {"endpoint": "/x", "method": "FETCH"},
            "An api_call is sent with GET, POST, PUT, PATCH, DELETE, HEAD or OPTIONS,"
            " not 'FETCH'.", "payload.method"),
        Bad("api_call", {"url": "http://127.0.0.1:9/y", "headers": {"X-A": "a\nb"}},
            "The value of the header 'X-A' holds a line break or another control character,"
            " which HTTP does not allow.", "payload.headers"),
        Bad("metric_log", {"run_id": "r", "metrics": {"loss": "low"}},
            "The value of metric 'loss' must be a number, not 'low'.", "payload.metrics"),
        Bad("metric_log", {"metrics": {"loss": 1}},
            "The payload needs 'run_id', the MLflow run's id.", "payload.run_id"),
        Bad("experiment_sync", {"run_id": "r"},
            "An experiment_sync payload needs 'tags' or a 'note'.", "payload.tags"),
        Bad("file_upload", {"path": str(outside), "url": "http://127.0.0.1:9/u"},
            f"The file {outside} is outside the folders allowed for uploads"
            " (settings sync.upload_roots).", "payload.path", 403),
        Bad("file_upload", {"path": str(uploads / "nope.bin"), "url": "http://127.0.0.1:9/u"},
            f"The file {uploads / 'nope.bin'} does not exist or is not a regular file.",
            "payload.path"),
        Bad("model_push", {"path": str(uploads / "gone"), "run_id": "r"},
            f"The adapter folder {uploads / 'gone'} does not exist.", "payload.path"),
        Bad("model_push", {"target": "hub", "path": str(uploads / "adapter")},
            "A model_push goes to mlflow or huggingface, not 'hub'.", "payload.target"),
        Bad("model_push", {"target": "huggingface", "repo_id": "my-lora",
                           "path": str(uploads / "adapter")},
            "A push to the Hugging Face Hub needs 'repo_id' as owner/name (letters, digits,"
            " '-', '_' and '.'), not 'my-lora'.", "payload.repo_id"),
        Bad("model_push", {"target": "huggingface", "repo_id": "me/lora",
                           "path": str(outside)},
            f"The file {outside} is outside the folders allowed for uploads"
            " (settings sync.upload_roots).", "payload.path", 403),
    ]  # fmt: skip
