"""How failures become HTTP answers: a status and one sentence, never a traceback."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from peft_studio_offline.core.errors import (
    InvalidOperationError,
    InvalidStateError,
    OperationNotFoundError,
    PeftStudioOfflineError,
    QueueFullError,
    QueueLockedError,
    StorageFullError,
    UploadNotAllowedError,
)
from peft_studio_offline.core.sealing import SecretsUnavailableError
from peft_studio_offline.core.transfer import TransferError

log = logging.getLogger(__name__)

_LOCATIONS = ("body", "query", "path", "header", "cookie")


class ApiError(Exception):
    """An answer decided by a route: a status, a sentence and maybe the field at fault."""

    def __init__(self, status_code: int, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status_code = status_code
        self.detail = detail
        self.field = field


def error_response(
    status_code: int, detail: str, field: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "field": field}, status_code, headers=headers)


def describe_validation(errors: Sequence[Any]) -> tuple[str, str | None]:
    """The first problem of a validation failure as (sentence, field name)."""
    if not errors:
        return "The request is not valid.", None
    error = errors[0]
    kind = str(error.get("type", ""))
    location = [str(part) for part in error.get("loc", ())]
    where = location[0] if location and location[0] in _LOCATIONS else "body"
    parts = location[1:] if location and location[0] in _LOCATIONS else location
    if kind == "json_invalid":
        return "The request body is not valid JSON.", None
    if kind == "missing" and not parts:
        return "The request needs a JSON body.", None
    field = ".".join(parts) if parts else None
    message = str(error.get("msg", "is not valid")).rstrip(".")
    if kind == "extra_forbidden":
        return f"Unknown field '{field}' in the request {where}.", field
    if kind == "missing":
        return f"The field '{field}' is required in the request {where}.", field
    if field is None:
        return f"The request {where} is not valid: {message}.", None
    return f"The field '{field}' is not valid: {message}.", field


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        if not is_json(request.headers.get("content-type")):
            return error_response(
                415, "Send the request body as JSON, with Content-Type: application/json."
            )
        detail, field = describe_validation(exc.errors())
        return error_response(422, detail, field)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status_code, exc.detail, exc.field)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "The request failed."
        if exc.status_code == 404 and detail == "Not Found":
            bad_id = id_that_is_not_a_number(request)
            if bad_id is not None:
                return error_response(
                    422, f"'{bad_id}' is not an operation id (a number).", field="id"
                )
            detail = f"There is no endpoint at {request.url.path}."
        if exc.status_code == 400 and isinstance(exc.__cause__, RecursionError):
            detail = "The request body is nested too deeply to read."
        elif exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "The request body could not be read as JSON."
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(exc.status_code, detail, headers=headers)

    @app.exception_handler(PeftStudioOfflineError)
    async def _known(request: Request, exc: PeftStudioOfflineError) -> JSONResponse:
        status, headers = status_for(exc), None
        if status == 503:
            headers = {"Retry-After": "2"}
        if status >= 500:
            log.warning("%s %s failed: %s", request.method, request.url.path, exc)
        return error_response(status, str(exc), getattr(exc, "field", None), headers=headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed unexpectedly", request.method, request.url.path)
        return error_response(500, "The server failed unexpectedly; the log has the details.")


def is_json(content_type: str | None) -> bool:
    """True for a JSON media type, or none given (FastAPI then reads the body as JSON)."""
    if not content_type:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def allowed_methods(request: Request) -> list[str]:
    """Every method the OpenAPI document lists for this path (Starlette names only one route's)."""
    methods: set[str] = set()
    for numeric, _, listed in _path_table(request):
        if numeric.match(request.url.path):
            methods |= listed
    return sorted(methods)


def id_that_is_not_a_number(request: Request) -> str | None:
    """The id segment of a path that fits a route except that its id is not a number."""
    for _, any_segment, _ in _path_table(request):
        found = any_segment.match(request.url.path)
        if found is not None:
            return next((part for part in found.groups() if not part.isdigit()), None)
    return None


_PathTable = list[tuple[re.Pattern[str], re.Pattern[str], set[str]]]


def _path_table(request: Request) -> _PathTable:
    """Each path of the OpenAPI document: (regex with numeric ids, regex with any id, methods)."""
    table: _PathTable | None = getattr(request.app.state, "path_table", None)
    if table is None:
        table = []
        for template, item in request.app.openapi().get("paths", {}).items():
            # Every path parameter of this API is an id (an ``:int`` route).
            numeric = re.sub(r"\\{[^}]+\\}", "[0-9]+", re.escape(template))
            any_segment = re.sub(r"\\{[^}]+\\}", "([^/]+)", re.escape(template))
            methods = {m.upper() for m in item}
            table.append((re.compile(f"^{numeric}$"), re.compile(f"^{any_segment}$"), methods))
        request.app.state.path_table = table
    return table


def status_for(exc: PeftStudioOfflineError) -> int:
    if isinstance(exc, OperationNotFoundError):
        return 404
    if isinstance(exc, QueueFullError | InvalidStateError):
        return 409
    if isinstance(exc, UploadNotAllowedError):
        return 403
    if isinstance(exc, TransferError):  # a damaged bundle or receipt: the input is at fault
        return 422
    if isinstance(exc, InvalidOperationError):
        return 422
    if isinstance(exc, QueueLockedError | SecretsUnavailableError):
        return 503  # the keyring may answer again: the client keeps the operation and retries
    if isinstance(exc, StorageFullError):
        return 507
    return 500
