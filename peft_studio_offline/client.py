"""A small synchronous client for training scripts: queue work with one line, never block.

    from peft_studio_offline import client

    for step, batch in enumerate(loader):
        loss = train_step(batch)
        client.log_metrics("run-42", {"loss": loss}, step=step)
    client.push_adapter("out/adapter", run_id="run-42")

Each call sends the operation to the running app's local API when there is one (so the
window shows it at once), and otherwise writes it straight into the queue database. It never
raises or waits long because the network, or the app, is gone: HTTP timeouts are short, a
server that failed is not asked again for a while, and the database is always there. When
nothing can take an operation (a full disk), it is kept in memory, in order and bounded, and
queued before the next one once the database takes it again. Bad input (an unknown type, a
payload that is not JSON) raises ``ClientError``, a ``ValueError``.

The app is found through ``PEFT_STUDIO_OFFLINE_API_URL`` and ``PEFT_STUDIO_OFFLINE_API_TOKEN``
when they are set, else through the files ``api-server.json`` and ``api-token`` that a
serving app keeps in the data directory. Both are read when a client is first used.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
import threading
import time
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import httpx

from peft_studio_offline._client_backlog import Backlog, HeldOperation, NotStoredError
from peft_studio_offline._client_buffer import Buffer
from peft_studio_offline._client_direct import DirectQueue
from peft_studio_offline.core.enums import OperationType, parse_operation_type
from peft_studio_offline.core.errors import InvalidOperationError, PeftStudioOfflineError

if TYPE_CHECKING:
    from peft_studio_offline.core.settings import Settings

log = logging.getLogger(__name__)

URL_VARIABLE = "PEFT_STUDIO_OFFLINE_API_URL"
TOKEN_VARIABLE = "PEFT_STUDIO_OFFLINE_API_TOKEN"
API_PREFIX = "/api/offline"
DURABILITY_MODES = ("durable", "buffered")
DEFAULT_BUFFER_WINDOW = 0.05  # seconds: the most a buffered client can lose to a kill

T = TypeVar("T")


class ClientError(PeftStudioOfflineError, ValueError):
    """The operation was refused as given (bad input, or a path the app does not allow)."""


class OfflineClient:
    """Queues operations through the local API, or straight into the database.

    ``api_url``/``token`` default to the environment, then to the files of a serving app;
    ``use_api=False`` always writes to the database. ``timeout`` bounds each HTTP request;
    ``retry_api_after`` is how long a server that failed is left alone.

    ``durability="durable"`` (the default): a call returns once its operation is stored
    (committed to disk, or accepted by the app). ``"buffered"``: a call returns once its
    operation is checked, in microseconds, and returns None; a background thread stores
    what was logged every ``buffer_window`` seconds (0.05), and at ``close()``, at exit and
    on SIGTERM. What was logged in the last ``buffer_window`` seconds is lost if the
    process is killed outright (SIGKILL, power loss), like MLflow's asynchronous logging.
    """

    def __init__(
        self,
        *,
        db_path: str | Path | None = None,
        api_url: str | None = None,
        token: str | None = None,
        use_api: bool = True,
        timeout: float = 2.0,
        retry_api_after: float = 30.0,
        durability: str = "durable",
        buffer_window: float = DEFAULT_BUFFER_WINDOW,
    ) -> None:
        if durability not in DURABILITY_MODES:
            raise ClientError(
                f"durability is one of {', '.join(DURABILITY_MODES)}, not {durability!r}."
            )
        if not isinstance(buffer_window, int | float) or not 0 < buffer_window <= 60:
            raise ClientError(
                f"buffer_window is seconds above 0 and up to 60, not {buffer_window!r}."
            )
        self.db_path = Path(db_path).expanduser() if db_path is not None else None
        self.durability = durability
        self._api_url = api_url
        self._token = token
        self.use_api = use_api
        self.timeout = timeout
        self.retry_api_after = retry_api_after
        self._api_down_until = 0.0
        self._http: httpx.Client | None = None
        self._direct: DirectQueue | None = None
        self._backlog = Backlog()
        self._buffer = (
            Buffer(self._deliver_group, buffer_window) if durability == "buffered" else None
        )
        self._settings: Settings | None = None  # what a buffered call is checked against
        self._buffer_pid = os.getpid()  # the process whose calls are buffered
        self._lock = threading.Lock()
        self._pid = os.getpid()
        _OPEN_CLIENTS.add(self)

    # ------------------------------------------------------------------ operations

    def log_metrics(
        self,
        run_id: str,
        metrics: Mapping[str, Any],
        step: int | None = None,
        *,
        timestamp: float | None = None,
        priority: int = 0,
    ) -> int | None:
        """Queue metric values of a run (``{"loss": 0.3}``); returns the operation id.

        NaN and infinite values are kept, as ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``
        (what MLflow records), like everywhere else: a diverging run keeps training and its
        curve shows where it diverged.
        """
        if not isinstance(metrics, Mapping):
            raise ClientError("metrics must be a mapping of names to numbers.")
        values = {key: _number(raw) for key, raw in metrics.items()}
        payload: dict[str, Any] = {"run_id": run_id}
        if timestamp is None:
            # The submit path gives each metric this step and the time it is queued.
            payload["metrics"] = values
        else:
            moment = int(timestamp * 1000)
            payload["metrics"] = [
                {"key": key, "value": value, "timestamp": moment} for key, value in values.items()
            ]
        if step is not None:
            payload["step"] = int(step)
        return self.enqueue(OperationType.METRIC_LOG, payload, priority)

    def push_adapter(
        self,
        path: str | os.PathLike[str],
        run_id: str | None = None,
        *,
        artifact_path: str = "adapter",
        registered_model_name: str | None = None,
        target: str = "mlflow",
        repo_id: str | None = None,
        revision: str | None = None,
        commit_message: str | None = None,
        private: bool | None = None,
        create_repo: bool | None = None,
        path_in_repo: str | None = None,
        allow_patterns: str | list[str] | None = None,
        ignore_patterns: str | list[str] | None = None,
        priority: int = 0,
    ) -> int | None:
        """Queue an adapter directory for upload: to the MLflow run's artifacts (``run_id``),
        or with ``target="huggingface"`` as one commit to the Hub repository ``repo_id``."""
        folder = Path(path).expanduser().resolve()
        payload: dict[str, Any] = {"path": str(folder)}
        if target == "huggingface":
            hub: dict[str, Any] = {
                "repo_id": repo_id,
                "revision": revision,
                "commit_message": commit_message,
                "private": private,
                "create_repo": create_repo,
                "path_in_repo": path_in_repo,
                "allow_patterns": allow_patterns,
                "ignore_patterns": ignore_patterns,
            }
            payload["target"] = target
            payload.update({k: v for k, v in hub.items() if v is not None})
            return self.enqueue(OperationType.MODEL_PUSH, payload, priority)
        if target != "mlflow":
            payload["target"] = target  # refused by the submit path, with its sentence
        payload["artifact_path"] = artifact_path
        if run_id is not None:
            payload["run_id"] = run_id
        if registered_model_name is not None:
            payload["registered_model_name"] = registered_model_name
        return self.enqueue(OperationType.MODEL_PUSH, payload, priority)

    def call_api(
        self,
        endpoint: str,
        method: str = "GET",
        *,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        priority: int = 0,
    ) -> int | None:
        """Queue an HTTP call: ``endpoint`` relative to the API base URL, or a full URL."""
        key = "url" if endpoint.startswith(("http://", "https://")) else "endpoint"
        payload: dict[str, Any] = {key: endpoint, "method": method.upper()}
        if data is not None:
            payload["data"] = data
        if headers:
            payload["headers"] = dict(headers)
        if params:
            payload["params"] = dict(params)
        return self.enqueue(OperationType.API_CALL, payload, priority)

    def upload_file(
        self,
        path: str | os.PathLike[str],
        url: str,
        *,
        method: str = "PUT",
        field: str | None = None,
        priority: int = 0,
    ) -> int | None:
        """Queue a file upload (``PUT`` of the body, or ``POST`` multipart with ``field``)."""
        payload: dict[str, Any] = {
            "path": str(Path(path).expanduser().resolve()),
            "url": url,
            "method": method.upper(),
        }
        if field is not None:
            payload["field"] = field
        return self.enqueue(OperationType.FILE_UPLOAD, payload, priority)

    def sync_experiment(
        self,
        run_id: str,
        tags: Mapping[str, str],
        *,
        note: str | None = None,
        base: Mapping[str, str] | None = None,
        priority: int = 0,
    ) -> int | None:
        """Queue the run's tags (and description) for the tracking server."""
        payload: dict[str, Any] = {
            "run_id": run_id,
            "tags": {str(k): str(v) for k, v in tags.items()},
        }
        if note is not None:
            payload["note"] = note
        if base is not None:
            payload["base"] = {str(k): str(v) for k, v in base.items()}
        return self.enqueue(OperationType.EXPERIMENT_SYNC, payload, priority)

    def enqueue(
        self, operation_type: OperationType | str, payload: Mapping[str, Any], priority: int = 0
    ) -> int | None:
        """Queue any operation; returns its id, or None while it is held in memory because
        nothing could store it yet (see ``held_in_memory``)."""
        try:
            kind = parse_operation_type(operation_type)
        except InvalidOperationError as exc:
            raise ClientError(str(exc)) from None
        if not isinstance(payload, Mapping):
            raise ClientError(f"The payload must be a JSON object, not {type(payload).__name__}.")
        if os.getpid() != self._pid:
            self._forget_parent()
        if self._buffer is not None and os.getpid() == self._buffer_pid:
            self._buffer.add(HeldOperation(kind, self._prepared(kind, payload), priority))
            return None
        # Durable, or a forked worker's call: a worker may end without running exit
        # handlers (multiprocessing ends them with os._exit), so it stores each call.
        operation = HeldOperation(kind, dict(payload), priority)
        if len(self._backlog) and not (self._backlog.due() and self._backlog.flush(self._deliver)):
            # Older work waits in memory: this one queues behind it, in the order made.
            self._backlog.hold(operation, "older operations are still waiting to be queued")
            return None
        try:
            return self._deliver(operation)
        except NotStoredError as exc:
            self._backlog.hold(operation, str(exc))
            return None

    @property
    def held_in_memory(self) -> int:
        """How many operations wait in memory: because nothing could store them yet, or, in
        a buffered client, for the next group to be stored."""
        return len(self._backlog) + (0 if self._buffer is None else len(self._buffer))

    def flush(self, timeout: float = 30.0) -> bool:
        """Store what a buffered client holds now; True once it is stored (or handed to the
        in-memory backlog because nothing could store it). A durable client holds nothing."""
        return True if self._buffer is None else self._buffer.flush(timeout)

    def _prepared(self, kind: OperationType, payload: Mapping[str, Any]) -> dict[str, Any]:
        """A buffered call's checks, made before it returns: bad input still raises."""
        from peft_studio_offline.core.settings import Settings as LoadedSettings
        from peft_studio_offline.core.submit import prepare_sync

        if self._settings is None:
            self._settings = LoadedSettings.load()
        try:
            return prepare_sync(kind, payload, settings=self._settings)
        except InvalidOperationError as exc:
            raise ClientError(str(exc)) from None

    def _deliver_group(self, group: list[HeldOperation]) -> None:
        """A buffered client's group, on its writer thread: straight into the database in
        one commit (a serving app sees it there as it sees any program's writes); kept in
        the backlog when the database does not take it."""
        if len(self._backlog) and not (
            self._backlog.due() and self._backlog.flush(self._store_held)
        ):
            for operation in group:
                self._backlog.hold(operation, "older operations are still waiting to be queued")
            return
        try:
            self._direct_queue().enqueue_many((op.kind, op.payload, op.priority) for op in group)
        except (PeftStudioOfflineError, OSError) as exc:
            for operation in group:
                self._backlog.hold(operation, str(exc))

    def _store_held(self, operation: HeldOperation) -> int:
        kind, payload, priority = operation.kind, operation.payload, operation.priority
        return self._store(kind, dict(payload), priority, operation.dedup_key)

    def _deliver(self, operation: HeldOperation) -> int:
        """Through the app's API when it answers, else into the database; raises
        ``NotStoredError`` when neither takes it."""
        kind, payload, priority = operation.kind, operation.payload, operation.priority
        if self.use_api and time.monotonic() >= self._api_down_until:
            sent = self._send(kind, dict(payload), priority, operation.shared_key())
            if sent is not None:
                return sent
        return self._store(kind, dict(payload), priority, operation.dedup_key)

    def _forget_parent(self) -> None:
        """In a forked child (a data-loader worker): the parent's sockets are not ours; start
        afresh rather than wait on them. The database path is kept: it opens a connection of
        the child's own and leaves the parent's alone."""
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._http = None
        self._backlog = Backlog()  # what the parent holds is the parent's to queue
        self._api_down_until = 0.0

    def close(self) -> None:
        if os.getpid() != self._pid:
            self._forget_parent()
            return
        if self._buffer is not None:
            self._buffer.close()
        if len(self._backlog) and not self._backlog.flush(self._deliver):
            self._backlog.abandon()
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None
            if self._direct is not None:
                self._direct.close()
                self._direct = None

    def __enter__(self) -> OfflineClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----------------------------------------------------------------- the two paths

    def _send(
        self, kind: OperationType, payload: dict[str, Any], priority: int, dedup_key: str
    ) -> int | None:
        """Through the API; None when there is no usable server (then the database is used)."""
        http = self._client()
        if http is None:
            return None
        body = {
            "operation_type": kind.value,
            "payload": payload,
            "priority": priority,
            "dedup_key": dedup_key,
        }
        try:
            response = http.post(f"{API_PREFIX}/queue", json=body)
        except (TypeError, ValueError) as exc:  # a value JSON cannot carry (a set, bytes)
            raise self._refusal(kind, payload, exc) from None
        except (httpx.HTTPError, OSError) as exc:
            self._api_failed(f"the app's API did not answer ({type(exc).__name__})")
            return None
        if response.status_code == 201:
            try:
                return int(response.json()["id"])
            except (ValueError, KeyError, TypeError):
                self._api_failed("the app's API gave an unreadable answer")
                return None
        if response.status_code in (400, 403, 409, 413, 422):
            raise ClientError(_detail(response))
        if response.status_code == 507:
            # No room (the disk, or the storage budget): the database here would say the
            # same, so the operation waits in memory and the app stays the way in.
            raise NotStoredError(_detail(response))
        self._api_failed(f"the app's API answered {response.status_code}: {_detail(response)}")
        return None

    def _store(
        self, kind: OperationType, payload: dict[str, Any], priority: int, dedup_key: str | None
    ) -> int:
        """Straight into the database; ``NotStoredError`` when the database refuses."""
        try:
            return self._direct_queue().enqueue(kind, payload, priority, dedup_key)
        except InvalidOperationError as exc:
            raise ClientError(str(exc)) from None
        except (PeftStudioOfflineError, OSError) as exc:
            raise NotStoredError(str(exc)) from None

    def _refusal(self, kind: OperationType, payload: dict[str, Any], exc: Exception) -> ClientError:
        """The sentence the database path gives for a payload the API cannot be sent: the
        same refusal whichever path a call takes."""
        from peft_studio_offline.core.queue._codec import encode_payload

        try:
            encode_payload(self._prepared(kind, payload), 0)
        except ClientError as refused:
            return refused
        except InvalidOperationError as refused:
            return ClientError(str(refused))
        return ClientError(f"The payload cannot be stored as JSON: {exc}.")

    def _direct_queue(self) -> DirectQueue:
        with self._lock:
            if self._direct is None:
                self._direct = DirectQueue(self.db_path)
            return self._direct

    def _client(self) -> httpx.Client | None:
        with self._lock:
            if self._http is not None:
                return self._http
            url, token = self._discover()
            if not url or not token:
                return None
            self._http = httpx.Client(
                base_url=url.rstrip("/").removesuffix(API_PREFIX),
                headers={"Authorization": f"Bearer {token}"},
                timeout=httpx.Timeout(self.timeout, connect=min(self.timeout, 0.5)),
                trust_env=False,  # a proxy must never see loopback traffic and its token
            )
            return self._http

    def _discover(self) -> tuple[str | None, str | None]:
        url = self._api_url or os.environ.get(URL_VARIABLE, "").strip() or None
        token = self._token or os.environ.get(TOKEN_VARIABLE, "").strip() or None
        if url and token:
            return url, token
        from peft_studio_offline.api import (
            TokenFileError,
            read_server_info,
            read_token,
            server_file,
        )
        from peft_studio_offline.core.paths import AppPaths

        paths = AppPaths.from_environment()
        if url is None:
            info = read_server_info(server_file(paths.data_dir))
            url = None if info is None else info.url
        if token is None and url is not None:
            try:
                token = read_token(paths.token_file)
            except TokenFileError:
                token = None
        return url, token

    def _api_failed(self, reason: str) -> None:
        log.info("Queuing into the database instead: %s.", reason)
        self._api_down_until = time.monotonic() + self.retry_api_after
        with self._lock:
            if self._http is not None:
                self._http.close()
                self._http = None  # found again (maybe at a new port) next time


