"""Reading and completing the payloads of the three MLflow operation types.

``prepare_*`` run when an operation is queued: they check the payload and fix what must not
change between attempts (a metric's timestamp and step, an adapter's absolute path), so that
a resend is the same request and MLflow stores it once. ``parse_*`` read a stored payload for
the handlers; both raise ``InvalidOperationError`` (a ``ValueError``) with one sentence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from peft_studio_offline.core.errors import InvalidOperationError
from peft_studio_offline.core.outgoing_files import OutgoingFolder, outgoing_path

NOTE_TAG = "mlflow.note.content"
RUN_NAME_TAG = "mlflow.runName"
DEFAULT_ARTIFACT_PATH = "adapter"
# MLflow stores these spellings of the non-finite floats; a bare NaN in JSON is misread.
_NON_FINITE = {"nan": "NaN", "infinity": "Infinity", "-infinity": "-Infinity",
               "inf": "Infinity", "-inf": "-Infinity"}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MetricPoint:
    key: str
    value: float | str  # a float, or "NaN" / "Infinity" / "-Infinity"
    timestamp: int  # milliseconds since the epoch
    step: int

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "value": self.value,
            "timestamp": self.timestamp,
            "step": self.step,
        }


@dataclass(frozen=True, slots=True)
class MetricLog:
    run_id: str
    metrics: tuple[MetricPoint, ...]
    params: dict[str, str]
    tags: dict[str, str]


def now_ms() -> int:
    return int(time.time() * 1000)


# ----------------------------------------------------------------------- metric_log


def prepare_metric_log(payload: Mapping[str, Any], now: int | None = None) -> dict[str, Any]:
    """The payload with every metric as ``{key, value, timestamp, step}``, fixed now."""
    parsed = parse_metric_log(payload, default_timestamp=now_ms() if now is None else now)
    prepared = {k: v for k, v in payload.items() if k not in ("metrics", "params", "tags", "step")}
    prepared["run_id"] = parsed.run_id
    prepared["metrics"] = [point.to_json() for point in parsed.metrics]
    if parsed.params:
        prepared["params"] = parsed.params
    if parsed.tags:
        prepared["tags"] = parsed.tags
    return prepared


def parse_metric_log(payload: Mapping[str, Any], *, default_timestamp: int) -> MetricLog:
    """Read a ``metric_log`` payload; points without a timestamp get ``default_timestamp``."""
    run_id = _run_id(payload)
    default_step = _integer(payload.get("step", 0), "step")
    raw = payload.get("metrics", {})
    points: list[MetricPoint] = []
    if isinstance(raw, Mapping):
        for key, value in raw.items():
            points.append(
                MetricPoint(
                    _key(key, "metric"), _metric_value(value, key), default_timestamp, default_step
                )
            )
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            if not isinstance(item, Mapping) or "key" not in item or "value" not in item:
                raise InvalidOperationError(
                    f"Metric {index} must be an object with at least 'key' and 'value'.",
                    field="payload.metrics",
                )
            key = _key(item["key"], "metric")
            timestamp = item.get("timestamp")
            step = item.get("step")
            points.append(
                MetricPoint(
                    key,
                    _metric_value(item["value"], key),
                    default_timestamp if timestamp is None else _integer(timestamp, "timestamp"),
                    default_step if step is None else _integer(step, "step"),
                )
            )
    else:
        raise InvalidOperationError(
            "'metrics' must be an object of name: value"
            " or a list of {key, value, step, timestamp}.",
            field="payload.metrics",
        )
    params = _string_map(payload.get("params"), "params")
    tags = _string_map(payload.get("tags"), "tags")
    if not points and not params and not tags:
        raise InvalidOperationError(
            "A metric_log payload needs at least one metric, param or tag.",
            field="payload.metrics",
        )
    return MetricLog(run_id, tuple(points), params, tags)


def _metric_value(value: Any, key: object) -> float | str:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise InvalidOperationError(
            f"The value of metric {key!r} must be a number.", field="payload.metrics"
        )
    if isinstance(value, str):
        spelled = _NON_FINITE.get(value.strip().lower())
        if spelled is None:
            try:
                value = float(value)
            except ValueError:
                raise InvalidOperationError(
                    f"The value of metric {key!r} must be a number, not {value!r}.",
                    field="payload.metrics",
                ) from None
        else:
            return spelled
    number = float(value)
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return number


# ----------------------------------------------------------------------- model_push


@dataclass(frozen=True, slots=True)
class ModelPush:
    path: Path
    run_id: str
    artifact_path: str
    registered_model_name: str | None


def prepare_model_push(payload: Mapping[str, Any], base_dir: Path | None = None) -> dict[str, Any]:
    """The payload with the adapter folder made absolute and the artifact path filled in."""
    parsed = parse_model_push(payload, base_dir=base_dir)
    if not parsed.path.exists():
        raise InvalidOperationError(
            f"The adapter folder {parsed.path} does not exist.", field="payload.path"
        )
    prepared = dict(payload)
    # A link the user named is resolved now; what is sent is never reached through one.
    real = outgoing_path(parsed.path)
    if real.is_dir():
        with OutgoingFolder.open(real) as folder:
            folder.files()  # links or special files inside are named now, not at send time
    prepared["path"] = str(real)
    prepared["artifact_path"] = parsed.artifact_path
    return prepared


def parse_model_push(payload: Mapping[str, Any], *, base_dir: Path | None = None) -> ModelPush:
    raw_path = payload.get("path")
    if not isinstance(raw_path, str) or not raw_path.strip():
        raise InvalidOperationError(
            "A model_push payload needs 'path', the adapter folder.", field="payload.path"
        )
    path = Path(raw_path.strip()).expanduser()
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    artifact_path = payload.get("artifact_path", DEFAULT_ARTIFACT_PATH)
    if artifact_path is None:
        artifact_path = DEFAULT_ARTIFACT_PATH
    if not isinstance(artifact_path, str):
        raise InvalidOperationError(
            "'artifact_path' must be a string.", field="payload.artifact_path"
        )
    artifact_path = check_artifact_path(artifact_path)
    name = payload.get("registered_model_name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidOperationError(
            "'registered_model_name' must be a non-empty string.",
            field="payload.registered_model_name",
        )
    return ModelPush(path, _run_id(payload), artifact_path, name.strip() if name else None)


def check_artifact_path(value: str) -> str:
    """A relative path MLflow's artifact proxy accepts (it refuses ``#``, ``..``, ``%``)."""
    text = value.strip().strip("/")
    parts = PurePosixPath(text).parts if text else ()
    if "\\" in text or any(p in ("..", ".") for p in parts) or any(c in text for c in "#%"):
        raise InvalidOperationError(
            f"The artifact path {value!r} cannot be stored by MLflow"
            " (no '..', '\\', '#' or '%' allowed).",
            field="payload.artifact_path",
        )
    return "/".join(parts)


