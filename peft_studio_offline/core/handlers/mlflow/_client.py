"""A small async client for the parts of MLflow's REST API that the handlers use.

It wraps an ``httpx.AsyncClient`` owned by someone else (the sync engine keeps one per
worker) and never closes it. Every request carries the operation's ``Idempotency-Key``.
MLflow's answers are translated into :mod:`._errors` at this boundary.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx

from peft_studio_offline.core.handlers.base import MissingSettingError
from peft_studio_offline.core.handlers.httputil import (
    IDEMPOTENCY_HEADER,
    never_reached,
    parse_retry_after,
    plain_text,
)
from peft_studio_offline.core.handlers.mlflow._errors import (
    MlflowError,
    MlflowRequestError,
    MlflowServerError,
    MlflowUnreachableError,
)
from peft_studio_offline.core.outgoing_files import OutgoingFile, open_outgoing_file

TRACKING_API = "/api/2.0/mlflow/"
# The header of the app's own local MLflow endpoint when it refuses the app's deliveries.
LOOP_HEADER = "X-Peft-Studio-Offline-Endpoint"
ARTIFACTS_API = "/api/2.0/mlflow-artifacts/artifacts"
UPLOAD_CHUNK = 1024 * 1024
HISTORY_PAGE = 25_000  # the largest page MLflow's get-history serves
SEARCH_PAGE = 1_000

Json = dict[str, Any]


class MlflowRestClient:
    """Calls one MLflow tracking server; cheap to make, one per operation if need be."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tracking_uri: str,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        idempotency_key: str | None = None,
    ) -> None:
        self.http = http
        self.base_url = tracking_uri.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self.idempotency_key = idempotency_key
        self.requests_sent = 0

    def with_key(self, idempotency_key: str) -> MlflowRestClient:
        """The same server and connection pool, sending another operation's key."""
        return MlflowRestClient(
            self.http,
            self.base_url,
            headers=self.headers,
            timeout=self.timeout,
            idempotency_key=idempotency_key,
        )

    # ------------------------------------------------------------------ tracking

    async def log_batch(
        self,
        run_id: str,
        *,
        metrics: Iterable[Mapping[str, Any]] = (),
        params: Iterable[Mapping[str, str]] = (),
        tags: Iterable[Mapping[str, str]] = (),
    ) -> None:
        body: Json = {"run_id": run_id}
        for name, items in (("metrics", metrics), ("params", params), ("tags", tags)):
            listed = list(items)
            if listed:
                body[name] = listed
        await self.post_json("runs/log-batch", body)

    async def log_batch_raw(self, content: bytes) -> None:
        """Send a log-batch body that the caller encoded (and measured) already."""
        await self._request(
            "POST",
            "runs/log-batch",
            content=content,
            headers={"Content-Type": "application/json"},
        )

    async def get_run(self, run_id: str) -> Json:
        """The run object: ``{"info": {...}, "data": {"metrics", "params", "tags"}}``."""
        answer = await self.get_json("runs/get", {"run_id": run_id})
        run: Json = answer.get("run", {})
        return run

    async def set_tag(self, run_id: str, key: str, value: str) -> None:
        await self.post_json("runs/set-tag", {"run_id": run_id, "key": key, "value": value})

    async def delete_tag(self, run_id: str, key: str) -> None:
        await self.post_json("runs/delete-tag", {"run_id": run_id, "key": key})

    async def update_run(
        self,
        run_id: str,
        *,
        status: str | None = None,
        end_time: int | None = None,
        run_name: str | None = None,
    ) -> Json:
        body: Json = {"run_id": run_id}
        if status is not None:
            body["status"] = status
        if end_time is not None:
            body["end_time"] = end_time
        if run_name is not None:
            body["run_name"] = run_name
        answer = await self.post_json("runs/update", body)
        info: Json = answer.get("run_info", {})
        return info

    async def get_metric_history(self, run_id: str, key: str) -> list[Json]:
        """Every stored point of one metric, all pages."""
        points: list[Json] = []
        token: str | None = None
        while True:
            query: Json = {"run_id": run_id, "metric_key": key, "max_results": HISTORY_PAGE}
            if token:
                query["page_token"] = token
            answer = await self.get_json("metrics/get-history", query)
            points.extend(answer.get("metrics", []))
            token = answer.get("next_page_token")
            if not token:
                return points

    # ------------------------------------------------- experiments and runs (setup)

    async def create_experiment(self, name: str) -> str:
        answer = await self.post_json("experiments/create", {"name": name})
        return str(answer["experiment_id"])

    async def delete_experiment(self, experiment_id: str) -> None:
        await self.post_json("experiments/delete", {"experiment_id": experiment_id})

    async def get_experiment(self, experiment_id: str) -> Json:
        answer = await self.get_json("experiments/get", {"experiment_id": experiment_id})
        experiment: Json = answer.get("experiment", {})
        return experiment

    async def create_run(
        self, experiment_id: str, *, run_name: str | None = None, start_time: int | None = None
    ) -> Json:
        body: Json = {
            "experiment_id": experiment_id,
            "start_time": start_time if start_time is not None else int(time.time() * 1000),
        }
        if run_name is not None:
            body["run_name"] = run_name
        answer = await self.post_json("runs/create", body)
        run: Json = answer["run"]
        return run

    async def delete_run(self, run_id: str) -> None:
        await self.post_json("runs/delete", {"run_id": run_id})

    # ----------------------------------------------------------------- artifacts

    async def upload_artifact(
        self, remote_path: str, source: Path | OutgoingFile, *, chunk_size: int = UPLOAD_CHUNK
    ) -> int:
        """Stream one local file to ``remote_path`` under the artifact proxy; returns its size.

        ``remote_path`` is relative to the proxy's root, e.g.
        ``<experiment_id>/<run_id>/artifacts/adapter/adapter_config.json``. A ``Path`` is
        opened without following links (``open_outgoing_file``); an ``OutgoingFile`` that
        the caller opened and checked is read from where it is and left open.
        """
        if isinstance(source, OutgoingFile):
            return await self._put_artifact(remote_path, source, chunk_size)
        opened = await asyncio.to_thread(open_outgoing_file, source)
        try:
            return await self._put_artifact(remote_path, opened, chunk_size)
        finally:
            opened.close()

    async def _put_artifact(self, remote_path: str, opened: OutgoingFile, chunk_size: int) -> int:
        await asyncio.to_thread(opened.handle.seek, 0)
        await self._request(
            "PUT",
            artifact_url(remote_path),
            content=_read_chunks(opened.handle, chunk_size),
            headers={
                "Content-Length": str(opened.size),
                "Content-Type": "application/octet-stream",
            },
            absolute=True,
        )
        return opened.size

    async def list_artifacts(self, remote_path: str) -> list[Json]:
        """The entries directly under ``remote_path``: ``path``, ``is_dir``, ``file_size``."""
        answer = await self._request(
            "GET", ARTIFACTS_API, params={"path": remote_path}, absolute=True
        )
        files: list[Json] = answer.get("files", [])
        return files

    # ------------------------------------------------------------ model registry

    async def create_registered_model(self, name: str) -> bool:
        """Create the registered model; False when it existed already (not an error)."""
        try:
            await self.post_json("registered-models/create", {"name": name})
        except MlflowRequestError as exc:
            if exc.error_code == "RESOURCE_ALREADY_EXISTS":
                return False
            raise
        return True

    async def create_model_version(
        self,
        name: str,
        source: str,
        *,
        run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
    ) -> Json:
        body: Json = {"name": name, "source": source}
        if run_id is not None:
            body["run_id"] = run_id
        if tags:
            body["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        if description is not None:
            body["description"] = description
        answer = await self.post_json("model-versions/create", body)
        version: Json = answer["model_version"]
        return version

    async def search_model_versions(self, filter_string: str) -> list[Json]:
        """Every model version matching an MLflow search filter, all pages."""
        versions: list[Json] = []
        token: str | None = None
        while True:
            query: Json = {"filter": filter_string, "max_results": SEARCH_PAGE}
            if token:
                query["page_token"] = token
            answer = await self.get_json("model-versions/search", query)
            versions.extend(answer.get("model_versions", []))
            token = answer.get("next_page_token")
            if not token:
                return versions

    # ------------------------------------------------------------------- plumbing

    async def post_json(self, endpoint: str, body: Mapping[str, Any]) -> Json:
        return await self._request("POST", endpoint, json=dict(body))

    async def get_json(self, endpoint: str, params: Mapping[str, Any]) -> Json:
        return await self._request("GET", endpoint, params=dict(params))

    async def _request(
        self,
        method: str,
        endpoint: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | AsyncIterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        absolute: bool = False,
    ) -> Json:
        url = self.base_url + (endpoint if absolute else TRACKING_API + endpoint)
        all_headers = {**self.headers, **(headers or {})}
        if self.idempotency_key:
            all_headers[IDEMPOTENCY_HEADER] = self.idempotency_key
        self.requests_sent += 1
        try:
            response = await self.http.request(
                method,
                url,
                json=json,
                params=params,
                content=content,
                headers=all_headers,
                timeout=self.timeout,
            )
        except httpx.TimeoutException as exc:
            raise MlflowUnreachableError(
                f"The MLflow server at {self.base_url} did not answer {method} {endpoint} in time.",
                reached=not never_reached(exc),
                method=method,
                endpoint=endpoint,
            ) from exc
        except httpx.TransportError as exc:
            raise MlflowUnreachableError(
                f"The MLflow server at {self.base_url} cannot be reached ({_describe(exc)}).",
                reached=not never_reached(exc),
                method=method,
                endpoint=endpoint,
            ) from exc
        if response.is_success:
            if _is_web_page(response):
                # MLflow answers in JSON; a page is a captive portal or proxy answering in
                # its place, and what was sent did not reach MLflow.
                raise MlflowServerError(
                    f"Something other than MLflow answered {method} {endpoint} at"
                    f" {self.base_url} with a web page (a captive portal or proxy?); it is"
                    " tried again later.",
                    status_code=response.status_code,
                    method=method,
                    endpoint=endpoint,
                )
            return _json_body(response)
        if LOOP_HEADER in response.headers:
            raise MissingSettingError(
                f"Waiting for an MLflow tracking server: {self.base_url} is this app's own"
                " local MLflow endpoint; set sync.mlflow_tracking_uri (or MLFLOW_TRACKING_URI"
                " where the app runs) to the real server.",
                "sync.mlflow_tracking_uri",
            )
        raise _error_for(response, method, endpoint, self.base_url)


def artifact_url(remote_path: str) -> str:
    """The artifact proxy's URL path for a file, each segment percent-encoded."""
    segments = [quote(part, safe="") for part in remote_path.strip("/").split("/") if part]
    return ARTIFACTS_API + "/" + "/".join(segments)


async def _read_chunks(handle: BinaryIO, chunk_size: int) -> AsyncIterator[bytes]:
    """The file's bytes in chunks, read off the event loop so a slow disk never blocks it."""
    while chunk := await asyncio.to_thread(handle.read, chunk_size):
        yield chunk


def _is_web_page(response: httpx.Response) -> bool:
    kind = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return kind in ("text/html", "application/xhtml+xml")


def _json_body(response: httpx.Response) -> Json:
    if not response.content:
        return {}
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _error_for(response: httpx.Response, method: str, endpoint: str, base_url: str) -> MlflowError:
    status = response.status_code
    body = _json_body(response)
    error_code = body.get("error_code") if isinstance(body.get("error_code"), str) else None
    server_message = body.get("message") if isinstance(body.get("message"), str) else None
    if server_message is None and response.content:
        server_message = response.text.strip()
    if server_message is not None:
        server_message = plain_text(server_message)[:500] or None
    said = f": {server_message}" if server_message else ""
    common: dict[str, Any] = {
        "status_code": status,
        "error_code": error_code,
        "server_message": server_message,
        "method": method,
        "endpoint": endpoint,
    }
    if status >= 500 or status in (408, 429):
        return MlflowServerError(
            f"The MLflow server answered {status} to {method} {endpoint}{said}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            **common,
        )
    if status in (401, 403):
        return MlflowRequestError(
            f"The MLflow server at {base_url} refused the credentials ({status}){said}", **common
        )
    if error_code is None and status == 404:
        return MlflowRequestError(
            f"{base_url} has no MLflow endpoint {endpoint} (404); check the tracking URI.",
            **common,
        )
    code = f" {error_code}" if error_code else ""
    return MlflowRequestError(
        f"The MLflow server refused {method} {endpoint} ({status}{code}){said}", **common
    )


def _describe(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
