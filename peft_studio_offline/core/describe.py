"""What an operation is about, in a few words: the run, the endpoint, the file, the adapter.

Lists show one line per operation, so the words come from the bounded start of the payload
that a summary carries (``payload_head``), read with a small budget: the cost is the same
whatever the payload's size. Every value passes the one masking rule first, and URLs are
shown as host and path only (no user, password or query), so no secret reaches the words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from peft_studio_offline.core.direction_controls import escape_direction_controls
from peft_studio_offline.core.enums import OperationType
from peft_studio_offline.core.masking import MASK, mask_secrets
from peft_studio_offline.core.payload_preview import CUT, read_prefix

# Characters of the payload's JSON text read for the words (the usual payload is far less).
READ_BUDGET = 2048
# Longest piece (a run id, a path) and longest text shown.
PIECE_CHARS = 40
TEXT_CHARS = 100
_METRICS_SHOWN = 1


@dataclass(frozen=True, slots=True)
class Targets:
    """Where operations without a URL of their own go (the settings), as URLs or ""."""

    api_base_url: str = ""
    mlflow_tracking_uri: str = ""
    huggingface_endpoint: str = "https://huggingface.co"


@dataclass(frozen=True, slots=True)
class Description:
    """``text``: what the operation is; ``host``: where it goes ("" when not known);
    ``group``: the MLflow run or Hub repository it belongs to ("" for none)."""

    text: str
    host: str
    group: str


class Summarised(Protocol):
    """What a description is made from: an ``OperationSummary``'s type and payload start."""

    @property
    def operation_type(self) -> OperationType | str: ...

    @property
    def payload_head(self) -> str: ...

    @property
    def payload_complete(self) -> bool: ...


def describe_operation(summary: Summarised, targets: Targets | None = None) -> Description:
    """The words for one operation, from its summary alone."""
    targets = targets or Targets()
    payload = _payload(summary)
    kind = str(summary.operation_type)
    if kind == OperationType.METRIC_LOG:
        return _metric_log(payload, targets)
    if kind == OperationType.API_CALL:
        return _api_call(payload, targets)
    if kind == OperationType.FILE_UPLOAD:
        return _file_upload(payload, targets)
    if kind == OperationType.MODEL_PUSH:
        return _model_push(payload, targets)
    if kind == OperationType.EXPERIMENT_SYNC:
        return _experiment_sync(payload, targets)
    return Description("", "", "")


def _payload(summary: Summarised) -> Mapping[str, Any]:
    try:
        value, _ = read_prefix(summary.payload_head, READ_BUDGET, complete=summary.payload_complete)
    except ValueError:
        return {}
    masked = mask_secrets(value)
    return masked if isinstance(masked, Mapping) else {}


# MLflow's run ids (32 hex digits) are named by their start: the rest of the line says
# what was logged, which the full id would push out of the column.
_LONG_ID = re.compile(r"[0-9a-f]{20,}")
_ID_SHOWN = 8


def _run_id(value: object) -> str:
    text = _text(value)
    return f"{text[:_ID_SHOWN]}…" if _LONG_ID.fullmatch(text) else text


def _metric_log(payload: Mapping[str, Any], targets: Targets) -> Description:
    run = _run_id(payload.get("run_id"))
    metrics = payload.get("metrics")
    pairs: list[str] = []
    more = 0
    step = payload.get("step")
    if isinstance(metrics, Mapping):
        items = [(k, v) for k, v in metrics.items() if k != CUT]
        pairs = [f"{_short(k)} {_value(v)}" for k, v in items[:_METRICS_SHOWN]]
        more = len(items) - len(pairs)
        more_unread = CUT in metrics
    elif isinstance(metrics, list):
        points = [p for p in metrics if isinstance(p, Mapping)]
        pairs = [f"{_text(p.get('key'))} {_value(p.get('value'))}" for p in points[:_METRICS_SHOWN]]
        more = len(points) - len(pairs)
        more_unread = CUT in metrics
        if step is None and points:
            step = points[0].get("step")
    else:
        more_unread = False
    words = ", ".join(pairs)
    if more_unread:
        words = f"{words} …" if words else "…"
    elif more:
        words += f" +{more}"
    if words and _is_number(step):
        words += f" @ step {step}"
    text = " · ".join(part for part in (run or "no run", words) if part)
    return Description(_cap(text), _host(targets.mlflow_tracking_uri), _group(payload, "run_id"))