# ------------------------------------------------------------------ experiment_sync


@dataclass(frozen=True, slots=True)
class ExperimentSync:
    run_id: str
    fields: dict[str, str | None]  # tag key -> local value (None: delete the tag)
    base: dict[str, str | None] | None  # tag key -> value last seen; None: no base given


def prepare_experiment_sync(payload: Mapping[str, Any]) -> dict[str, Any]:
    if payload.get("action") is not None:
        from peft_studio_offline.core.handlers.mlflow._creation import check_action

        check_action(payload)
    else:
        parse_experiment_sync(payload)
    return dict(payload)


def parse_experiment_sync(payload: Mapping[str, Any]) -> ExperimentSync:
    """Read tags, ``note`` and optional ``base``; the note is the ``mlflow.note.content`` tag."""
    run_id = _run_id(payload)
    fields = _metadata(payload, "payload")
    if not fields:
        raise InvalidOperationError(
            "An experiment_sync payload needs 'tags' or a 'note'.", field="payload.tags"
        )
    base: dict[str, str | None] | None = None
    if payload.get("base") is not None:
        raw_base = payload["base"]
        if not isinstance(raw_base, Mapping):
            raise InvalidOperationError(
                "'base' must be an object with 'tags' and/or 'note'.", field="payload.base"
            )
        base = _metadata(raw_base, "base")
    return ExperimentSync(run_id, fields, base)


def _metadata(source: Mapping[str, Any], where: str) -> dict[str, str | None]:
    tags = source.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise InvalidOperationError(f"The {where}'s 'tags' must be an object of key: value.")
    fields: dict[str, str | None] = {}
    for key, value in tags.items():
        fields[_key(key, "tag")] = None if value is None else _text(value)
    if "note" in source:
        note = source["note"]
        if note is not None and not isinstance(note, str):
            raise InvalidOperationError(f"The {where}'s 'note' must be a string.")
        fields[NOTE_TAG] = note
    return fields


# ------------------------------------------------------------------------- shared


def _run_id(payload: Mapping[str, Any]) -> str:
    run_id = payload.get("run_id")
    if not isinstance(run_id, str) or not run_id.strip():
        raise InvalidOperationError(
            "The payload needs 'run_id', the MLflow run's id.", field="payload.run_id"
        )
    return run_id.strip()


def _key(value: object, kind: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidOperationError(f"A {kind} name must be a non-empty string, not {value!r}.")
    if len(value) > 250:
        raise InvalidOperationError(f"The {kind} name {value[:40]!r}... is longer than 250.")
    return value


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise InvalidOperationError(f"{value!r} is not a string or a number.")


def _string_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {_key(k, name[:-1]): _text(v) for k, v in value.items()}
    if isinstance(value, list):
        out: dict[str, str] = {}
        for item in value:
            if not isinstance(item, Mapping) or "key" not in item:
                raise InvalidOperationError(f"Each of '{name}' must be an object with 'key'.")
            out[_key(item["key"], name[:-1])] = _text(item.get("value", ""))
        return out
    raise InvalidOperationError(f"'{name}' must be an object of key: value.")


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidOperationError(
            f"'{name}' must be an integer, not {value!r}.", field=f"payload.{name}"
        )
    return int(value)
