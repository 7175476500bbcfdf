"""Where MLflow operations go, and with which credentials.

The tracking URI comes from the settings the engine was built with (``sync.
mlflow_tracking_uri``, which ``MLFLOW_TRACKING_URI`` overrides when the settings are loaded),
unless a handler is given one explicitly. MLflow's own credential variables
(``MLFLOW_TRACKING_TOKEN``, or ``MLFLOW_TRACKING_USERNAME`` with ``MLFLOW_TRACKING_PASSWORD``)
are read when the handler is created; a token named in ``credentials.mlflow_token`` comes
from the system keyring and wins over them.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

from peft_studio_offline.core.handlers.base import HandlerContext, MissingSettingError
from peft_studio_offline.core.handlers.httputil import host_of, missing_secret
from peft_studio_offline.core.handlers.mlflow._client import MlflowRestClient
from peft_studio_offline.core.handlers.mlflow._errors import MlflowConfigurationError
from peft_studio_offline.core.mlflow_local import RemoteIds
from peft_studio_offline.core.mlflow_local._artifacts import staging_root_for
from peft_studio_offline.core.operation import Operation
from peft_studio_offline.core.upload_roots import sendable_roots

TOKEN_VARIABLE = "MLFLOW_TRACKING_TOKEN"
USERNAME_VARIABLE = "MLFLOW_TRACKING_USERNAME"
PASSWORD_VARIABLE = "MLFLOW_TRACKING_PASSWORD"


class TrackingTarget:
    """Builds the REST client for one attempt from the handler context."""

    def __init__(
        self, tracking_uri: str | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        self.tracking_uri = tracking_uri.strip() if tracking_uri else None
        self._auth: str | None = None
        token = env.get(TOKEN_VARIABLE, "").strip()
        user = env.get(USERNAME_VARIABLE, "")
        if token:
            self._auth = f"Bearer {token}"
        elif user:
            pair = f"{user}:{env.get(PASSWORD_VARIABLE, '')}".encode()
            self._auth = "Basic " + base64.b64encode(pair).decode("ascii")

    def uri(self, context: HandlerContext) -> str:
        uri = self.tracking_uri or context.mlflow_tracking_uri.strip()
        if not uri:
            raise MissingSettingError(
                "Waiting for an MLflow tracking server: set sync.mlflow_tracking_uri"
                " (File → Settings or settings.toml) or MLFLOW_TRACKING_URI, and it is"
                " sent then.",
                "sync.mlflow_tracking_uri",
            )
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise MlflowConfigurationError(
                f"The MLflow tracking URI {uri!r} is not an http(s) URL of a tracking server."
            )
        return uri

    def host(self, context: HandlerContext) -> str | None:
        try:
            return host_of(self.uri(context))
        except (MlflowConfigurationError, MissingSettingError):
            return None

    def client(self, context: HandlerContext, idempotency_key: str) -> MlflowRestClient:
        uri = self.uri(context)  # the target first: it is what a new user sets first
        headers: dict[str, str] = {}
        auth = self._auth
        name = context.settings.credentials.mlflow_token
        if name:
            token = context.credential(name)
            if not token:
                raise missing_secret(name, "credentials.mlflow_token")
            auth = f"Bearer {token}"
        if auth:
            headers["Authorization"] = auth
        return MlflowRestClient(
            context.client,
            uri,
            headers=headers,
            timeout=context.timeout,
            idempotency_key=idempotency_key,
        )


class TrackingHandler:
    """What every MLflow handler shares: a tracking target, and the host the engine paces."""

    def __init__(
        self, *, tracking_uri: str | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.tracking = TrackingTarget(tracking_uri, environ)
        self.ids: RemoteIds | None = None
        self.staging: Path | None = None  # where the local endpoint keeps artifacts

    def bind_queue(self, queue: object) -> None:
        """Map the local ids of runs made through the local endpoint of ``queue``'s file."""
        db_path = getattr(queue, "db_path", None)
        if isinstance(db_path, Path):
            self.release_queue()
            self.ids = RemoteIds(db_path)
            self.staging = staging_root_for(db_path)

    def upload_roots(self, context: HandlerContext) -> tuple[str, ...]:
        """The folders files may leave from: the user's, and the app's own staged artifacts
        (copies the local endpoint made of what a script logged), when the user set any."""
        return sendable_roots(context.settings, *([self.staging] if self.staging else []))

    def release_queue(self) -> None:
        """Close the local record opened by ``bind_queue`` (the engine closes)."""
        if self.ids is not None:
            self.ids.close()

    def target(self, operation: Operation, context: HandlerContext) -> str | None:
        return self.tracking.host(context)
