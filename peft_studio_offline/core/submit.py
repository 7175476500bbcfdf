"""The one way an operation enters the queue: checked for its type, completed, then stored.

Every front-end calls ``submit`` (or ``submit_many``): the window, the local HTTP API, the
command line, the training client and Python code (``Runtime.submit``). None of them has
rules of its own, so the same input is stored as the same row, or refused with the same
sentence, whichever way it came in. A refusal is an ``InvalidOperationError`` (a
``ValueError``) whose ``field`` names the payload key at fault (``payload.url``).

What is checked is what the type's built-in handler needs to send it at all: a target it
can reach (an http(s) URL, or an endpoint relative to the API base URL), a known method, a
metric shape, a file that exists inside the allowed folders, a model push's registry
(``"target"``: MLflow, or ``"huggingface"`` with an ``owner/name`` repository). Whether
the target is *configured* yet (``sync.api_base_url``, ``sync.mlflow_tracking_uri``, a
credential) is not checked: an operation made before its settings waits for them (see
``handlers.base``).

``OfflineQueueManager.enqueue`` stays generic, taking any JSON object for any type, for
handlers registered with ``register_handler`` that take other shapes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack
from urllib.parse import urlsplit

from peft_studio_offline.core.enums import OperationType, parse_operation_type
from peft_studio_offline.core.errors import InvalidOperationError, UploadNotAllowedError
from peft_studio_offline.core.http_headers import header_problem

if TYPE_CHECKING:
    from peft_studio_offline.core.queue import EnqueueOptions, OfflineQueueManager
    from peft_studio_offline.core.settings import Settings

# The methods the built-in api_call handler sends.
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
UPLOAD_METHODS = ("PUT", "POST")

# A Hub repository id: "owner/name", each part what the Hub accepts in a name.
_REPO_PART = r"[A-Za-z0-9](?:[A-Za-z0-9_.-]{0,94}[A-Za-z0-9])?"
_REPO_ID = re.compile(rf"^{_REPO_PART}/{_REPO_PART}$")
MODEL_PUSH_TARGETS = ("mlflow", "huggingface")
HUGGINGFACE_TARGET = "huggingface"
_HUB_FLAGS = ("private", "create_repo")
_HUB_TEXTS = ("revision", "commit_message", "path_in_repo")
_HUB_PATTERNS = ("allow_patterns", "ignore_patterns")

# Types whose payload names a local file or folder under ``path``, read when it is sent.
_LOCAL_PATH_TYPES = frozenset({OperationType.FILE_UPLOAD, OperationType.MODEL_PUSH})
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

UPLOADS_OFF_OVER_API = (
    "Uploads through the API are off: list the folders they may read in"
    " sync.upload_roots in settings.toml."
)


async def submit(
    queue: OfflineQueueManager,
    operation_type: OperationType | str,
    payload: Mapping[str, Any],
    priority: int = 0,
    *,
    settings: Settings,
    over_api: bool = False,
    base_dir: Path | None = None,
    **options: Unpack[EnqueueOptions],
) -> int:
    """Check, complete and store one operation; returns its id once it is committed.

    ``over_api``: the request came through the local HTTP API, from any program holding the
    token; it may then name only absolute paths, and only inside ``sync.upload_roots``
    (with none listed, no upload at all). Other callers are the user: a relative path is
    taken from ``base_dir`` (default: the current folder), and with no roots listed any
    path is allowed. ``options`` are ``enqueue``'s.
    """
    kind, prepared = await prepare(
        operation_type, payload, settings=settings, over_api=over_api, base_dir=base_dir
    )
    return await queue.enqueue(kind, prepared, priority, **options)


async def submit_many(
    queue: OfflineQueueManager,
    items: Iterable[Mapping[str, Any]],
    *,
    settings: Settings,
    over_api: bool = False,
    base_dir: Path | None = None,
) -> list[int]:
    """``submit`` for many: each item a dict of ``enqueue``'s arguments; all stored, or none."""
    checked: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping) or "operation_type" not in item or "payload" not in item:
            raise InvalidOperationError(f"Item {index} needs operation_type and payload.")
        try:
            kind, prepared = await prepare(
                item["operation_type"],
                item["payload"],
                settings=settings,
                over_api=over_api,
                base_dir=base_dir,
            )
        except InvalidOperationError as exc:
            raise type(exc)(f"Item {index}: {exc}", field=exc.field) from None
        checked.append({**item, "operation_type": kind, "payload": prepared})
    return await queue.enqueue_many(checked)


