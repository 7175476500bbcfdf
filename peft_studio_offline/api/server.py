"""Serving the API with uvicorn on the caller's event loop (the window's, or ``serve``'s)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from peft_studio_offline.api.app import PREFIX, create_app
from peft_studio_offline.api.discovery import (
    read_server_info,
    remove_server_info,
    server_file,
    write_server_info,
)
from peft_studio_offline.api.token import load_or_create_token
from peft_studio_offline.core.errors import PeftStudioOfflineError
from peft_studio_offline.core.runtime import Runtime

log = logging.getLogger(__name__)


class ServerError(PeftStudioOfflineError):
    """The API cannot listen where it was asked to."""


class PortInUseError(ServerError):
    """Another program already listens on the port."""


# A connection must deliver a request's headers this soon after it opens (or after the
# previous answer): a client that sends them a byte at a time cannot hold it forever.
HEADER_TIMEOUT = 10.0
# Connections and requests at once; beyond it, uvicorn answers 503 at once.
MAX_CONNECTIONS = 128


class _HeaderDeadline(HttpToolsProtocol):
    """uvicorn's HTTP/1.1 protocol (its httptools one) with a deadline for each request's
    headers.

    uvicorn times out idle kept-alive connections only until their first byte: a request
    whose headers never end was held open without limit. A request has arrived when the
    protocol's current request cycle changes.
    """

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline(None)

    def on_response_complete(self) -> None:
        finished = self.cycle  # a pipelined request may start inside the call below
        super().on_response_complete()
        self._arm_header_deadline(finished)

    def connection_lost(self, exc: Exception | None) -> None:
        deadline = getattr(self, "_header_deadline", None)
        if deadline is not None:
            deadline.cancel()
        super().connection_lost(exc)

    def _arm_header_deadline(self, waiting_after: object) -> None:
        """Close the connection unless a request after ``waiting_after`` starts in time."""
        previous = getattr(self, "_header_deadline", None)
        if previous is not None:
            previous.cancel()
        self._header_deadline = self.loop.call_later(
            HEADER_TIMEOUT, self._on_header_deadline, waiting_after
        )

    def _on_header_deadline(self, waiting_after: object) -> None:
        if self.cycle is waiting_after and not self.transport.is_closing():
            self.transport.close()


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
        tls_cert: str | Path | None = None,
        tls_key: str | Path | None = None,
        advertise: bool = True,
    ) -> None:
        settings = runtime.settings
        # False: no discovery file, so that no other program relies on a server this short-lived.
        self.advertise = advertise
        self.runtime = runtime
        self.host = host if host is not None else settings.api.host
        self.port = settings.api.port if port is None else port
        check_host(self.host, allow_remote)
        self.tls = check_tls(tls_cert, tls_key)
        if not 0 <= self.port <= 65535:
            raise ServerError(f"The port must be between 0 and 65535, not {self.port}.")
        self.token_file = settings.paths.token_file
        self.token = token if token is not None else load_or_create_token(self.token_file)
        self.app = create_app(runtime, self.token, bind_host=self.host)
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
        self.url = f"{'https' if self.tls else 'http'}://{shown_host}:{bound_port}"
        config = uvicorn.Config(
            self.app,
            http=_HeaderDeadline,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
            limit_concurrency=MAX_CONNECTIONS,
            ws="none",
            ssl_certfile=None if self.tls is None else str(self.tls[0]),
            ssl_keyfile=None if self.tls is None else str(self.tls[1]),
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
        if not self.advertise:
            pass  # a server of one command's own (``run``): clients must not rely on it
        elif read_server_info(self._discovery) is None:
            write_server_info(self._discovery, self.url)
        else:
            # Another process serves this data directory and clients find it; a second
            # server must not take that over and then, when it stops, leave clients none.
            log.info("Another process already serves this data folder; clients keep using it.")
        log.info("The API listens on %s%s", self.url, PREFIX)
        if not is_loopback(self.host) and self.tls is None:
            log.warning("%s", remote_warning(self.host, bound_port).removeprefix("Warning: "))
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


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return host.lower() == "localhost"


def remote_warning(host: str, port: int) -> str:
    """What listening beyond this machine means, and the safe ways to do it."""
    return (
        f"Warning: the API listens on {host}:{port} over plain HTTP. Anyone who can see the"
        " network traffic can read the token and then use the queue, and through it make"
        " this machine send requests to the services it syncs with. To reach the API from"
        f" another machine safely, keep it on 127.0.0.1 and use an SSH tunnel (ssh -N -L"
        f" {port}:127.0.0.1:{port} this-machine) or put a TLS reverse proxy in front of it,"
        " or serve HTTPS yourself with --tls-cert and --tls-key."
    )


def check_tls(cert: str | Path | None, key: str | Path | None) -> tuple[Path, Path] | None:
    """The certificate and key to serve HTTPS with (None: plain HTTP), checked now."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise ServerError("HTTPS needs both a certificate (--tls-cert) and its key (--tls-key).")
    cert_path, key_path = Path(cert).expanduser(), Path(key).expanduser()
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert_path, key_path)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
        raise ServerError(
            f"The certificate {cert_path} with the key {key_path} cannot be used ({reason})."
        ) from exc
    return cert_path, key_path


def check_host(host: str, allow_remote: bool) -> None:
    """Refuse anything but a loopback address unless the user allowed it explicitly."""
    if allow_remote:
        return
    if not is_loopback(host):
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
