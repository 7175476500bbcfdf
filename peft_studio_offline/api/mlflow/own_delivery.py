"""Refuse the app's own deliveries when its MLflow target is its own local endpoint.

The MLflow handlers send an ``Idempotency-Key`` with every request, and MLflow's client
never does: such a request under ``/mlflow`` means ``sync.mlflow_tracking_uri`` (or
``MLFLOW_TRACKING_URI`` where the app runs, e.g. after ``eval "$(peft-studio-offline
mlflow-env)"``) points at this endpoint. Taking it would queue it again, for ever. It is
refused before anything else (the token included, which the app would not send to itself),
changing nothing; the handler sees ``LOOP_HEADER`` and waits for the setting.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Receive, Scope, Send

from peft_studio_offline.core.handlers.httputil import IDEMPOTENCY_HEADER
from peft_studio_offline.core.handlers.mlflow import LOOP_HEADER

_KEY = IDEMPOTENCY_HEADER.lower().encode("ascii")
_BODY = json.dumps(
    {
        "error_code": "INVALID_PARAMETER_VALUE",
        "message": "This is PEFT Studio Offline's local MLflow endpoint, not a tracking server:"
        " set sync.mlflow_tracking_uri to the real MLflow server.",
    }
).encode()


class OwnDeliveryMiddleware:
    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and str(scope.get("path", "")).startswith(self.prefix + "/")
            and any(name == _KEY for name, _ in scope.get("headers") or [])
        ):
            await send(
                {
                    "type": "http.response.start",
                    "status": 409,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_BODY)).encode()),
                        (LOOP_HEADER.lower().encode("ascii"), b"refused"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _BODY})
            return
        await self.app(scope, receive, send)
