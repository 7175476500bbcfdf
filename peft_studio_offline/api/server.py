"""Serving the API with uvicorn on the caller's event loop (the window's, or ``serve``'s)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn

from peft_studio_offline.api.app import PREFIX, create_app
from peft_studio_offline.api.discovery import remove_server_info, server_file, write_server_info
from peft_studio_offline.api.token import load_or_create_token
from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.runtime import Runtime

log = logging.getLogger(__name__)


class ServerError(PeftStudioOfflineError):
    """The API cannot listen where it was asked to."""


class PortInUseError(ServerError):
    """Another program already listens on the port."""


class _QuietServer(uvicorn.Server):
    """A uvicorn server that leaves signal handling to the program that runs it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """The local HTTP API of one runtime, on the running event loop.

    ``await start()`` binds (127.0.0.1 unless ``allow_remote``), serves in a task and writes
    the discovery file that lets training scripts find it; ``await stop()`` undoes it all.
    """

    def __init__(
        self,
        runtime: Runtime,
        *,
        host: str | None = None,
        port: int | None = None,
        allow_remote: bool = False,
        token: str | None = None,
        advertise: bool = True,
    ) -> None:
        settings = runtime.settings
        # False: no discovery file, so that no other program relies on a server this short-lived.
        self.advertise = advertise
        self.runtime = runtime
        self.host = host if host is not None else settings.api.host
        self.port = settings.api.port if port is None else port
        check_host(self.host, allow_remote)
        if not 0 <= self.port <= 65535:
            raise ServerError(f"The port must be between 0 and 65535, not {self.port}.")
        self.token_file = settings.paths.token_file
        self.token = token if token is not None else load_or_create_token(self.token_file)
        self.app = create_app(runtime, self.token)
        self._server: _QuietServer | None = None
        self._task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self._discovery: Path = server_file(settings.paths.data_dir)
        self.url = ""

    async def start(self) -> str:
        """Listen and serve; returns the base URL (``http://host:port``)."""
        sock = bind_socket(self.host, self.port)
        bound_port = sock.getsockname()[1]
        shown_host = f"[{self.host}]" if ":" in self.host else self.host
        self.url = f"http://{shown_host}:{bound_port}"
        config = uvicorn.Config(
            self.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            ws="none",
        )
        self._server = _QuietServer(config)
        self._socket = sock
        self._task = asyncio.get_running_loop().create_task(
            self._server.serve(sockets=[sock]), name="api-server"
        )
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise ServerError("The API server stopped while it was starting.")
            await asyncio.sleep(0.01)
        if self.advertise:
            write_server_info(self._discovery, self.url)
        log.info("The API listens on %s%s", self.url, PREFIX)
        return self.url

    async def stop(self) -> None:
        """Close the event streams, stop serving and forget the discovery file."""
        remove_server_info(self._discovery)
        self.app.state.event_hub.close()
        if self._server is not None:
            self._server.should_exit = True
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    async def wait_closed(self) -> None:
        """Wait until the server stops (``stop()`` or a fatal error)."""
        if self._task is not None:
            await asyncio.shield(self._task)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse anything but a loopback address unless the user allowed it explicitly."""
    if allow_remote:
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost"
    if not loopback:
        raise ServerError(
            f"The API listens on loopback only; to listen on {host}, add --allow-remote"
            " (anyone who can reach it and holds the token can then use the queue)."
        )


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening socket, or ``PortInUseError`` that says where to choose another port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Naming the protocol matters: asyncio sets TCP_NODELAY on accepted connections only
    # when the socket says IPPROTO_TCP. Without it every request after the first on a
    # kept-alive connection waited ~40 ms (Nagle's algorithm meeting delayed ACKs).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited on Linux
        if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: no port sharing
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
        else:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno in (errno.EADDRINUSE, getattr(errno, "WSAEADDRINUSE", -1)):
            raise PortInUseError(
                f"Port {port} on {host} is already in use; choose another with --port, or set"
                " api.port in settings.toml (0 picks a free port)."
            ) from exc
        raise ServerError(f"The API cannot listen on {host}:{port} ({exc.strerror}).") from exc
    return sock


async def start_api(runtime: Runtime, **options: Any) -> ApiServer | None:
    """Start the API for the window: its failure (a taken port) is logged, never fatal.

    ``options`` go to ``ApiServer`` (``host``, ``port``, ``allow_remote``). Returns the
    running server, or None when it could not listen; the reason is in the log.
    """
    try:
        server = ApiServer(runtime, **options)
        await server.start()
    except ServerError as exc:
        log.warning("The local API is off: %s", exc)
        return None
    return server
