"""The FastAPI application over one runtime."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from peft_studio_offline.api.auth import TokenMiddleware
from peft_studio_offline.api.body_limit import BodyLimitMiddleware
from peft_studio_offline.api.errors import install_error_handlers
from peft_studio_offline.api.hosts import HostCheckMiddleware
from peft_studio_offline.api.mlflow import ARTIFACT_PREFIXES, MLFLOW_PREFIX
from peft_studio_offline.api.mlflow import router as mlflow_router
from peft_studio_offline.api.mlflow.own_delivery import OwnDeliveryMiddleware
from peft_studio_offline.api.routes import events, queue, sync, transfer
from peft_studio_offline.api.routes.events import EventHub
from peft_studio_offline.api.schemas import ErrorOut
from peft_studio_offline.core.runtime import Runtime

PREFIX = "/api/offline"
OPENAPI_PATH = f"{PREFIX}/openapi.json"

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "The request body cannot be read."},
    401: {"model": ErrorOut, "description": "Missing or wrong bearer token."},
    404: {"model": ErrorOut, "description": "No such operation."},
    409: {"model": ErrorOut, "description": "Not possible in the operation's current status."},
    413: {"model": ErrorOut, "description": "The request body is too large."},
    422: {"model": ErrorOut, "description": "The request is not valid; `field` names the culprit."},
}


def create_app(runtime: Runtime, token: str, *, bind_host: str | None = None) -> FastAPI:
    """The app serving ``runtime``; every request must carry ``Bearer <token>``.

    ``bind_host`` is the address the API listens on: requests must be addressed to it or
    to a loopback name (see ``hosts.py``). The app does not own the runtime: whoever built
    it starts and closes it.
    """
    from peft_studio_offline._version import __version__

    app = FastAPI(
        title="PEFT Studio Offline",
        version=__version__,
        description="The offline queue, network status and sync engine of PEFT Studio Offline."
        " Every request needs `Authorization: Bearer <token>` (the token is in the file"
        " `api-token` in the data directory).",
        openapi_url=OPENAPI_PATH,
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = runtime
    app.state.event_hub = EventHub()
    for module in (queue, sync, transfer):
        app.include_router(module.router, prefix=PREFIX, responses=_ERRORS)
    app.include_router(events.router, prefix=PREFIX, responses={401: _ERRORS[401]})
    app.include_router(mlflow_router)  # MLflow's tracking API for unchanged scripts
    install_error_handlers(app)
    # The last added runs first: the token is checked before any body is read.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=runtime.settings.api.max_request_bytes,
        streamed_prefixes=ARTIFACT_PREFIXES,
    )
    app.add_middleware(TokenMiddleware, token=token)
    app.add_middleware(OwnDeliveryMiddleware, prefix=MLFLOW_PREFIX)
    app.add_middleware(HostCheckMiddleware, bind_host=bind_host)  # outermost: runs first

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schema.setdefault("components", {})["securitySchemes"] = {
                "bearerAuth": {"type": "http", "scheme": "bearer"}
            }
            schema["security"] = [{"bearerAuth": []}]
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