def _api_call(payload: Mapping[str, Any], targets: Targets) -> Description:
    method = _text(payload.get("method")).upper() or "GET"
    url = _raw(payload.get("url"))
    endpoint = _raw(payload.get("endpoint"))
    if url:
        host, path = _host(url), _path(url)
    else:
        host, path = _host(targets.api_base_url), _path(endpoint)
    return Description(_cap(f"{_short(method)} {path or '(no endpoint)'}"), host, "")


def _file_upload(payload: Mapping[str, Any], targets: Targets) -> Description:
    name = _basename(_raw(payload.get("path"))) or "(no file)"
    url = _raw(payload.get("url"))
    endpoint = _raw(payload.get("endpoint"))
    host = _host(url) if url else _host(targets.api_base_url)
    where = host or _path(endpoint) or "(no URL)"
    return Description(_cap(f"{name} → {where}"), host, "")


def _model_push(payload: Mapping[str, Any], targets: Targets) -> Description:
    name = _basename(_raw(payload.get("path"))) or "adapter"
    if _raw(payload.get("target")).lower() == "huggingface":
        repo = _text(payload.get("repo_id"))
        host = _host(targets.huggingface_endpoint)
        text = f"{name} → {repo or '(no repository)'}"
        return Description(_cap(text), host, _group(payload, "repo_id"))
    run = _run_id(payload.get("run_id"))
    return Description(
        _cap(f"{name} → {run or '(no run)'}"),
        _host(targets.mlflow_tracking_uri),
        _group(payload, "run_id"),
    )


def _experiment_sync(payload: Mapping[str, Any], targets: Targets) -> Description:
    run = _run_id(payload.get("run_id"))
    parts: list[str] = []
    tags = payload.get("tags")
    if isinstance(tags, Mapping):
        count = len([k for k in tags if k != CUT])
        parts.append(f"{count}{'+' if CUT in tags else ''} tag{'' if count == 1 else 's'}")
    if payload.get("note") not in (None, ""):
        parts.append("note")
    text = f"{run or 'no run'} · {', '.join(parts)}" if parts else run or "no run"
    return Description(_cap(text), _host(targets.mlflow_tracking_uri), _group(payload, "run_id"))


def _group(payload: Mapping[str, Any], key: str) -> str:
    """The run or repository whole (as the queue's own count of groups reads it)."""
    value = payload.get(key)
    return "" if isinstance(value, bool) else _raw(value)


def _raw(value: Any) -> str:
    """A scalar as text, whole (a URL or path is cut only once its part is taken)."""
    if value is None or value == CUT or isinstance(value, Mapping | list):
        return ""
    return str(value).strip()


def _text(value: Any) -> str:
    """A scalar as text, cut to a piece; containers and the unread marker are no text."""
    if value is None or value == CUT or isinstance(value, Mapping | list):
        return ""
    return _short(str(value).strip())


def _short(text: object) -> str:
    flat = escape_direction_controls(" ".join(str(text).split()))
    return flat if len(flat) <= PIECE_CHARS else flat[: PIECE_CHARS - 1] + "…"


def _cap(text: str) -> str:
    return text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _value(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "?"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, int):
        return str(value) if abs(value) < 10**12 else f"{value:.4g}"
    return MASK if value == MASK else _short(value)


def _host(url: str) -> str:
    """host:port of an http(s) URL, never its user or password; "" when there is none."""
    if "://" not in url:
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    return f"{host}:{port}" if host and port else host


def _path(where: str) -> str:
    """The path of a URL or endpoint: no scheme, host, query or fragment (which may hold a
    token)."""
    if not where:
        return ""
    if "://" in where:
        try:
            path = urlsplit(where).path
        except ValueError:
            return ""
    else:
        path = where.split("?", 1)[0].split("#", 1)[0]
    return _short(path or "/")


def _basename(path: str) -> str:
    return _short(path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]) if path else ""
