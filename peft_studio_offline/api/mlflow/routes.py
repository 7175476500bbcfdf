"""The HTTP side of the local MLflow endpoint: requests in, MLflow's answers out.

``MLFLOW_TRACKING_URI=http://HOST:PORT/mlflow`` makes MLflow's client call
``/mlflow/api/2.0/mlflow/<endpoint>`` (and the web UI's ``ajax-api`` variant); the bearer
token is checked for these paths as for every other. All the rules live in the core's
``LocalTracking``; this module only reads the request and writes the answer.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from peft_studio_offline.api.deps import runtime_of
from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.mlflow_endpoint import TrackingError

log = logging.getLogger(__name__)

MLFLOW_PREFIX = "/mlflow"
_API_ROOTS = ("/api/2.0/mlflow/", "/ajax-api/2.0/mlflow/")

router = APIRouter(prefix=MLFLOW_PREFIX, include_in_schema=False)


async def _tracking(request: Request, endpoint: str) -> Response:
    try:
        body = await _request_of(request)
        answer = await runtime_of(request).mlflow.call(endpoint, body)
    except TrackingError as exc:
        return JSONResponse(exc.body(), exc.status_code)
    except PeftStudioOfflineError as exc:  # the queue is full, locked, the disk full...
        log.warning("The local MLflow endpoint could not store a call: %s", exc)
        return JSONResponse({"error_code": "TEMPORARILY_UNAVAILABLE", "message": str(exc)}, 503)
    return JSONResponse(answer)


async def _request_of(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query_params)
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise TrackingError("MALFORMED_REQUEST", "The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise TrackingError("MALFORMED_REQUEST", "The request body must be a JSON object.")
    return data


ARTIFACTS_ROOTS = (
    "/api/2.0/mlflow-artifacts/artifacts",
    "/ajax-api/2.0/mlflow-artifacts/artifacts",
)
# Artifact bodies are streamed to disk by the route, not held back by the body limit.
ARTIFACT_PREFIXES = tuple(MLFLOW_PREFIX + root + "/" for root in ARTIFACTS_ROOTS)


async def _artifact(request: Request) -> Response:
    tracking = runtime_of(request).mlflow
    path = request.path_params.get("artifact", "")
    try:
        if request.method == "PUT":
            return JSONResponse(await tracking.put_artifact(path, request.stream()))
        if not path:  # a listing: the folder is in the query
            listed = request.query_params.get("path", "")
            return JSONResponse(await tracking.list_artifacts(listed))
        return FileResponse(await tracking.artifact_file(path))
    except TrackingError as exc:
        return JSONResponse(exc.body(), exc.status_code)
    except PeftStudioOfflineError as exc:
        log.warning("The local MLflow endpoint could not store an artifact: %s", exc)
        return JSONResponse({"error_code": "TEMPORARILY_UNAVAILABLE", "message": str(exc)}, 503)


def _add_routes() -> None:
    for artifacts in ARTIFACTS_ROOTS:
        router.add_api_route(artifacts, _artifact, methods=["GET"])
        router.add_api_route(artifacts + "/{artifact:path}", _artifact, methods=["GET", "PUT"])
    for root in _API_ROOTS:

        async def route(request: Request, endpoint: str) -> Response:
            return await _tracking(request, endpoint)

        router.add_api_route(
            root + "{endpoint:path}", route, methods=["GET", "POST", "PATCH", "DELETE"]
        )


_add_routes()