# Clients closed at exit, in order (what a buffered one holds, then its connections), for
# scripts that never call close(). Weak: a client the script dropped is not kept alive.
_OPEN_CLIENTS: weakref.WeakSet[OfflineClient] = weakref.WeakSet()


def _close_open_clients() -> None:
    for client in list(_OPEN_CLIENTS):
        try:
            client.close()
        except Exception:  # exit goes on; the next client still gets closed
            log.exception("Closing a client at exit failed")


atexit.register(_close_open_clients)


def _number(raw: object) -> object:
    """A number as JSON carries it (numpy and torch scalars made floats); anything else is
    left for the submit path to judge, so that a bad value gets the same sentence as
    everywhere."""
    if isinstance(raw, str | bool) or not hasattr(raw, "__float__"):
        return raw
    value = float(raw)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def _detail(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail")
    except (ValueError, AttributeError):
        detail = None
    return str(detail) if detail else f"HTTP {response.status_code}"


# ------------------------------------------------------------- module-level shortcuts

_default: OfflineClient | None = None
_default_lock = threading.Lock()


def get_client() -> OfflineClient:
    """The process's client, made on first use (the environment is read then)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = OfflineClient()
        return _default


def log_metrics(
    run_id: str, metrics: Mapping[str, Any], step: int | None = None, **options: Any
) -> int | None:
    """Queue metric values of a run; see ``OfflineClient.log_metrics``."""
    return get_client().log_metrics(run_id, metrics, step, **options)


def push_adapter(
    path: str | os.PathLike[str], run_id: str | None = None, **options: Any
) -> int | None:
    """Queue an adapter folder for upload; see ``OfflineClient.push_adapter``."""
    return get_client().push_adapter(path, run_id, **options)


def call_api(endpoint: str, method: str = "GET", **options: Any) -> int | None:
    """Queue an HTTP call; see ``OfflineClient.call_api``."""
    return get_client().call_api(endpoint, method, **options)


def upload_file(path: str | os.PathLike[str], url: str, **options: Any) -> int | None:
    """Queue a file upload; see ``OfflineClient.upload_file``."""
    return get_client().upload_file(path, url, **options)


def sync_experiment(run_id: str, tags: Mapping[str, str], **options: Any) -> int | None:
    """Queue a run's tags and note; see ``OfflineClient.sync_experiment``."""
    return get_client().sync_experiment(run_id, tags, **options)


__all__ = [
    "ClientError",
    "OfflineClient",
    "call_api",
    "get_client",
    "log_metrics",
    "push_adapter",
    "sync_experiment",
    "upload_file",
]