async def prepare(
    operation_type: OperationType | str,
    payload: Mapping[str, Any],
    *,
    settings: Settings,
    over_api: bool = False,
    base_dir: Path | None = None,
) -> tuple[OperationType, dict[str, Any]]:
    """The type and the payload to store, or ``InvalidOperationError``; writes nothing.

    A file is hashed (an adapter folder listed) on a worker thread, never on the loop.
    """
    kind = parse_operation_type(operation_type)
    if not isinstance(payload, Mapping):
        raise InvalidOperationError(
            f"The payload must be a JSON object, not {type(payload).__name__}.", field="payload"
        )
    if kind in _LOCAL_PATH_TYPES:
        return kind, await asyncio.to_thread(
            prepare_sync, kind, payload, settings=settings, over_api=over_api, base_dir=base_dir
        )
    return kind, prepare_sync(kind, payload, settings=settings, over_api=over_api)


def prepare_sync(
    kind: OperationType,
    payload: Mapping[str, Any],
    *,
    settings: Settings,
    over_api: bool = False,
    base_dir: Path | None = None,
) -> dict[str, Any]:
    """``prepare`` without the thread: may read a whole file."""
    from peft_studio_offline.core.handlers import prepare_payload

    check_payload(kind, payload)
    data = dict(payload)
    roots = tuple(root for root in settings.sync.upload_roots if str(root).strip())
    if kind in _LOCAL_PATH_TYPES:
        data["path"] = str(_local_path(data.get("path"), kind, roots, over_api, base_dir))
    return prepare_payload(kind, data, upload_roots=roots)


def check_payload(kind: OperationType, payload: Mapping[str, Any]) -> None:
    """The per-type rules that need no file and no settings."""
    if kind is OperationType.API_CALL:
        check_target(payload, "api_call")
        _check_method(payload.get("method"), HTTP_METHODS, "an api_call")
        for key in ("headers", "params"):
            value = payload.get(key)
            if value is not None and not isinstance(value, Mapping):
                raise InvalidOperationError(
                    f"The payload's '{key}' must be an object.", field=f"payload.{key}"
                )
        headers = payload.get("headers") or {}
        for name, value in headers.items():
            if not isinstance(value, str | int | float) or isinstance(value, bool):
                raise InvalidOperationError(
                    f"The header {name!r} must have a text value.", field="payload.headers"
                )
            problem = header_problem(str(name), str(value))
            if problem is not None:
                raise InvalidOperationError(problem, field="payload.headers")
    elif kind is OperationType.FILE_UPLOAD:
        check_target(payload, "upload")
        _check_method(payload.get("method"), UPLOAD_METHODS, "a file upload")
    elif kind is OperationType.MODEL_PUSH:
        target = payload.get("target")
        if target is not None and target not in MODEL_PUSH_TARGETS:
            raise InvalidOperationError(
                f"A model_push goes to {' or '.join(MODEL_PUSH_TARGETS)}, not {target!r}.",
                field="payload.target",
            )
        if target == HUGGINGFACE_TARGET:
            _check_hub_push(payload)


