"""The local HTTP API over the core (FastAPI, served by uvicorn on 127.0.0.1).

This is the API package's face: the window, the command line, the training client and the
self-test use only the names below (an import-linter contract holds them to it). Each name
is imported from its module on first use, so that a training script that only looks for a
serving app (``read_server_info``, ``read_token``) never loads the web stack; the imports
under ``TYPE_CHECKING`` name every such arrow for type checkers and import-linter.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from peft_studio_offline._lazy import lazy_names

if TYPE_CHECKING:
    from peft_studio_offline.api.app import PREFIX, create_app
    from peft_studio_offline.api.discovery import ServerInfo, read_server_info, server_file
    from peft_studio_offline.api.server import (
        ApiServer,
        PortInUseError,
        ServerError,
        is_loopback,
        remote_warning,
        start_api,
    )
    from peft_studio_offline.api.token import TokenFileError, load_or_create_token, read_token

_LAZY = {
    "PREFIX": "peft_studio_offline.api.app",
    "create_app": "peft_studio_offline.api.app",
    "ServerInfo": "peft_studio_offline.api.discovery",
    "read_server_info": "peft_studio_offline.api.discovery",
    "server_file": "peft_studio_offline.api.discovery",
    "ApiServer": "peft_studio_offline.api.server",
    "PortInUseError": "peft_studio_offline.api.server",
    "ServerError": "peft_studio_offline.api.server",
    "is_loopback": "peft_studio_offline.api.server",
    "remote_warning": "peft_studio_offline.api.server",
    "start_api": "peft_studio_offline.api.server",
    "TokenFileError": "peft_studio_offline.api.token",
    "load_or_create_token": "peft_studio_offline.api.token",
    "read_token": "peft_studio_offline.api.token",
}

__all__ = [
    "PREFIX",
    "ApiServer",
    "PortInUseError",
    "ServerError",
    "ServerInfo",
    "TokenFileError",
    "create_app",
    "is_loopback",
    "load_or_create_token",
    "load_server",
    "read_server_info",
    "read_token",
    "remote_warning",
    "server_file",
    "start_api",
]


def load_server() -> None:
    """Import the server and the web stack now (the window does it on a worker thread, so
    that starting the API later does not hold up its event loop)."""
    importlib.import_module(_LAZY["ApiServer"])


__getattr__, __dir__ = lazy_names(__name__, _LAZY, globals(), __all__)
