"""Where pushes to the Hugging Face Hub go, and with which token.

The endpoint is ``sync.huggingface_endpoint`` (``HF_ENDPOINT`` overrides it when the settings
are loaded). The token is the secret named in ``credentials.huggingface_token``, kept in the
credential store; without that name, ``HF_TOKEN`` as the handler found it when it was made.
The library's own saved login is never used: what is sent is what the settings say. Either
one missing makes the operation wait for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlsplit

from peft_studio_offline.core.handlers.base import HandlerContext, MissingSettingError
from peft_studio_offline.core.handlers.httputil import host_of, missing_secret

TOKEN_VARIABLE = "HF_TOKEN"


class HubConfigurationError(Exception):
    """The configured endpoint cannot be used as it is."""


class HubTarget:
    def __init__(
        self, endpoint: str | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        env = os.environ if environ is None else environ
        self.endpoint = endpoint.strip().rstrip("/") if endpoint else None
        self._env_token = env.get(TOKEN_VARIABLE, "").strip() or None

    def url(self, context: HandlerContext) -> str:
        url = (self.endpoint or context.settings.sync.huggingface_endpoint.strip()).rstrip("/")
        if not url:
            raise MissingSettingError(
                "Waiting for a Hugging Face Hub endpoint: set sync.huggingface_endpoint"
                " (File → Settings or settings.toml) or HF_ENDPOINT, and it is pushed then.",
                "sync.huggingface_endpoint",
            )
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise HubConfigurationError(f"The Hugging Face endpoint {url!r} is not an http(s) URL.")
        return url

    def host(self, context: HandlerContext) -> str | None:
        try:
            return host_of(self.url(context))
        except (HubConfigurationError, MissingSettingError):
            return None

    def token(self, context: HandlerContext) -> str:
        name = context.settings.credentials.huggingface_token
        if name:
            token = context.credential(name)
            if not token:
                raise missing_secret(name, "credentials.huggingface_token")
            return token
        if self._env_token:
            return self._env_token
        raise MissingSettingError(
            "Waiting for a Hugging Face token: name one in credentials.huggingface_token and"
            " enter its secret in File → Settings (or set HF_TOKEN), and it is pushed then.",
            "credentials.huggingface_token",
        )