def _check_hub_push(payload: Mapping[str, Any]) -> None:
    """The shape of a push to the Hugging Face Hub (see ``core.handlers.huggingface``)."""
    repo_id = payload.get("repo_id")
    if not isinstance(repo_id, str) or not _REPO_ID.match(repo_id.strip()):
        raise InvalidOperationError(
            "A push to the Hugging Face Hub needs 'repo_id' as owner/name (letters, digits,"
            f" '-', '_' and '.'), not {repo_id!r}.",
            field="payload.repo_id",
        )
    if ".." in repo_id or "--" in repo_id:
        raise InvalidOperationError(
            f"The repo_id {repo_id!r} may not contain '..' or '--'.", field="payload.repo_id"
        )
    for key in _HUB_FLAGS:
        if key in payload and payload[key] is not None and not isinstance(payload[key], bool):
            raise InvalidOperationError(
                f"The payload's '{key}' must be true or false.", field=f"payload.{key}"
            )
    for key in _HUB_TEXTS:
        value = payload.get(key)
        if value is not None and not isinstance(value, str):
            raise InvalidOperationError(
                f"The payload's '{key}' must be text.", field=f"payload.{key}"
            )
    revision = payload.get("revision")
    if (isinstance(revision, str) and revision.strip() != revision) or revision == "":
        raise InvalidOperationError(
            f"The revision {revision!r} must be a branch name without spaces around it.",
            field="payload.revision",
        )
    in_repo = payload.get("path_in_repo") or ""
    parts = in_repo.strip("/").split("/")
    if in_repo.startswith("/") or "\\" in in_repo or any(part in ("..", ".") for part in parts):
        raise InvalidOperationError(
            f"The path_in_repo {in_repo!r} must be a relative folder of the repository.",
            field="payload.path_in_repo",
        )
    for key in _HUB_PATTERNS:
        value = payload.get(key)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InvalidOperationError(
                f"The payload's '{key}' must be a pattern or a list of patterns.",
                field=f"payload.{key}",
            )


def check_target(payload: Mapping[str, Any], what: str) -> None:
    """A ``url`` that is an http(s) URL, or an ``endpoint``: such a URL or a relative path."""
    url, endpoint = payload.get("url"), payload.get("endpoint")
    if url is not None and (not isinstance(url, str) or url.strip()):
        _check_absolute(url, "url")
        return
    if endpoint is None or (isinstance(endpoint, str) and not endpoint.strip()):
        raise InvalidOperationError(
            f"An {what} needs a 'url' or an 'endpoint' to send it to.", field="payload.url"
        )
    if not isinstance(endpoint, str):
        raise InvalidOperationError(
            "The payload's 'endpoint' must be text.", field="payload.endpoint"
        )
    if _SCHEME.match(endpoint.strip()):
        _check_absolute(endpoint, "endpoint")


def _check_absolute(value: object, key: str) -> None:
    if not isinstance(value, str):
        raise InvalidOperationError(f"The payload's '{key}' must be text.", field=f"payload.{key}")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidOperationError(
            f"The {key} {value.strip()!r} is not an http:// or https:// URL.",
            field=f"payload.{key}",
        )


def _check_method(method: object, allowed: tuple[str, ...], what: str) -> None:
    if method is None or method == "":
        return  # the handler's default
    if not isinstance(method, str) or method.upper() not in allowed:
        raise InvalidOperationError(
            f"{what[0].upper()}{what[1:]} is sent with {', '.join(allowed[:-1])} or"
            f" {allowed[-1]}, not {method!r}.",
            field="payload.method",
        )


def _local_path(
    raw: object,
    kind: OperationType,
    roots: tuple[str, ...],
    over_api: bool,
    base_dir: Path | None,
) -> Path:
    """The absolute path a payload names, inside the allowed folders (one policy for all)."""
    from peft_studio_offline.core.handlers.upload import check_upload_path

    what = "file" if kind is OperationType.FILE_UPLOAD else "adapter folder"
    if not isinstance(raw, str) or not raw.strip() or "\x00" in raw:
        raise InvalidOperationError(
            f"A {kind.value} payload needs 'path', the {what} to send.", field="payload.path"
        )
    path = Path(raw.strip()).expanduser()
    if not path.is_absolute():
        if over_api:
            raise InvalidOperationError(
                f"The path {raw!r} is relative; the API needs an absolute path.",
                field="payload.path",
            )
        path = (base_dir or Path.cwd()) / path
    if over_api and not roots:
        raise UploadNotAllowedError(UPLOADS_OFF_OVER_API, field="payload.path")
    try:
        return check_upload_path(path, roots)
    except (OSError, RuntimeError) as exc:
        raise InvalidOperationError(
            f"The path {raw!r} cannot be resolved ({exc}).", field="payload.path"
        ) from None
